//! A driver for Wacom ISDV4 / W8001 serial pen digitizers, for rekam, the KTP-el
//! enrollment station daemon: the pen sensors of serial signature pads and of tablet PCs,
//! reached on a serial port (`signature:isdv4:/dev/ttyS4`). The driver implements
//! [`rekam_core::SignaturePad`] as [`Isdv4Pad`], opened through [`ISDV4_DRIVER`]; the crate
//! also holds [`Isdv4Sim`], the digitizer simulated on the far end of a real
//! pseudo-terminal (`rekam-sim isdv4`), which is what the driver's tests talk to.
//!
//! * [`protocol`]: the commands, the pen packet and the query reply as bytes, and a
//!   streaming decoder that resynchronises on the lead bit;
//! * [`Isdv4Pad`] ([`pad`]): the actor thread that owns the port, the signature rule,
//!   reconnection, counters and the self-test;
//! * [`ISDV4_DRIVER`] ([`driver`]): the [`rekam_core::DriverFactory`] and its options;
//! * [`Isdv4Sim`] ([`sim`]): the simulated digitizer, its traces and faults.
//!
//! # What is implemented, and where it comes from
//!
//! No Wacom specification of ISDV4 is public. The protocol was learnt by reading (not
//! copying) the Linux kernel's `drivers/input/touchscreen/wacom_w8001.c` and
//! xf86-input-wacom's `src/isdv4.h` and `src/wcmISDV4.c`:
//!
//! | what | bytes | source |
//! |---|---|---|
//! | stop `0`, start `1`, query `*` | one ASCII byte from the host, no answer but to the query | kernel `W8001_CMD_STOP/START/QUERY`, xf86 `ISDV4_STOP/SAMPLING/QUERY` |
//! | the query reply | 11 bytes: lead + control bit, max x/y (16 bits over 7+7+2), max pressure (10 bits), tilt maxima, firmware version (14 bits) | kernel `w8001_setup` (`parse_pen_data` on the reply), xf86 `isdv4ParseQuery` |
//! | the pen packet | 9 bytes: lead bit, proximity, tip, side switches; x, y (16 bits), pressure (10 bits), tilt | kernel `parse_pen_data`, xf86 `isdv4ParseCoordinateData` |
//! | resynchronisation | a packet starts at a byte with the top bit set; no other byte has it | kernel `w8001_interrupt`, xf86 `wcmSerialValidate` |
//! | stop, wait 250 ms, query; one second for the answer | | kernel `w8001_setup` and `w8001_command` |
//! | 19200 baud, else 38400 | | xf86 `isdv4ParseOptions` and `isdv4GetRanges` (`inputattach --w8001` uses 38400) |
//! | 100 units per millimetre | | kernel `W8001_PEN_RESOLUTION`, xf86 `ISDV4_PEN_RESOLUTION` |
//!
//! Not implemented: touch (finger) packets, which are skipped and counted (their length
//! needs the touch query `%`), tilt, and the eraser as a tool (its bit is read but does not
//! change the ink).
//!
//! # Assumptions (to check on a real pad)
//!
//! * **Size.** The query gives the coordinate maxima but not the resolution: the pad's
//!   size in millimetres assumes the 100 units/mm both Linux drivers use, unless the
//!   `units_per_mm` option says otherwise. Units are taken as square.
//! * **Sample rate.** 133 samples/s ([`pad::NOMINAL_SAMPLE_RATE_HZ`]) is the commonly quoted
//!   rate of Wacom's penabled sensors, not read from a W8001 document; it is only reported
//!   and used to date packets read together, and it is capped by what the baud rate
//!   carries. `sample_rate_hz` overrides it.
//! * **Timing.** Packets carry no time: `t_ms` is when the host read them, dated back one
//!   sample period per packet read in the same chunk (a USB adapter batches them).
//! * **The end of a signature.** The digitizer has no "done" button: the signature ends
//!   when the pen has not touched the pad for `finish_ms` (1500 ms) after ink. A pen that
//!   touched and then fell silent without an out-of-proximity packet is lifted after
//!   150 ms.
//! * **Silence.** A digitizer sends nothing while the pen is away, so silence during a
//!   signature is normal; a digitizer behind a hardware UART that lost power is noticed
//!   by the idle keepalive query (`keepalive_ms`), a USB adapter's unplugging at once.
//! * **Identity.** ISDV4 has no serial number: [`rekam_core::DeviceInfo::serial`] is empty
//!   and the firmware is the query's version number.
//! * **Record and replay.** The port is behind the [`Line`] / [`Opener`] traits: the
//!   option `record = "/path"` writes every byte both ways with its timing, `replay =
//!   "/path"` plays such a recording back into the driver instead of opening the port
//!   ([`record`]).

pub mod driver;
pub mod pad;
pub mod port;
pub mod protocol;
pub mod record;
pub mod sim;

pub use driver::{ISDV4_DRIVER, Isdv4Driver, config_from_options};
pub use pad::{
    DEFAULT_BAUDS, DRIVER_NAME, Isdv4Config, Isdv4Pad, NOMINAL_SAMPLE_RATE_HZ, PacketStats,
    QueryOutcome,
};
pub use port::{Line, LineFault, Opener, PERMISSION_HELP, SerialOpener};
pub use protocol::{Decoder, PenPacket, QueryReply};
pub use record::{RecordingOpener, ReplayOpener};
pub use sim::{GARBAGE, Isdv4Sim, SILENCE, SimConfig, TRUNCATE, trace_packets};
