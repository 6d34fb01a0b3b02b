//! A small IPP/1.1 client over HTTP: the four operations a card printer needs.
//!
//! Requests and responses are encoded and decoded by the [`ipp`] crate (RFC 8010); this
//! module sends them as `application/ipp` HTTP POSTs with the workspace's `reqwest`
//! (rustls, no OpenSSL) and reads the answers into plain Rust types ([`PrinterStatus`],
//! [`JobStatus`]). Operations (RFC 8011 §4): Get-Printer-Attributes, Print-Job,
//! Create-Job with Send-Document, Get-Job-Attributes and Cancel-Job.

use std::io::Cursor;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ipp::attribute::IppAttribute;
use ipp::model::{DelimiterTag, IppVersion, Operation};
use ipp::parser::IppParser;
use ipp::prelude::Uri;
use ipp::reader::IppReader;
use ipp::request::IppRequestResponse;
use ipp::value::IppValue;

use crate::reasons::StateReason;

/// The IPP status code `server-error-busy` (RFC 8011 §4.1.6.3): try again later.
pub const STATUS_BUSY: u16 = 0x0507;
/// The IPP status code `client-error-not-found`.
pub const STATUS_NOT_FOUND: u16 = 0x0406;
/// The IPP status code `client-error-not-possible`.
pub const STATUS_NOT_POSSIBLE: u16 = 0x0404;

/// What went wrong talking to a printer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IppError {
    /// No answer: connection refused, timed out, name not resolved, TLS failed.
    #[error("cannot reach the printer at {url}: {detail}")]
    Unreachable {
        /// The HTTP URL the request went to.
        url: String,
        /// What failed.
        detail: String,
    },
    /// An HTTP answer that is not `200 OK`.
    #[error("the printer at {url} answered HTTP {status} (is the URI's path right?)")]
    Http {
        /// The HTTP URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The printer refused the operation with an IPP status code.
    #[error("the printer refused {operation}: status 0x{code:04x}{}", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    Status {
        /// The operation, e.g. "Print-Job".
        operation: &'static str,
        /// The IPP status code (RFC 8011 §4.1.6, Appendix B).
        code: u16,
        /// The printer's `status-message`, if any.
        message: String,
    },
    /// A request that cannot be encoded (a value too long for its IPP type).
    #[error("cannot encode {operation}: {detail}")]
    Encode {
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An answer that is not IPP.
    #[error("the printer's answer to {operation} is not IPP: {detail}")]
    Malformed {
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl IppError {
    /// True when the printer did not answer at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, IppError::Unreachable { .. })
    }

    /// The IPP status code, for a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            IppError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A printer URI checked and turned into the HTTP URL its requests go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterUri {
    /// The URI as given, `ipp://host[:port]/path` or `ipps://…`: the `printer-uri` of
    /// every request.
    pub uri: String,
    /// `http://host:port/path` (`https://` for `ipps`), port 631 by default (RFC 8010 §8.1, RFC 7472).
    pub http_url: String,
    /// True for `ipps`.
    pub tls: bool,
}

impl PrinterUri {
    /// Checks a printer URI: scheme `ipp` or `ipps`, a host, an optional port, a path,
    /// no user name, query or fragment. The error says what to write instead.
    pub fn parse(text: &str) -> Result<Self, String> {
        let example = "e.g. ipp://192.168.1.20:631/ipp/print";
        let uri: Uri = text.parse().map_err(|e| {
            format!("{text:?} is not a URI ({e}): write the printer's IPP URI, {example}")
        })?;
        let tls = match uri.scheme_str() {
            Some("ipp") => false,
            Some("ipps") => true,
            Some(other) => {
                return Err(format!(
                    "{text:?}: the scheme must be ipp or ipps, not {other:?} ({example})"
                ));
            }
            None => return Err(format!("{text:?} has no scheme: {example}")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{text:?} has no host: {example}"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "{text:?}: a user name or password in the URI is not supported; \
                 give the printer's address only"
            ));
        }
        if authority.host().is_empty() {
            return Err(format!("{text:?} has no host: {example}"));
        }
        let path = uri.path();
        if path.is_empty() || path == "/" {
            return Err(format!(
                "{text:?} has no path: add the printer's path, e.g. /ipp/print (IPP Everywhere) \
                 or /printers/NAME (CUPS)"
            ));
        }
        if uri.query().is_some() || text.contains('#') {
            return Err(format!(
                "{text:?}: a query or fragment is not part of a printer URI"
            ));
        }
        let port = authority.port_u16().unwrap_or(631);
        let scheme = if tls { "https" } else { "http" };
        Ok(PrinterUri {
            uri: text.to_string(),
            http_url: format!("{scheme}://{}:{port}{path}", authority.host()),
            tls,
        })
    }
}

/// `printer-state` (RFC 8011 §5.4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrinterState {
    /// 3: idle.
    Idle,
    /// 4: processing a job.
    Processing,
    /// 5: stopped, a person must act.
    Stopped,
    /// Another value, or none.
    Unknown(i32),
}

/// One marker (ink, toner, ribbon) from `marker-names`, `marker-types`, `marker-levels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// `marker-names`.
    pub name: String,
    /// `marker-types`, e.g. `ink-ribbon`, `toner`.
    pub kind: String,
    /// `marker-levels`: percent, or negative for unknown (RFC 3805 conventions).
    pub level: i32,
}

/// One supply from `printer-supply` (PWG 5100.13), or a tray from `printer-input-tray`:
/// `key=value;` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplyEntry {
    /// `type`, e.g. `toner`, `ribbonWax`, `sheetFeedAutoRemovableTray`.
    pub kind: String,
    /// `name` or `colorantname`, when given.
    pub name: String,
    /// `level`: negative when unknown.
    pub level: i32,
    /// `maxcapacity`: negative when unknown.
    pub max: i32,
    /// `unit`, e.g. `percent`, `sheets` (empty when not given).
    pub unit: String,
}

impl SupplyEntry {
    /// Parses `type=toner;level=75;maxcapacity=100;…`.
    pub fn parse(text: &str) -> Self {
        let mut e = SupplyEntry {
            kind: String::new(),
            name: String::new(),
            level: -2,
            max: -2,
            unit: String::new(),
        };
        for pair in text.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            match k.trim() {
                "type" => e.kind = v.trim().to_string(),
                "name" => e.name = v.trim().to_string(),
                "colorantname" if e.name.is_empty() => e.name = v.trim().to_string(),
                "level" => e.level = v.trim().parse().unwrap_or(-2),
                "maxcapacity" => e.max = v.trim().parse().unwrap_or(-2),
                "unit" => e.unit = v.trim().to_string(),
                _ => {}
            }
        }
        e
    }
}

/// What Get-Printer-Attributes says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterStatus {
    /// `printer-state`.
    pub state: PrinterState,
    /// `printer-state-reasons`, without `none`.
    pub reasons: Vec<StateReason>,
    /// `printer-state-message`.
    pub message: String,
    /// `printer-make-and-model`.
    pub make_and_model: String,
    /// `document-format-supported`.
    pub formats: Vec<String>,
    /// The markers (`marker-*`), empty when the printer has none.
    pub markers: Vec<Marker>,
    /// `printer-supply`.
    pub supplies: Vec<SupplyEntry>,
    /// `printer-input-tray`.
    pub input_trays: Vec<SupplyEntry>,
    /// `multiple-document-jobs-supported`.
    pub multiple_document_jobs: bool,
    /// `sides-supported`.
    pub sides: Vec<String>,
}

/// What Get-Job-Attributes says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// `job-state`: 3 pending, 4 held, 5 processing, 6 stopped, 7 canceled, 8 aborted,
    /// 9 completed (RFC 8011 §5.3.7).
    pub state: i32,
    /// `job-state-reasons`.
    pub reasons: Vec<String>,
    /// `job-state-message`.
    pub message: String,
    /// `job-impressions` (sides to print), when known.
    pub impressions: Option<i32>,
    /// `job-impressions-completed`, when known.
    pub impressions_completed: Option<i32>,
}

/// How an `ipps` printer's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsCheck {
    /// Against the Web PKI roots (a printer with a certificate from a public CA).
    Verify,
    /// Not at all: any certificate is taken (most printers have a self-signed one). The
    /// connection is encrypted but not authenticated: only on a trusted network.
    AcceptAny,
}

/// A client of one printer.
#[derive(Debug)]
pub struct IppClient {
    uri: PrinterUri,
    http: reqwest::Client,
    next_id: AtomicI32,
    user: String,
}

/// The attributes asked for in Get-Printer-Attributes.
const PRINTER_ATTRIBUTES: [&str; 14] = [
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-make-and-model",
    "document-format-supported",
    "marker-names",
    "marker-types",
    "marker-levels",
    "printer-supply",
    "printer-input-tray",
    "multiple-document-jobs-supported",
    "sides-supported",
    "printer-is-accepting-jobs",
    "operations-supported",
];

const JOB_ATTRIBUTES: [&str; 5] = [
    "job-state",
    "job-state-reasons",
    "job-state-message",
    "job-impressions",
    "job-impressions-completed",
];

fn encode_err(operation: &'static str) -> impl Fn(ipp::parser::IppParseError) -> IppError {
    move |e| IppError::Encode {
        operation,
        detail: e.to_string(),
    }
}

impl IppClient {
    /// A client of the printer at `uri`; `timeout` bounds each request (connecting
    /// included). Building the HTTP client can fail only on a broken TLS setup.
    pub fn new(uri: PrinterUri, tls: TlsCheck, timeout: Duration) -> Result<Self, IppError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .danger_accept_invalid_certs(tls == TlsCheck::AcceptAny)
            .build()
            .map_err(|e| IppError::Unreachable {
                url: uri.http_url.clone(),
                detail: format!("cannot set up HTTP: {e}"),
            })?;
        Ok(IppClient {
            uri,
            http,
            next_id: AtomicI32::new(1),
            user: "rekam".to_string(),
        })
    }

    /// The printer's URI.
    pub fn uri(&self) -> &PrinterUri {
        &self.uri
    }

    fn request(&self, op: Operation, name: &'static str) -> Result<IppRequestResponse, IppError> {
        let mut req =
            IppRequestResponse::new(IppVersion::v1_1(), op, None).map_err(encode_err(name))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff;
        req.header_mut().request_id = id.max(1);
        self.add(
            &mut req,
            name,
            "printer-uri",
            IppValue::new_uri(self.uri.uri.clone()),
        )?;
        self.add(
            &mut req,
            name,
            "requesting-user-name",
            IppValue::new_name_without_language(self.user.clone()),
        )?;
        Ok(req)
    }

    fn add(
        &self,
        req: &mut IppRequestResponse,
        operation: &'static str,
        attr: &str,
        value: Result<IppValue, ipp::parser::IppParseError>,
    ) -> Result<(), IppError> {
        let value = value.map_err(encode_err(operation))?;
        let attr = IppAttribute::with_name(attr, value).map_err(encode_err(operation))?;
        req.attributes_mut()
            .add(DelimiterTag::OperationAttributes, attr);
        Ok(())
    }

    fn keywords(list: &[&str]) -> Result<IppValue, ipp::parser::IppParseError> {
        list.iter()
            .map(|k| IppValue::new_keyword(*k))
            .collect::<Result<Vec<_>, _>>()
            .map(IppValue::Array)
    }

    async fn send(
        &self,
        operation: &'static str,
        req: IppRequestResponse,
        document: Option<&[u8]>,
    ) -> Result<IppRequestResponse, IppError> {
        let head = req.to_bytes();
        let mut body = BytesMut::with_capacity(head.len() + document.map_or(0, <[u8]>::len));
        body.put(head);
        if let Some(doc) = document {
            body.put_slice(doc);
        }
        let url = &self.uri.http_url;
        let unreachable = |e: reqwest::Error| IppError::Unreachable {
            url: url.clone(),
            detail: error_chain(&e),
        };
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "application/ipp")
            .body(body.freeze())
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(IppError::Http {
                url: url.clone(),
                status: resp.status().as_u16(),
            });
        }
        let bytes: Bytes = resp.bytes().await.map_err(unreachable)?;
        let parsed = IppParser::new(IppReader::new(Cursor::new(bytes)))
            .parse()
            .map_err(|e| IppError::Malformed {
                operation,
                detail: e.to_string(),
            })?;
        let code = parsed.header().operation_or_status as u16;
        // 0x0000-0x00ff: successful-ok and its variants (ignored or substituted attributes).
        if code > 0x00ff {
            let message = first(&parsed, DelimiterTag::OperationAttributes, "status-message")
                .map(text)
                .unwrap_or_default();
            return Err(IppError::Status {
                operation,
                code,
                message,
            });
        }
        Ok(parsed)
    }

    /// Get-Printer-Attributes: the printer's state, reasons, formats and supplies.
    pub async fn printer_status(&self) -> Result<PrinterStatus, IppError> {
        const OP: &str = "Get-Printer-Attributes";
        let mut req = self.request(Operation::GetPrinterAttributes, OP)?;
        self.add(
            &mut req,
            OP,
            "requested-attributes",
            Self::keywords(&PRINTER_ATTRIBUTES),
        )?;
        let resp = self.send(OP, req, None).await?;
        let get = |name| first(&resp, DelimiterTag::PrinterAttributes, name);
        let strings = |name| get(name).map(texts).unwrap_or_default();
        let state = match get("printer-state").and_then(integer) {
            Some(3) => PrinterState::Idle,
            Some(4) => PrinterState::Processing,
            Some(5) => PrinterState::Stopped,
            other => PrinterState::Unknown(other.unwrap_or(0)),
        };
        let names = strings("marker-names");
        let kinds = strings("marker-types");
        let levels = get("marker-levels").map(integers).unwrap_or_default();
        let markers = names
            .iter()
            .enumerate()
            .map(|(i, name)| Marker {
                name: name.clone(),
                kind: kinds.get(i).cloned().unwrap_or_default(),
                level: levels.get(i).copied().unwrap_or(-2),
            })
            .collect();
        Ok(PrinterStatus {
            state,
            reasons: strings("printer-state-reasons")
                .iter()
                .filter(|r| r.as_str() != "none")
                .map(|r| StateReason::parse(r))
                .collect(),
            message: get("printer-state-message").map(text).unwrap_or_default(),
            make_and_model: get("printer-make-and-model").map(text).unwrap_or_default(),
            formats: strings("document-format-supported"),
            markers,
            supplies: strings("printer-supply")
                .iter()
                .map(|s| SupplyEntry::parse(s))
                .collect(),
            input_trays: strings("printer-input-tray")
                .iter()
                .map(|s| SupplyEntry::parse(s))
                .collect(),
            multiple_document_jobs: matches!(
                get("multiple-document-jobs-supported"),
                Some(IppValue::Boolean(true))
            ),
            sides: strings("sides-supported"),
        })
    }

    fn job_id_of(resp: &IppRequestResponse, operation: &'static str) -> Result<i32, IppError> {
        first(resp, DelimiterTag::JobAttributes, "job-id")
            .and_then(integer)
            .ok_or_else(|| IppError::Malformed {
                operation,
                detail: "no job-id in the answer".into(),
            })
    }

    /// Print-Job: one document; returns the printer's job id.
    pub async fn print_job(
        &self,
        job_name: &str,
        format: &str,
        document: &[u8],
    ) -> Result<i32, IppError> {
        const OP: &str = "Print-Job";
        let mut req = self.request(Operation::PrintJob, OP)?;
        self.add(
            &mut req,
            OP,
            "job-name",
            IppValue::new_name_without_language(job_name),
        )?;
        self.add(
            &mut req,
            OP,
            "document-format",
            IppValue::new_mime_media_type(format),
        )?;
        let resp = self.send(OP, req, Some(document)).await?;
        Self::job_id_of(&resp, OP)
    }

    /// Create-Job for a two-sided card: `sides=two-sided-long-edge` and
    /// `multiple-document-handling=single-document`, so that the documents sent next are
    /// the pages of one card; returns the printer's job id.
    pub async fn create_duplex_job(&self, job_name: &str) -> Result<i32, IppError> {
        const OP: &str = "Create-Job";
        let mut req = self.request(Operation::CreateJob, OP)?;
        self.add(
            &mut req,
            OP,
            "job-name",
            IppValue::new_name_without_language(job_name),
        )?;
        for (name, value) in [
            ("sides", "two-sided-long-edge"),
            ("multiple-document-handling", "single-document"),
        ] {
            let attr = IppValue::new_keyword(value)
                .and_then(|v| IppAttribute::with_name(name, v))
                .map_err(encode_err(OP))?;
            req.attributes_mut().add(DelimiterTag::JobAttributes, attr);
        }
        let resp = self.send(OP, req, None).await?;
        Self::job_id_of(&resp, OP)
    }

    /// Send-Document: one document of a job made by Create-Job.
    pub async fn send_document(
        &self,
        job_id: i32,
        format: &str,
        document: &[u8],
        last: bool,
    ) -> Result<(), IppError> {
        const OP: &str = "Send-Document";
        let mut req = self.request(Operation::SendDocument, OP)?;
        self.add(&mut req, OP, "job-id", Ok(IppValue::Integer(job_id)))?;
        self.add(
            &mut req,
            OP,
            "document-format",
            IppValue::new_mime_media_type(format),
        )?;
        self.add(&mut req, OP, "last-document", Ok(IppValue::Boolean(last)))?;
        self.send(OP, req, Some(document)).await.map(drop)
    }

    /// Get-Job-Attributes: where the job is.
    pub async fn job_status(&self, job_id: i32) -> Result<JobStatus, IppError> {
        const OP: &str = "Get-Job-Attributes";
        let mut req = self.request(Operation::GetJobAttributes, OP)?;
        self.add(&mut req, OP, "job-id", Ok(IppValue::Integer(job_id)))?;
        self.add(
            &mut req,
            OP,
            "requested-attributes",
            Self::keywords(&JOB_ATTRIBUTES),
        )?;
        let resp = self.send(OP, req, None).await?;
        let get = |name| first(&resp, DelimiterTag::JobAttributes, name);
        Ok(JobStatus {
            state: get("job-state")
                .and_then(integer)
                .ok_or_else(|| IppError::Malformed {
                    operation: OP,
                    detail: "no job-state in the answer".into(),
                })?,
            reasons: get("job-state-reasons").map(texts).unwrap_or_default(),
            message: get("job-state-message").map(text).unwrap_or_default(),
            impressions: get("job-impressions").and_then(integer),
            impressions_completed: get("job-impressions-completed").and_then(integer),
        })
    }

    /// Cancel-Job.
    pub async fn cancel_job(&self, job_id: i32) -> Result<(), IppError> {
        const OP: &str = "Cancel-Job";
        let mut req = self.request(Operation::CancelJob, OP)?;
        self.add(&mut req, OP, "job-id", Ok(IppValue::Integer(job_id)))?;
        self.send(OP, req, None).await.map(drop)
    }
}

/// An error and its sources, e.g. "error sending request: connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

fn first<'a>(resp: &'a IppRequestResponse, tag: DelimiterTag, name: &str) -> Option<&'a IppValue> {
    resp.attributes()
        .groups_of(tag)
        .find_map(|g| g.get(name))
        .map(IppAttribute::value)
}

fn integer(v: &IppValue) -> Option<i32> {
    match v {
        IppValue::Integer(i) | IppValue::Enum(i) => Some(*i),
        IppValue::Array(a) => a.first().and_then(integer),
        _ => None,
    }
}

fn integers(v: &IppValue) -> Vec<i32> {
    match v {
        IppValue::Array(a) => a.iter().filter_map(integer).collect(),
        other => integer(other).into_iter().collect(),
    }
}

fn text(v: &IppValue) -> String {
    match v {
        IppValue::OctetString(b) => String::from_utf8_lossy(b).into_owned(),
        IppValue::TextWithLanguage { text, .. } => text.to_string(),
        IppValue::NameWithLanguage { name, .. } => name.to_string(),
        IppValue::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        IppValue::NonUtf8 { data, .. } => String::from_utf8_lossy(data).into_owned(),
        other => other.to_string(),
    }
}

fn texts(v: &IppValue) -> Vec<String> {
    match v {
        IppValue::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn printer_uris_are_checked_and_mapped_to_http() {
        let u = PrinterUri::parse("ipp://localhost:8631/ipp/print").unwrap();
        assert_eq!(u.http_url, "http://localhost:8631/ipp/print");
        assert!(!u.tls);
        let u = PrinterUri::parse("ipps://printer.lan/printers/card").unwrap();
        assert_eq!(u.http_url, "https://printer.lan:631/printers/card");
        assert!(u.tls);
        let u = PrinterUri::parse("ipp://[fe80::1]:631/ipp/print").unwrap();
        assert_eq!(u.http_url, "http://[fe80::1]:631/ipp/print");
        for (bad, says) in [
            ("http://printer/ipp/print", "scheme must be ipp or ipps"),
            ("ipp://printer", "no path"),
            ("ipp://printer/", "no path"),
            ("ipp://user:pw@printer/ipp/print", "user name"),
            ("ipp://printer/ipp/print?x=1", "query"),
            ("printer/ipp/print", "not a URI"),
            ("ipp:///ipp/print", "not a URI"),
        ] {
            let e = PrinterUri::parse(bad).err().unwrap();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn supply_entries_parse_pwg_5100_13_strings() {
        let e = SupplyEntry::parse(
            "index=2;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;level=75;colorantname=black;",
        );
        assert_eq!(
            (
                e.kind.as_str(),
                e.name.as_str(),
                e.level,
                e.max,
                e.unit.as_str()
            ),
            ("toner", "black", 75, 100, "percent")
        );
        let t =
            SupplyEntry::parse("type=sheetFeedAutoRemovableTray;maxcapacity=-2;level=-2;name=auto");
        assert_eq!((t.level, t.max, t.name.as_str()), (-2, -2, "auto"));
    }

    #[test]
    fn requests_encode_as_rfc_8010() {
        let c = IppClient::new(
            PrinterUri::parse("ipp://localhost:8631/ipp/print").unwrap(),
            TlsCheck::Verify,
            Duration::from_secs(1),
        )
        .unwrap();
        let mut req = c
            .request(Operation::GetJobAttributes, "Get-Job-Attributes")
            .unwrap();
        c.add(&mut req, "x", "job-id", Ok(IppValue::Integer(7)))
            .unwrap();
        let b = req.to_bytes();
        // version 1.1, operation 0x0009, request id 1, operation attributes group.
        assert_eq!(&b[..9], &[1, 1, 0x00, 0x09, 0, 0, 0, 1, 0x01]);
        // attributes-charset first (RFC 8011 §4.1.4), then the natural language.
        assert_eq!(b[9], 0x47);
        assert_eq!(&b[12..30], b"attributes-charset");
        // The target (printer-uri, then job-id) comes before the other operation
        // attributes (RFC 8011 §4.1.5), then end-of-attributes.
        let target = [
            &[0x45, 0, 11][..],
            b"printer-uri",
            &[0, 30],
            b"ipp://localhost:8631/ipp/print",
            &[0x21, 0, 6],
            b"job-id",
            &[0, 4, 0, 0, 0, 7],
        ]
        .concat();
        assert!(b.windows(target.len()).any(|w| w == target), "{b:x?}");
        let tail = [
            &[0x42, 0, 20][..],
            b"requesting-user-name",
            &[0, 5],
            b"rekam",
            &[0x03],
        ]
        .concat();
        assert!(b.ends_with(&tail), "{b:x?}");
        // It decodes back to the same attributes.
        let back = IppParser::new(IppReader::new(Cursor::new(b)))
            .parse()
            .unwrap();
        let get = |n| first(&back, DelimiterTag::OperationAttributes, n).map(text);
        assert_eq!(
            get("printer-uri").as_deref(),
            Some("ipp://localhost:8631/ipp/print")
        );
        assert_eq!(get("requesting-user-name").as_deref(), Some("rekam"));
    }
}
