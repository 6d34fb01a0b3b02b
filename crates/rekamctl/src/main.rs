//! rekamctl: the technician's command-line client of rekamd, the KTP-el enrollment station
//! daemon. It lists and watches the station's devices, runs their self-tests, captures
//! fingerprints, faces and signatures, prints and encodes test cards, runs a demo
//! enrollment through the whole procedure and injects simulator faults — all over rekamd's
//! public gRPC API (`rekam-api`), on rekamd's Unix socket or a TCP address.
//!
//! Exit codes: 0 on success, 1 on any failure (daemon unreachable, a gRPC error printed as
//! `error: <CODE>: <message>`, a failed self-test, a failed print job, a mismatching chip
//! file), 2 on a usage error.
//!
//! The offline commands (`wsq`, `record info`, `score`, `minutiae`, `match`, `segment`) work
//! on files with the workspace's format crates and need no daemon: WSQ encoding and decoding,
//! the headers of ISO/IEC 19794 records, ICAO DG7 and ANSI/NIST-ITL transactions, fingerprint
//! quality, minutiae, matching and slap segmentation (`src/offline/`).
//!
//! With `--json`, a command prints one JSON document on stdout (one per line for `watch`)
//! instead of text; progress bars and spinners go to stderr and only when it is a terminal.
//! The shapes are documented on each command (`rekamctl help <command>`) and in
//! `src/cmd/*.rs`; enum values are the protobuf names without their type prefix
//! (`READY`, `FINGERPRINT_SCANNER`, `HANDED_OVER`), byte strings are lower-case hex, times
//! are RFC 3339 UTC.

mod cmd;
mod conn;
mod names;
mod offline;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use rekam_api::pb::{FingerPosition, MissingFinger};

use conn::{Ctx, Target, default_socket_path};

/// The technician's CLI of rekamd, the KTP-el enrollment station daemon.
#[derive(Debug, Parser)]
#[command(name = "rekamctl", version, about, long_about = None)]
pub struct Cli {
    /// rekamd's Unix socket [default: $REKAM_SOCKET, else $XDG_RUNTIME_DIR/rekam/rekamd.sock,
    /// else /tmp/rekam-<uid>/rekamd.sock].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Reach rekamd over TCP instead of the socket, e.g. http://127.0.0.1:50051, or
    /// https://station-7:50051 when rekamd has [server.tls].
    #[arg(long, global = true, value_name = "URL", env = "REKAM_ADDR")]
    pub addr: Option<String>,
    /// For an https:// --addr: the CA certificate (PEM) that signed rekamd's certificate.
    #[arg(long, global = true, value_name = "PEM", env = "REKAM_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// For an https:// --addr to a rekamd with client_ca: this client's certificate (PEM).
    #[arg(long, global = true, value_name = "PEM", env = "REKAM_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The key (PEM) of --tls-cert.
    #[arg(long, global = true, value_name = "PEM", env = "REKAM_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Deadline of each gRPC call, in seconds (streams included).
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Print JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Sign in as this operator first (the PIN from $REKAM_PIN, else asked on the
    /// terminal) and send the session with every call. Needed over TCP, and on the socket
    /// when rekamd requires sign-in.
    #[arg(long, global = true, value_name = "ID", env = "REKAM_OPERATOR")]
    pub operator: Option<String>,
    /// Send this session token (from `rekamctl signin`) with every call.
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "REKAM_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `rekamctl card` does with the chip.
#[derive(Debug, Subcommand)]
pub enum CardAction {
    /// Reads the chip's profile (EF.COM, data groups, EF.SOD) and shows each file; with
    /// `-o DIR`, writes each file there as `<fid>.bin` (e.g. `0102.bin`).
    ///
    /// JSON: {"uid","files":[{"file_id","name","size","sha256"}]}.
    Read {
        /// Folder to write the files to (created if missing).
        #[arg(short = 'o', long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Reads the chip's profile and verifies it against the station's issuer CA: every
    /// data group's hash, the security object's signature, the signer's chain. Exit 1 when
    /// the chip does not verify (a tampered data group is named).
    ///
    /// JSON: {"valid","uid","signature_valid","chain_valid","signer_subject",
    /// "data_groups":[{"number","status"}],"report"}.
    Verify,
    /// Renders an enrollment's card as it would print now, from the station's card
    /// templates (the officer checks it with the applicant before a blank is used); no
    /// printer or chip is touched.
    ///
    /// JSON: {"front","back","front_bytes","back_bytes"}.
    Preview {
        /// The enrollment (its id or "enrollments/ID").
        id: String,
        /// Where to write the front (PNG).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Where to write the back (PNG); not written when omitted.
        #[arg(long, value_name = "FILE")]
        back: Option<PathBuf>,
    },
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the station's devices, their state and what they can do.
    ///
    /// With --available, lists instead what each driver built into rekamd can see now,
    /// with the selector that opens it (what goes in a `[[devices]]` entry of rekamd's
    /// configuration) and the configured device already opened from it.
    ///
    /// JSON: [{"name","class","vendor","model","serial","firmware","driver","state","reason",
    /// "simulated","capabilities":{"kind",...}}]; with --available: [{"class","driver",
    /// "description","simulated","error","devices":[{"selector","description","device"}]}].
    Devices {
        /// List what the drivers can see now instead of the configured devices.
        #[arg(long)]
        available: bool,
    },
    /// Prints device events as they happen, until Ctrl-C.
    ///
    /// JSON: one object per line, {"time","kind","device":{...as in `devices`}}.
    Watch {
        /// Stop after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Start with one event per configured device: ATTACHED when it is connected,
        /// STATE_CHANGED (DISCONNECTED) when not.
        #[arg(long)]
        current: bool,
        /// Resume after this event number (the `seq` of the last event seen); when the
        /// daemon no longer has it, the stream starts with every device's state.
        #[arg(long, value_name = "SEQ")]
        after: Option<u64>,
    },
    /// Runs the self-test of one device or of every device; exit 1 if any failed.
    ///
    /// JSON: [{"device","passed","elapsed_ms","checks":[{"name","outcome","detail"}]}].
    Diag {
        /// The device to test; every device when omitted.
        device: Option<String>,
        /// Also take one capture with each fingerprint scanner tested (place a finger when
        /// asked) and report its size, resolution, quality and time, as the check
        /// "capture".
        #[arg(long)]
        capture: bool,
    },
    /// Captures a fingerprint, a face or a signature into a file.
    #[command(subcommand)]
    Capture(CaptureCommand),
    /// Iris camera commands (an iris camera is present only when configured).
    #[command(subcommand)]
    Iris(IrisCommand),
    /// Prints a card (the printer's test card or given images) and follows the job.
    ///
    /// JSON: the last job status {"name","printer","state","failure","detail",
    /// "progress_percent"}. Exit 1 when the job FAILED or was CANCELLED.
    #[command(group(ArgGroup::new("what").required(true).args(["test_card", "front"])))]
    Print {
        /// Print the printer's built-in test card.
        #[arg(long)]
        test_card: bool,
        /// The front of the card, a PNG (1012 x 638).
        #[arg(long, value_name = "FILE", conflicts_with = "test_card")]
        front: Option<PathBuf>,
        /// The back of the card, a PNG.
        #[arg(
            long,
            value_name = "FILE",
            requires = "front",
            conflicts_with = "test_card"
        )]
        back: Option<PathBuf>,
        /// The printer; the first card printer when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
    /// Reports the printer's cards, ribbon and cover.
    ///
    /// JSON: {"cards_remaining","card_capacity","ribbon_remaining_percent",
    /// "ribbon_prints_remaining","cover_open"}.
    Supplies {
        /// The printer; the first card printer when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
    /// Writes files to the chip in the encoder and verifies them; exit 1 on a mismatch.
    ///
    /// The test card is file 0x0101 (a short demographic text) and 0x0102 (a 4 KiB
    /// pattern). JSON: {"uid","bytes_written","verification":[{"file_id","matches",
    /// "written_len","read_len"}]} (file_id as "0x0101").
    #[command(group(ArgGroup::new("what").required(true).multiple(true).args(["test_card", "file"])))]
    Encode {
        /// Write the test files.
        #[arg(long)]
        test_card: bool,
        /// Also write a file: FID=PATH, FID in hex (0x0103) or decimal.
        #[arg(long, value_name = "FID=PATH", value_parser = parse_chip_file)]
        file: Vec<(u32, PathBuf)>,
        /// Do not read the files back.
        #[arg(long)]
        no_verify: bool,
        /// The encoder; the first chip encoder when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
    /// Reports the encoder's reader and the card in it; `card read` and `card verify` read
    /// the chip's profile.
    ///
    /// JSON: {"reader_name","reader_present","card_present","atr","uid"}.
    Card {
        /// Read or verify the chip; without one, the reader's and card's status.
        #[command(subcommand)]
        action: Option<CardAction>,
        /// The encoder; the first chip encoder when omitted.
        #[arg(long, value_name = "ID", global = true)]
        device: Option<String>,
    },
    /// Runs one whole enrollment through the procedure, step by step.
    ///
    /// When the send fails with UNAVAILABLE, a recording receipt is issued and printed
    /// instead of the card (exit 0). JSON: {"enrollment","stage","nik","name",
    /// "send_reference","print_job","card_uid","receipt":null|{"number","collect_from",
    /// "text"},"steps":[{"step","stage","ms"}]}.
    Enroll(EnrollArgs),
    /// Lists the station's enrollments, newest first (a page at a time from the daemon).
    ///
    /// JSON: [{"enrollment","nik","name","stage","create_time","last_error"}].
    Enrollments(EnrollmentsArgs),
    /// One enrollment's integrity and its recording receipt.
    #[command(subcommand)]
    Enrollment(EnrollmentCommand),
    /// The complaints desk (pengaduan): file, list, show, forward, escalate, resolve.
    #[command(subcommand)]
    Complaint(Box<ComplaintCommand>),
    /// The daily report: enrollments by step and outcome, each phase's time against the
    /// service standard, sends pending, receipts outstanding, complaints open by level.
    /// Needs a supervisor or the head of office.
    ///
    /// JSON: {"date","opened","by_stage":[{"stage","count"}],"steps":[{"step","succeeded",
    /// "failed","cancelled","timed_out"}],"phases":[{"phase","standard_s","completed",
    /// "median_s","longest_s","over_standard"}],"sends_pending":[{"enrollment","age_s",
    /// "attempts"}],"receipts_outstanding","receipts_issued","complaints_open":[{"level",
    /// "open"}],"complaints_filed"}. With --csv: rows "section,key,value1..value5".
    Report {
        /// The station day, YYYY-MM-DD; today when omitted.
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
        /// Print CSV instead of tables.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Shows the outbox: the recordings' packages still on their way to the data centre
    /// (with --all, the latest delivered ones too), their attempts, last error, next
    /// attempt and the data centre's answers.
    ///
    /// JSON: [{"enrollment","size","attempts","state","last_error","next_attempt",
    /// "received_reference","print_ready_reference","duplicate_reason"}].
    Outbox(OutboxArgs),
    /// The station's operators (offline: edits operators.json in rekamd's state directory;
    /// rekamd reads it again at once).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Signs the operator of --operator in and prints the session token (for
    /// REKAM_TOKEN). JSON: {"token"}.
    Signin,
    /// Ends the session of --token.
    Signout,
    /// Shows the session the calls run as. JSON: {"name","operator_id","operator_name",
    /// "roles"}.
    Whoami,
    /// Shows the audit log (calls on personal data: who, when, what, how it ended) and
    /// checks its chain; exit 1 when the chain is broken. Needs a supervisor or the head
    /// of office. JSON: {"chain_intact","first_broken_sequence","total_entries",
    /// "entries":[{"sequence","time","operator_id","session","method","subject",
    /// "outcome"}]}.
    Audit {
        /// Entries after this number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Injects, clears or lists the faults of a simulated device or service.
    ///
    /// JSON: {"target","active":[...]} after inject or clear; with --list
    /// {"target","faults":[{"name","description"}],"active":[...]}.
    #[command(group(ArgGroup::new("action").required(true).args(["kind", "clear", "list"])))]
    Fault {
        /// A device id, or `siak` / `datacentre` for the simulated services.
        target: String,
        /// The fault to inject, e.g. ribbon_out (see --list).
        kind: Option<String>,
        /// Clear every fault of the target.
        #[arg(long)]
        clear: bool,
        /// List the faults the target can inject, and the active ones.
        #[arg(long)]
        list: bool,
    },
    /// Shows where the scenario rekamd was started with (`rekamd --scenario FILE`) stands:
    /// per scripted target, the calls seen, the rule in force, what comes next, and
    /// whether it is finished.
    ///
    /// JSON: {"name","path","finished","targets":[{"target","calls","current_rule",
    /// "next_rule","next_rule_calls_left","finished","rules":[...]}]}.
    Scenario,
    /// Offline: encodes, decodes or describes WSQ fingerprint images (no daemon needed).
    #[command(subcommand)]
    Wsq(WsqCommand),
    /// Offline: describes biometric records (no daemon needed).
    #[command(subcommand)]
    Record(RecordCommand),
    /// Offline: face photos (no daemon needed): the ISO/IEC 19794-5 token image and the
    /// photo checks.
    #[command(subcommand)]
    Face(offline::face::FaceCommand),
    /// Offline: the NFIQ 2-style quality (0-100) of a finger image, its verdict and features.
    ///
    /// The image is PNG, JPEG or WSQ, 500 ppi. JSON: {"file","width","height","score",
    /// "verdict","recapture_below","good_from","features":{"ocl","lcs","rvu","fda","of",
    /// "foreground_fraction","foreground_area","foreground_blocks","mean","std",
    /// "ridge_contrast","minutiae_count","minutiae_from_extractor"}}.
    Score {
        /// The finger image (PNG, JPEG or WSQ).
        image: PathBuf,
    },
    /// Offline: extracts the minutiae of a finger image, optionally into a file.
    ///
    /// JSON: {"file","width","height","ppi","count","endings","bifurcations","quality",
    /// "position","output","output_format","output_bytes","minutiae":[{"x","y","angle_deg",
    /// "kind","quality"}]}.
    Minutiae {
        /// The finger image (PNG, JPEG or WSQ).
        image: PathBuf,
        /// Write the minutiae: an ISO/IEC 19794-2 record (.fmr), or the compact card format
        /// with --card.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write the ISO/IEC 19794-2 compact card format (3 bytes per minutia, best 60).
        #[arg(long, requires = "output")]
        card: bool,
        /// The finger position written in the record (right-thumb .. left-little);
        /// unknown (0) when omitted.
        #[arg(long, value_name = "FINGER", value_parser = offline::parse_finger)]
        position: Option<u8>,
    },
    /// Offline: the matcher score of two fingers (images, .fmr records or .card files).
    ///
    /// Exit 0 whatever the score. JSON: {"a":{"file","source","minutiae"},"b":{...},
    /// "score","threshold","match"}.
    Match {
        /// The first finger: an image (PNG, JPEG, WSQ), an ISO/IEC 19794-2 record or a
        /// compact card file (.card).
        a: PathBuf,
        /// The second finger, likewise.
        b: PathBuf,
    },
    /// Offline: cuts a slap into fingertips, scores each, and writes them as PNG.
    ///
    /// JSON: {"file","width","height","kind","fingers":[{"position","position_code",
    /// "bbox":{"x","y","width","height"},"quality","verdict","file"}],"missing":[...]}.
    Segment {
        /// The slap image (PNG, JPEG or WSQ), 500 ppi.
        slap: PathBuf,
        /// Which slap it is.
        #[arg(long, value_enum)]
        hand: SlapHand,
        /// Fingers of the slap with no print (amputated, bandaged), e.g. right-ring.
        #[arg(long, value_name = "FINGER", num_args = 1.., value_delimiter = ',',
              value_parser = offline::parse_finger)]
        missing: Vec<u8>,
        /// Directory for the fingertip crops (created if needed), one <finger>.png each.
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
}

/// The `enrollment` subcommands.
#[derive(Debug, Subcommand)]
pub enum EnrollmentCommand {
    /// Checks an enrollment's artefact chain (every capture, the package, the card images
    /// printed and the chip's files, each entry hashing the one before, signed by the
    /// station) against what the store holds now; exit 1 when anything changed. Needs a
    /// supervisor or the head of office.
    ///
    /// JSON: {"enrollment","intact","entries","checked_artefacts","unchecked":[...],
    /// "key_id","problems":[{"sequence","artefact","kind","message"}]}.
    Verify {
        /// The enrollment (id or enrollments/ID).
        id: String,
    },
    /// Writes an enrollment's recording receipt (bukti perekaman), PDF or PNG.
    ///
    /// JSON: {"number","qr","content_type","bytes","output"}.
    Receipt {
        /// The enrollment (id or enrollments/ID).
        id: String,
        /// The file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// A PNG preview instead of the PDF.
        #[arg(long)]
        png: bool,
    },
    /// The return visit: opens the enrollment of a receipt from its QR code's content;
    /// completes the send when the data centre answered print-ready.
    ///
    /// JSON: {"enrollment","stage","ready_to_print"}.
    OpenReceipt {
        /// The QR code's content, "REKAM-BP1:…".
        qr: String,
    },
}

/// The `complaint` subcommands. JSON: the complaint {"name","channel","complainant",
/// "contact","text","enrollment","receipt_number","level","status","open_time",
/// "resolve_time","resolution","version","history":[{"time","operator","action",
/// "from_level","to_level","note"}]}; `list` prints an array of them.
#[derive(Debug, Subcommand)]
pub enum ComplaintCommand {
    /// Records a complaint at the secretariat.
    File {
        /// How it came in.
        #[arg(long, value_enum)]
        channel: ComplaintChannelArg,
        /// Who complains.
        #[arg(long)]
        complainant: String,
        /// How to reach them.
        #[arg(long, default_value = "")]
        contact: String,
        /// The complaint.
        #[arg(long)]
        text: String,
        /// The enrollment it is about (id or enrollments/ID).
        #[arg(long)]
        enrollment: Option<String>,
        /// The recording receipt it is about.
        #[arg(long)]
        receipt: Option<String>,
    },
    /// Shows one complaint with its history.
    Show {
        /// The complaint (id or complaints/ID).
        id: String,
    },
    /// Lists complaints, newest first.
    List {
        /// Only open or resolved ones.
        #[arg(long, value_enum)]
        status: Option<ComplaintStatusArg>,
        /// Only at this level (secretariat, secretary, registration, civil-registration,
        /// head-of-office).
        #[arg(long, value_parser = cmd::desk::parse_level)]
        level: Option<rekam_api::pb::ComplaintLevel>,
        /// Only filed on this day, YYYY-MM-DD.
        #[arg(long)]
        day: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Passes a complaint from the secretariat to the Secretary or a division.
    Forward {
        /// The complaint.
        id: String,
        /// secretary, registration (dafduk) or civil-registration (capil).
        #[arg(long, value_parser = cmd::desk::parse_level)]
        to: rekam_api::pb::ComplaintLevel,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        /// Refuse if the complaint changed since this version.
        #[arg(long, default_value_t = 0)]
        expected_version: u64,
    },
    /// Passes a complaint up to the Head of Office.
    Escalate {
        /// The complaint.
        id: String,
        /// Why it cannot be settled at its level.
        #[arg(long, default_value = "")]
        note: String,
        /// Refuse if the complaint changed since this version.
        #[arg(long, default_value_t = 0)]
        expected_version: u64,
    },
    /// Settles a complaint at its level.
    Resolve {
        /// The complaint.
        id: String,
        /// The resolution.
        #[arg(long)]
        resolution: String,
        /// Refuse if the complaint changed since this version.
        #[arg(long, default_value_t = 0)]
        expected_version: u64,
    },
}

/// How a complaint came in.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ComplaintChannelArg {
    /// By telephone.
    Telephone,
    /// In person.
    InPerson,
}

/// A complaint's status.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ComplaintStatusArg {
    /// Not settled.
    Open,
    /// Settled.
    Resolved,
}

/// The `wsq` subcommands.
#[derive(Debug, Subcommand)]
pub enum WsqCommand {
    /// Compresses an image (PNG, JPEG, or raw 8-bit grey with --width/--height) to WSQ.
    ///
    /// JSON: {"input","output","width","height","ppi","bytes","bitrate_requested","bitrate",
    /// "compression_ratio","rate_control"}.
    Encode {
        /// The image: any PNG or JPEG (converted to grey), or raw grey bytes (.raw).
        input: PathBuf,
        /// The WSQ file to write.
        #[arg(short, long, value_name = "FILE.wsq")]
        output: PathBuf,
        /// Target bits per pixel (0.75 is about 10.7:1; 2.25 about 3.6:1).
        #[arg(long, default_value_t = 0.75, value_name = "BPP")]
        bitrate: f32,
        /// Scan resolution recorded in the file.
        #[arg(long, default_value_t = 500, value_name = "PPI",
              value_parser = clap::value_parser!(u16).range(1..))]
        ppi: u16,
        /// Width of a raw image.
        #[arg(long, value_name = "W", requires = "height")]
        width: Option<u32>,
        /// Height of a raw image.
        #[arg(long, value_name = "H", requires = "width")]
        height: Option<u32>,
        /// Use the specification's open-loop rate model, as NBIS cwsq (byte-identical files,
        /// often well under the requested bit rate) instead of meeting the bit rate.
        #[arg(long)]
        model: bool,
    },
    /// Decompresses a WSQ file to PNG or raw grey (by the output's extension).
    ///
    /// JSON: {"input","output","width","height","ppi","comments"}.
    Decode {
        /// The WSQ file.
        input: PathBuf,
        /// The image to write: .png or .raw.
        #[arg(short, long, value_name = "FILE.png|FILE.raw")]
        output: PathBuf,
    },
    /// Prints the header of a WSQ file: size, resolution, bit rate and the NISTCOM fields.
    ///
    /// JSON: {"format","bytes","width","height","ppi","bitrate","actual_bitrate",
    /// "compression_ratio","black","white","mean","scale","encoder","software",
    /// "restart_interval","nistcom":{NAME:VALUE},"comments"}.
    Info {
        /// The WSQ file.
        input: PathBuf,
    },
}

/// The `record` subcommands.
#[derive(Debug, Subcommand)]
pub enum RecordCommand {
    /// Recognises a record and prints its header; exit 1 for an unknown or damaged file.
    ///
    /// Knows ISO/IEC 19794-4 finger images (FIR), 19794-5 faces (FAC), 19794-2 minutiae
    /// (FMR), 19794-7 signature time series (SDI), ICAO DG7, ANSI/NIST-ITL transactions and
    /// WSQ images. JSON: one object with "format" and the format's header fields
    /// (`src/offline/record.rs`).
    Info {
        /// The file.
        file: PathBuf,
    },
}

/// The kinds of slap `segment` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlapHand {
    /// Right index, middle, ring, little.
    Right,
    /// Left little, ring, middle, index.
    Left,
    /// Left thumb, right thumb.
    Thumbs,
}

impl From<SlapHand> for rekam_quality::SlapKind {
    fn from(h: SlapHand) -> Self {
        match h {
            SlapHand::Right => rekam_quality::SlapKind::RightFour,
            SlapHand::Left => rekam_quality::SlapKind::LeftFour,
            SlapHand::Thumbs => rekam_quality::SlapKind::Thumbs,
        }
    }
}

/// What `capture` captures.
#[derive(Debug, Subcommand)]
pub enum CaptureCommand {
    /// Captures a finger or a slap, writes it as PNG and prints each finger's quality.
    ///
    /// JSON: {"position","file","width","height","ppi","fingers":[{"position","quality",
    /// "missing","missing_reason","recapture_advised"}]}.
    Fingerprint {
        /// right-four, left-four, thumbs, or a single finger (right-thumb .. left-little).
        #[arg(long, value_name = "POSITION", value_parser = names::parse_position)]
        position: FingerPosition,
        /// Missing fingers, FINGER:REASON with REASON amputated or unable-to-print.
        #[arg(long, value_name = "FINGER:REASON", num_args = 1.., value_delimiter = ',',
              value_parser = names::parse_missing)]
        missing: Vec<MissingFinger>,
        /// The PNG file to write.
        #[arg(short, long, value_name = "FILE.png")]
        output: PathBuf,
        /// The scanner; the first fingerprint scanner when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
    /// Takes a still from the face camera and writes the JPEG.
    ///
    /// JSON: {"file","width","height","bytes"}.
    Face {
        /// The JPEG file to write.
        #[arg(short, long, value_name = "FILE.jpg")]
        output: PathBuf,
        /// The camera; the first camera when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
    /// Lets the applicant sign on the pad, accepts the signature and writes its PNG.
    ///
    /// JSON: {"file","samples","image_width","image_height","pad_width","pad_height"}.
    Signature {
        /// The PNG file to write.
        #[arg(short, long, value_name = "FILE.png")]
        output: PathBuf,
        /// The pad; the first signature pad when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
}

/// `iris` subcommands.
#[derive(Debug, Subcommand)]
pub enum IrisCommand {
    /// Captures the eyes and writes each as an ISO/IEC 19794-6:2011 record,
    /// DIR/iris-right.iso19794-6 and DIR/iris-left.iso19794-6, printing each eye's quality.
    ///
    /// JSON: {"eyes":[{"eye","excepted","quality","width","height","file"}]} ("file" absent
    /// for an excepted eye).
    Capture {
        /// The eyes to capture.
        #[arg(long, value_enum, default_value_t = EyeArg::Both)]
        eye: EyeArg,
        /// An eye that is missing: excepted, not captured (with --eye both).
        #[arg(long, value_enum)]
        missing: Option<SideArg>,
        /// The folder to write the records into (created if needed).
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        output: PathBuf,
        /// The iris camera; the first iris camera when omitted.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
    },
}

/// The eyes `iris capture` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EyeArg {
    /// The applicant's left eye.
    Left,
    /// The applicant's right eye.
    Right,
    /// Both eyes.
    Both,
}

/// One eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SideArg {
    /// The applicant's left eye.
    Left,
    /// The applicant's right eye.
    Right,
}

/// Options of `outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// Also show the packages the data centre already holds.
    #[arg(long)]
    pub all: bool,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `operator` subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Adds an operator; the PIN (6-64 characters) comes from $REKAM_PIN, else is asked
    /// twice on the terminal, else is the first line of standard input.
    Add {
        /// The operator's id, e.g. an employee number ([A-Za-z0-9._-], 1-32).
        id: String,
        /// The operator's name.
        #[arg(long)]
        name: String,
        /// A role: officer, supervisor, technician, head_of_office (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// rekamd's state directory [default: as rekamd's].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Disables an operator: no new sign-in, and their sessions end at their next call.
    Disable {
        /// The operator's id.
        id: String,
        /// rekamd's state directory [default: as rekamd's].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Enables a disabled operator again.
    Enable {
        /// The operator's id.
        id: String,
        /// rekamd's state directory [default: as rekamd's].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Lists the operators. JSON: [{"id","name","roles","disabled"}].
    List {
        /// rekamd's state directory [default: as rekamd's].
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// Options of `enrollments`.
#[derive(Debug, Args)]
pub struct EnrollmentsArgs {
    /// Only enrollments at this stage, e.g. `sent`, `receipt-issued`, `cancelled`.
    #[arg(long, value_name = "STAGE")]
    pub state: Option<String>,
    /// Only the enrollments of this NIK.
    #[arg(long)]
    pub nik: Option<String>,
    /// Only the enrollment with this receipt number (a return visit).
    #[arg(long, value_name = "NUMBER")]
    pub receipt: Option<String>,
    /// Show at most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Options of `enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// Use the demo applicant (SITI RAHAYU, Gambir, Jakarta Pusat).
    #[arg(long, required = true)]
    pub demo: bool,
    /// Override the NIK; birth date and sex are then taken from it.
    #[arg(long, value_name = "NIK")]
    pub nik: Option<String>,
    /// Override the name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Override the family card (KK) number.
    #[arg(long, value_name = "KK")]
    pub kk: Option<String>,
    /// Missing fingers, FINGER:REASON with REASON amputated or unable-to-print.
    #[arg(long, value_name = "FINGER:REASON", num_args = 1.., value_delimiter = ',',
          value_parser = names::parse_missing)]
    pub missing: Vec<MissingFinger>,
}

/// Parses `--timeout`: positive seconds, fractions allowed.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0 * 365.0) {
        return Err(format!("the timeout must be positive seconds, not `{s}`"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `--file FID=PATH`.
fn parse_chip_file(s: &str) -> Result<(u32, PathBuf), String> {
    let (fid, path) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not FID=PATH"))?;
    let fid = fid.trim();
    let parsed = match fid.strip_prefix("0x").or_else(|| fid.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => fid.parse(),
    };
    match parsed {
        Ok(n) if n <= 0xffff => Ok((n, PathBuf::from(path))),
        _ => Err(format!(
            "`{fid}` is not a file identifier (0x0000 .. 0xffff)"
        )),
    }
}

/// An error that only sets the exit code: its message was already printed.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The message of an error: `<CODE> [<REASON>]: <message>` for a gRPC status, then one
/// indented line per invalid field.
pub fn error_line(err: &anyhow::Error) -> String {
    use tonic_types::StatusExt;
    match err.downcast_ref::<tonic::Status>() {
        Some(s) => {
            let details = s.get_error_details();
            let mut line = match details.error_info() {
                Some(info) => format!(
                    "{} [{}]: {}",
                    rekam_api::code_name(s.code()),
                    info.reason,
                    s.message()
                ),
                None => format!("{}: {}", rekam_api::code_name(s.code()), s.message()),
            };
            if let Some(br) = details.bad_request() {
                for v in &br.field_violations {
                    line.push_str(&format!("\n    {}: {}", v.field, v.description));
                }
            }
            line
        }
        None => format!("{err:#}"),
    }
}

/// Runs an offline command; gives the command back when it needs the daemon.
fn run_offline(command: Command, json: bool) -> Result<anyhow::Result<()>, Command> {
    let report = match command {
        Command::Wsq(c) => return Ok(offline::wsq::run(c, json)),
        Command::Face(c) => return Ok(offline::face::run(c, json)),
        Command::Record(RecordCommand::Info { file }) => {
            return Ok(offline::record::run(&file, json));
        }
        Command::Score { image } => offline::finger::score(&image),
        Command::Minutiae {
            image,
            output,
            card,
            position,
        } => offline::finger::minutiae(&image, output.as_deref(), card, position.unwrap_or(0)),
        Command::Match { a, b } => offline::finger::match_files(&a, &b),
        Command::Segment {
            slap,
            hand,
            missing,
            output,
        } => offline::finger::check_missing(hand.into(), &missing).and_then(|()| {
            offline::finger::segment(&slap, hand.into(), &missing, output.as_deref())
        }),
        online => return Err(online),
    };
    Ok(report.map(|r| r.print(json)))
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    cli.command = match run_offline(cli.command, cli.json) {
        Ok(result) => return result,
        Err(online) => online,
    };
    let target = match (&cli.addr, &cli.socket) {
        (Some(url), _) => Target::Url(url.clone()),
        (None, Some(path)) => Target::Unix(path.clone()),
        (None, None) => Target::Unix(default_socket_path()),
    };
    if let Command::Operator(op) = &cli.command {
        return match op {
            OperatorCommand::Add {
                id,
                name,
                roles,
                state_dir,
            } => cmd::operator::add(state_dir.clone(), id, name, roles, cli.json),
            OperatorCommand::Disable { id, state_dir } => {
                cmd::operator::set_disabled(state_dir.clone(), id, true, cli.json)
            }
            OperatorCommand::Enable { id, state_dir } => {
                cmd::operator::set_disabled(state_dir.clone(), id, false, cli.json)
            }
            OperatorCommand::List { state_dir } => cmd::operator::list(state_dir.clone(), cli.json),
        };
    }
    let tls = conn::TlsFiles {
        ca: cli.tls_ca.clone(),
        cert: cli.tls_cert.clone(),
        key: cli.tls_key.clone(),
    };
    let channel = conn::connect_with(&target, &tls).await?;
    let token = |t: &str| {
        tonic::metadata::MetadataValue::try_from(format!("Bearer {t}"))
            .map_err(|_| anyhow::anyhow!("the session token is not a valid header value"))
    };
    let mut ctx = Ctx {
        channel,
        timeout: cli.timeout,
        json: cli.json,
        token: cli.token.as_deref().map(token).transpose()?,
    };
    if let (Some(op), None, false) = (
        &cli.operator,
        &ctx.token,
        matches!(cli.command, Command::Signin),
    ) {
        ctx.token = Some(token(&cmd::operator::sign_in(&ctx, op).await?)?);
    }
    match cli.command {
        Command::Devices { available } => cmd::devices::devices(&ctx, available).await,
        Command::Watch {
            count,
            current,
            after,
        } => cmd::devices::watch(&ctx, count, current, after).await,
        Command::Diag { device, capture } => cmd::devices::diag(&ctx, device, capture).await,
        Command::Capture(c) => cmd::capture::run(&ctx, c).await,
        Command::Iris(IrisCommand::Capture {
            eye,
            missing,
            output,
            device,
        }) => cmd::iris::capture(&ctx, eye, missing, output, device).await,
        Command::Print {
            test_card,
            front,
            back,
            device,
        } => cmd::printer::print(&ctx, test_card, front, back, device).await,
        Command::Supplies { device } => cmd::printer::supplies(&ctx, device).await,
        Command::Encode {
            test_card,
            file,
            no_verify,
            device,
        } => cmd::encoder::encode(&ctx, test_card, file, !no_verify, device).await,
        Command::Card { action, device } => match action {
            None => cmd::encoder::card(&ctx, device).await,
            Some(CardAction::Read { output }) => cmd::encoder::read(&ctx, device, output).await,
            Some(CardAction::Verify) => cmd::encoder::verify(&ctx, device).await,
            Some(CardAction::Preview { id, output, back }) => {
                cmd::desk::card_preview(&ctx, &id, &output, back.as_deref()).await
            }
        },
        Command::Enroll(args) => cmd::enroll::enroll(&ctx, args).await,
        Command::Enrollments(args) => cmd::enroll::enrollments(&ctx, args).await,
        Command::Enrollment(EnrollmentCommand::Verify { id }) => cmd::desk::verify(&ctx, &id).await,
        Command::Enrollment(EnrollmentCommand::Receipt { id, output, png }) => {
            cmd::desk::receipt(&ctx, &id, &output, png).await
        }
        Command::Enrollment(EnrollmentCommand::OpenReceipt { qr }) => {
            cmd::desk::open_receipt(&ctx, &qr).await
        }
        Command::Complaint(c) => cmd::desk::complaint(&ctx, complaint_action(*c)).await,
        Command::Report { date, csv } => {
            cmd::desk::report(
                &ctx,
                date.as_deref(),
                if csv {
                    cmd::desk::ReportForm::Csv
                } else {
                    cmd::desk::ReportForm::Table
                },
            )
            .await
        }
        Command::Outbox(args) => cmd::enroll::outbox(&ctx, args).await,
        Command::Fault {
            target,
            kind,
            clear,
            list,
        } => cmd::fault::fault(&ctx, target, kind, clear, list).await,
        Command::Scenario => cmd::fault::scenario(&ctx).await,
        Command::Signin => cmd::operator::signin(&ctx, cli.operator.as_deref()).await,
        Command::Signout => cmd::operator::signout(&ctx).await,
        Command::Whoami => cmd::operator::whoami(&ctx).await,
        Command::Audit { after, limit } => cmd::operator::audit(&ctx, after, limit).await,
        Command::Operator(_) => Ok(()),
        Command::Wsq(_)
        | Command::Record(_)
        | Command::Face(_)
        | Command::Score { .. }
        | Command::Minutiae { .. }
        | Command::Match { .. }
        | Command::Segment { .. } => Ok(()),
    }
}

/// The request of a `complaint` subcommand.
fn complaint_action(c: ComplaintCommand) -> cmd::desk::ComplaintAction {
    use cmd::desk::ComplaintAction as A;
    use rekam_api::pb;
    match c {
        ComplaintCommand::File {
            channel,
            complainant,
            contact,
            text,
            enrollment,
            receipt,
        } => A::File(pb::FileComplaintRequest {
            channel: match channel {
                ComplaintChannelArg::Telephone => pb::ComplaintChannel::Telephone,
                ComplaintChannelArg::InPerson => pb::ComplaintChannel::InPerson,
            } as i32,
            complainant,
            contact,
            text,
            enrollment: enrollment
                .map(|e| cmd::resource("enrollments", &e))
                .unwrap_or_default(),
            receipt_number: receipt.unwrap_or_default(),
        }),
        ComplaintCommand::Show { id } => A::Show(id),
        ComplaintCommand::List {
            status,
            level,
            day,
            limit,
        } => A::List(pb::ListComplaintsRequest {
            status: match status {
                None => pb::ComplaintStatus::Unspecified,
                Some(ComplaintStatusArg::Open) => pb::ComplaintStatus::Open,
                Some(ComplaintStatusArg::Resolved) => pb::ComplaintStatus::Resolved,
            } as i32,
            level: level.unwrap_or(pb::ComplaintLevel::Unspecified) as i32,
            day: day.unwrap_or_default(),
            page_size: i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000),
        }),
        ComplaintCommand::Forward {
            id,
            to,
            note,
            expected_version,
        } => A::Forward(pb::ForwardComplaintRequest {
            name: id,
            to_level: to as i32,
            note,
            expected_version,
        }),
        ComplaintCommand::Escalate {
            id,
            note,
            expected_version,
        } => A::Escalate(pb::EscalateComplaintRequest {
            name: id,
            note,
            expected_version,
        }),
        ComplaintCommand::Resolve {
            id,
            resolution,
            expected_version,
        } => A::Resolve(pb::ResolveComplaintRequest {
            name: id,
            resolution,
            expected_version,
        }),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            eprintln!("error: {}", error_line(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use rekam_api::pb::MissingReason;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("rekamctl").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_anywhere() {
        let cli = parse(&[
            "devices",
            "--json",
            "--socket",
            "/tmp/x.sock",
            "--timeout",
            "2.5",
        ])
        .unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/tmp/x.sock")));
        assert_eq!(cli.timeout, Some(Duration::from_millis(2500)));
        assert!(matches!(cli.command, Command::Devices { available: false }));
        let cli = parse(&["devices", "--available", "--json"]).unwrap();
        assert!(matches!(cli.command, Command::Devices { available: true }));
        let cli = parse(&["--addr", "http://127.0.0.1:50051", "enrollments"]).unwrap();
        assert_eq!(cli.addr.as_deref(), Some("http://127.0.0.1:50051"));
        assert!(parse(&["--timeout", "0", "devices"]).is_err());
        assert!(parse(&["--timeout", "soon", "devices"]).is_err());
    }

    #[test]
    fn iris_capture_parses_eyes_missing_and_folder() {
        let cli = parse(&["iris", "capture", "--missing", "left", "-o", "/tmp/x"]).unwrap();
        let Command::Iris(IrisCommand::Capture {
            eye,
            missing,
            output,
            device,
        }) = cli.command
        else {
            panic!("not iris capture");
        };
        assert_eq!((eye, missing), (EyeArg::Both, Some(SideArg::Left)));
        assert_eq!(output, PathBuf::from("/tmp/x"));
        assert!(device.is_none());
        let cli = parse(&["iris", "capture", "--eye", "right"]).unwrap();
        let Command::Iris(IrisCommand::Capture { eye, output, .. }) = cli.command else {
            panic!("not iris capture");
        };
        assert_eq!((eye, output), (EyeArg::Right, PathBuf::from(".")));
    }

    #[test]
    fn capture_fingerprint_parses_position_and_missing() {
        let cli = parse(&[
            "capture",
            "fingerprint",
            "--position",
            "right-four",
            "--missing",
            "right-ring:amputated",
            "right-little:unable-to-print",
            "-o",
            "r4.png",
        ])
        .unwrap();
        let Command::Capture(CaptureCommand::Fingerprint {
            position,
            missing,
            output,
            device,
        }) = cli.command
        else {
            panic!("not capture fingerprint");
        };
        assert_eq!(position, FingerPosition::RightFour);
        assert_eq!(output, PathBuf::from("r4.png"));
        assert_eq!(device, None);
        assert_eq!(missing.len(), 2);
        assert_eq!(missing[0].position(), FingerPosition::RightRing);
        assert_eq!(missing[0].reason(), MissingReason::Amputated);
        assert_eq!(missing[1].position(), FingerPosition::RightLittle);
        assert_eq!(missing[1].reason(), MissingReason::UnableToPrint);

        let cli = parse(&[
            "capture",
            "fingerprint",
            "--position",
            "thumbs",
            "--missing",
            "left-thumb:amputated,right-thumb:unable",
            "-o",
            "t.png",
        ])
        .unwrap();
        let Command::Capture(CaptureCommand::Fingerprint { missing, .. }) = cli.command else {
            panic!("not capture fingerprint");
        };
        assert_eq!(missing.len(), 2);

        let bad = parse(&[
            "capture",
            "fingerprint",
            "--position",
            "nose",
            "-o",
            "x.png",
        ]);
        assert_eq!(
            bad.unwrap_err().kind(),
            clap::error::ErrorKind::ValueValidation
        );
        let no_output = parse(&["capture", "fingerprint", "--position", "right-four"]);
        assert_eq!(
            no_output.unwrap_err().kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn print_needs_one_source() {
        assert!(parse(&["print", "--test-card"]).is_ok());
        assert!(parse(&["print", "--front", "f.png", "--back", "b.png"]).is_ok());
        assert!(parse(&["print"]).is_err());
        assert!(parse(&["print", "--test-card", "--front", "f.png"]).is_err());
        assert!(parse(&["print", "--back", "b.png", "--test-card"]).is_err());
    }

    #[test]
    fn fault_actions_are_exclusive() {
        let cli = parse(&["fault", "printer0", "ribbon_out"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Fault { ref target, kind: Some(ref k), clear: false, list: false }
                if target == "printer0" && k == "ribbon_out"
        ));
        assert!(parse(&["fault", "siak", "--clear"]).is_ok());
        assert!(parse(&["fault", "datacentre", "--list"]).is_ok());
        assert!(parse(&["outbox", "--all", "--limit", "5"]).is_ok());
        assert!(parse(&["fault", "printer0"]).is_err());
        assert!(parse(&["fault", "printer0", "jam", "--clear"]).is_err());
        assert!(parse(&["fault", "printer0", "--clear", "--list"]).is_err());
    }

    #[test]
    fn enroll_and_encode_options() {
        assert!(parse(&["enroll"]).is_err(), "--demo is required");
        let cli = parse(&[
            "enroll",
            "--demo",
            "--nik",
            "3171010101900001",
            "--name",
            "BUDI",
        ])
        .unwrap();
        let Command::Enroll(a) = cli.command else {
            panic!("not enroll");
        };
        assert_eq!(a.nik.as_deref(), Some("3171010101900001"));
        assert_eq!(a.name.as_deref(), Some("BUDI"));
        assert!(parse(&["encode"]).is_err());
        let cli = parse(&["encode", "--file", "0x0103=a.bin", "--file", "260=b.bin"]).unwrap();
        let Command::Encode {
            file, test_card, ..
        } = cli.command
        else {
            panic!("not encode");
        };
        assert!(!test_card);
        assert_eq!(
            file,
            vec![
                (0x0103, PathBuf::from("a.bin")),
                (260, PathBuf::from("b.bin"))
            ]
        );
        assert!(parse(&["encode", "--file", "0x10000=a.bin"]).is_err());
        assert!(parse(&["encode", "--file", "a.bin"]).is_err());
    }

    #[test]
    fn offline_commands_parse() {
        let cli = parse(&[
            "wsq",
            "encode",
            "in.raw",
            "-o",
            "out.wsq",
            "--width",
            "300",
            "--height",
            "200",
            "--bitrate",
            "2.25",
        ])
        .unwrap();
        let Command::Wsq(WsqCommand::Encode {
            width,
            height,
            bitrate,
            ppi,
            model,
            ..
        }) = cli.command
        else {
            panic!("not wsq encode");
        };
        assert_eq!(
            (width, height, ppi, model),
            (Some(300), Some(200), 500, false)
        );
        assert!((bitrate - 2.25).abs() < 1e-6);
        assert!(parse(&["wsq", "encode", "in.raw", "-o", "o.wsq", "--width", "3"]).is_err());
        assert!(parse(&["wsq", "encode", "in.png", "-o", "o.wsq", "--ppi", "0"]).is_err());
        assert!(
            parse(&["wsq", "decode", "in.wsq"]).is_err(),
            "-o is required"
        );
        assert!(parse(&["record", "info", "x.fmr", "--json"]).unwrap().json);

        let cli = parse(&[
            "minutiae",
            "f.png",
            "-o",
            "f.fmr",
            "--position",
            "left_ring",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Minutiae {
                position: Some(9),
                card: false,
                ..
            }
        ));
        assert!(
            parse(&["minutiae", "f.png", "--card"]).is_err(),
            "--card needs -o"
        );
        assert!(parse(&["minutiae", "f.png", "--position", "right-four"]).is_err());

        let cli = parse(&[
            "segment",
            "s.png",
            "--hand",
            "left",
            "--missing",
            "left-ring,left-little",
            "-o",
            "d",
        ])
        .unwrap();
        let Command::Segment { hand, missing, .. } = cli.command else {
            panic!("not segment");
        };
        assert_eq!(hand, SlapHand::Left);
        assert_eq!(missing, vec![9, 10]);
        assert!(parse(&["segment", "s.png"]).is_err(), "--hand is required");
        assert!(parse(&["segment", "s.png", "--hand", "middle"]).is_err());
        assert!(matches!(
            parse(&["match", "a.png", "b.fmr"]).unwrap().command,
            Command::Match { .. }
        ));
    }

    #[test]
    fn offline_commands_do_not_need_the_daemon() {
        // A missing file fails inside the command, before any connection is attempted.
        let cli = parse(&["score", "/nonexistent/finger.png"]).unwrap();
        let Ok(Err(e)) = run_offline(cli.command, false) else {
            panic!("score was not run offline");
        };
        assert!(error_line(&e).contains("cannot read"), "{e:#}");
        let cli = parse(&["devices"]).unwrap();
        assert!(matches!(
            run_offline(cli.command, false),
            Err(Command::Devices { .. })
        ));
    }

    #[test]
    fn status_lines() {
        use tonic_types::{ErrorDetails, StatusExt};
        let e = anyhow::Error::new(tonic::Status::failed_precondition("ribbon out"));
        assert_eq!(error_line(&e), "FAILED_PRECONDITION: ribbon out");
        let mut d = ErrorDetails::new();
        d.set_error_info(
            "INVALID_REQUEST",
            "rekam.v1",
            std::collections::HashMap::new(),
        );
        d.add_bad_request_violation("applicant.nik", "must be exactly 16 digits");
        let e = anyhow::Error::new(tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "invalid request",
            d,
        ));
        assert_eq!(
            error_line(&e),
            "INVALID_ARGUMENT [INVALID_REQUEST]: invalid request\n    applicant.nik: must be exactly 16 digits"
        );
        let e = anyhow::anyhow!("plain");
        assert_eq!(error_line(&e), "plain");
    }
}
