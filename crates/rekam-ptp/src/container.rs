//! PTP containers as the USB Still Image Capture class carries them, and the codes the
//! driver uses.
//!
//! Every bulk transfer of a transaction and every interrupt event is one container: a
//! 12-byte header (length `u32`, container type `u16`, code `u16`, transaction id `u32`,
//! all little-endian) and then either up to five `u32` parameters (command, response and
//! event containers) or the data phase's payload (a data container).

use std::fmt;

/// Operation codes (ISO 15740 clause 10.4, vendor codes from libgphoto2's `ptp.h`).
pub mod op {
    /// GetDeviceInfo (ISO 15740 10.5.1).
    pub const GET_DEVICE_INFO: u16 = 0x1001;
    /// OpenSession (10.5.2).
    pub const OPEN_SESSION: u16 = 0x1002;
    /// CloseSession (10.5.3).
    pub const CLOSE_SESSION: u16 = 0x1003;
    /// GetObjectInfo (10.5.8).
    pub const GET_OBJECT_INFO: u16 = 0x1008;
    /// GetObject (10.5.9).
    pub const GET_OBJECT: u16 = 0x1009;
    /// DeleteObject (10.5.11).
    pub const DELETE_OBJECT: u16 = 0x100B;
    /// InitiateCapture (10.5.14).
    pub const INITIATE_CAPTURE: u16 = 0x100E;
    /// Canon EOS SetDevicePropValueEx (libgphoto2 `PTP_OC_CANON_EOS_SetDevicePropValueEx`).
    pub const EOS_SET_DEVICE_PROP_VALUE_EX: u16 = 0x9110;
    /// Canon EOS SetRemoteMode.
    pub const EOS_SET_REMOTE_MODE: u16 = 0x9114;
    /// Canon EOS SetEventMode.
    pub const EOS_SET_EVENT_MODE: u16 = 0x9115;
    /// Canon EOS GetEvent (the polled event queue).
    pub const EOS_GET_EVENT: u16 = 0x9116;
    /// Canon EOS GetViewFinderData (one live view frame).
    pub const EOS_GET_VIEWFINDER_DATA: u16 = 0x9153;
    /// Nikon StartLiveView.
    pub const NIKON_START_LIVE_VIEW: u16 = 0x9201;
    /// Nikon EndLiveView.
    pub const NIKON_END_LIVE_VIEW: u16 = 0x9202;
    /// Nikon GetLiveViewImg.
    pub const NIKON_GET_LIVE_VIEW_IMAGE: u16 = 0x9203;
}

/// Response codes (ISO 15740 clause 11, vendor codes from libgphoto2's `ptp.h`).
pub mod rc {
    /// Undefined.
    pub const UNDEFINED: u16 = 0x2000;
    /// OK.
    pub const OK: u16 = 0x2001;
    /// General Error.
    pub const GENERAL_ERROR: u16 = 0x2002;
    /// Session Not Open.
    pub const SESSION_NOT_OPEN: u16 = 0x2003;
    /// Invalid TransactionID.
    pub const INVALID_TRANSACTION_ID: u16 = 0x2004;
    /// Operation Not Supported.
    pub const OPERATION_NOT_SUPPORTED: u16 = 0x2005;
    /// Parameter Not Supported.
    pub const PARAMETER_NOT_SUPPORTED: u16 = 0x2006;
    /// Incomplete Transfer.
    pub const INCOMPLETE_TRANSFER: u16 = 0x2007;
    /// Invalid StorageID.
    pub const INVALID_STORAGE_ID: u16 = 0x2008;
    /// Invalid ObjectHandle.
    pub const INVALID_OBJECT_HANDLE: u16 = 0x2009;
    /// Store Full.
    pub const STORE_FULL: u16 = 0x200C;
    /// Store Read-Only.
    pub const STORE_READ_ONLY: u16 = 0x200E;
    /// Access Denied.
    pub const ACCESS_DENIED: u16 = 0x200F;
    /// Store Not Available.
    pub const STORE_NOT_AVAILABLE: u16 = 0x2013;
    /// Device Busy.
    pub const DEVICE_BUSY: u16 = 0x2019;
    /// Invalid Parameter.
    pub const INVALID_PARAMETER: u16 = 0x201D;
    /// Session Already Open.
    pub const SESSION_ALREADY_OPEN: u16 = 0x201E;
    /// Transaction Cancelled.
    pub const TRANSACTION_CANCELLED: u16 = 0x201F;
    /// Canon EOS: unknown command.
    pub const CANON_UNKNOWN_COMMAND: u16 = 0xA001;
    /// Canon EOS: operation refused.
    pub const CANON_OPERATION_REFUSED: u16 = 0xA005;
    /// Canon EOS: lens cover closed.
    pub const CANON_LENS_COVER: u16 = 0xA006;
    /// Canon EOS: battery low.
    pub const CANON_BATTERY_LOW: u16 = 0xA101;
    /// Canon EOS: not ready (object or viewfinder frame not there yet).
    pub const CANON_NOT_READY: u16 = 0xA102;
}

/// Event codes (ISO 15740 clause 12, vendor codes from libgphoto2's `ptp.h`).
pub mod ev {
    /// ObjectAdded: parameter 1 is the new object's handle.
    pub const OBJECT_ADDED: u16 = 0x4002;
    /// DeviceInfoChanged.
    pub const DEVICE_INFO_CHANGED: u16 = 0x4008;
    /// StoreFull.
    pub const STORE_FULL: u16 = 0x400A;
    /// CaptureComplete: parameter 1 is the InitiateCapture's transaction id.
    pub const CAPTURE_COMPLETE: u16 = 0x400D;
    /// Canon EOS ObjectAddedEx, as a record of GetEvent's data.
    pub const EOS_OBJECT_ADDED_EX: u32 = 0xC181;
    /// Canon EOS PropValueChanged, as a record of GetEvent's data.
    pub const EOS_PROP_VALUE_CHANGED: u32 = 0xC189;
}

/// Device property codes.
pub mod prop {
    /// Canon EOS EVF output device (bit 0 the camera's screen, bit 1 the PC).
    pub const EOS_EVF_OUTPUT_DEVICE: u32 = 0xD1B0;
}

/// Object format codes (ISO 15740 clause 6.2).
pub mod format {
    /// EXIF/JPEG.
    pub const EXIF_JPEG: u16 = 0x3801;
}

/// PTP vendor extension ids (libgphoto2's `PTP_VENDOR_*`).
pub mod vendor {
    /// Microsoft (MTP), which some newer cameras report instead of their own.
    pub const MICROSOFT: u32 = 0x0000_0006;
    /// Nikon.
    pub const NIKON: u32 = 0x0000_000A;
    /// Canon.
    pub const CANON: u32 = 0x0000_000B;
}

/// The header's length: length, type, code, transaction id.
pub const HEADER_LEN: usize = 12;
/// The most parameters a command, response or event carries.
pub const MAX_PARAMS: usize = 5;

/// The container type (USB Still Image Capture Device Definition 1.0, clause 7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerType {
    /// A command block (1).
    Command,
    /// A data block (2).
    Data,
    /// A response block (3).
    Response,
    /// An event block (4).
    Event,
}

impl ContainerType {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            ContainerType::Command => 1,
            ContainerType::Data => 2,
            ContainerType::Response => 3,
            ContainerType::Event => 4,
        }
    }

    /// Parses the code on the wire.
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            1 => Some(ContainerType::Command),
            2 => Some(ContainerType::Data),
            3 => Some(ContainerType::Response),
            4 => Some(ContainerType::Event),
            _ => None,
        }
    }
}

/// A container that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// Fewer bytes than a header.
    #[error("container of {0} bytes is shorter than its 12-byte header")]
    Short(usize),
    /// The length field is below the header's length or disagrees with the bytes.
    #[error("container length field {field} does not match {actual} bytes received")]
    Length {
        /// The length the header states.
        field: u32,
        /// The bytes there are.
        actual: usize,
    },
    /// An unknown container type.
    #[error("unknown container type {0}")]
    Type(u16),
    /// A parameter block that is not a whole number of `u32`s, or more than five.
    #[error("{0} bytes of parameters: not 0 to 5 whole parameters")]
    Params(usize),
}

/// One PTP container.
#[derive(Clone, PartialEq, Eq)]
pub struct Container {
    /// Its type.
    pub kind: ContainerType,
    /// The operation, response or event code (a data container repeats the operation's).
    pub code: u16,
    /// The transaction it belongs to.
    pub transaction_id: u32,
    /// The parameters (command, response, event); empty for data.
    pub params: Vec<u32>,
    /// The payload (data); empty otherwise.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Container")
            .field("kind", &self.kind)
            .field("code", &format_args!("0x{:04X}", self.code))
            .field("transaction_id", &self.transaction_id)
            .field("params", &self.params)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl Container {
    /// A command with its parameters (at most five are sent).
    pub fn command(code: u16, transaction_id: u32, params: &[u32]) -> Self {
        Self::with_params(ContainerType::Command, code, transaction_id, params)
    }

    /// A response with its parameters.
    pub fn response(code: u16, transaction_id: u32, params: &[u32]) -> Self {
        Self::with_params(ContainerType::Response, code, transaction_id, params)
    }

    /// An event with its parameters.
    pub fn event(code: u16, transaction_id: u32, params: &[u32]) -> Self {
        Self::with_params(ContainerType::Event, code, transaction_id, params)
    }

    /// A data container.
    pub fn data(code: u16, transaction_id: u32, payload: Vec<u8>) -> Self {
        Container {
            kind: ContainerType::Data,
            code,
            transaction_id,
            params: Vec::new(),
            payload,
        }
    }

    fn with_params(kind: ContainerType, code: u16, transaction_id: u32, params: &[u32]) -> Self {
        Container {
            kind,
            code,
            transaction_id,
            params: params.iter().copied().take(MAX_PARAMS).collect(),
            payload: Vec::new(),
        }
    }

    /// The length on the wire.
    pub fn len(&self) -> usize {
        HEADER_LEN + self.params.len() * 4 + self.payload.len()
    }

    /// Never true: a container has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Parameter `i` (from 0), 0 when absent.
    pub fn param(&self, i: usize) -> u32 {
        self.params.get(i).copied().unwrap_or(0)
    }

    /// The bytes on the wire. A data container longer than 4 GiB cannot be sent.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        let len = u32::try_from(self.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&self.kind.code().to_le_bytes());
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend_from_slice(&self.transaction_id.to_le_bytes());
        for p in &self.params {
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// Reads the header: (length, type code, code, transaction id).
    pub fn peek_header(bytes: &[u8]) -> Result<(u32, u16, u16, u32), ContainerError> {
        let h = bytes
            .get(..HEADER_LEN)
            .ok_or(ContainerError::Short(bytes.len()))?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let kind = u16::from_le_bytes([h[4], h[5]]);
        let code = u16::from_le_bytes([h[6], h[7]]);
        let tid = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        Ok((len, kind, code, tid))
    }

    /// Decodes exactly one container: `bytes` must be as long as its length field says.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContainerError> {
        let (len, kind, code, transaction_id) = Self::peek_header(bytes)?;
        if (len as usize) < HEADER_LEN || len as usize != bytes.len() {
            return Err(ContainerError::Length {
                field: len,
                actual: bytes.len(),
            });
        }
        let kind = ContainerType::from_code(kind).ok_or(ContainerError::Type(kind))?;
        let body = &bytes[HEADER_LEN..];
        let mut c = Container {
            kind,
            code,
            transaction_id,
            params: Vec::new(),
            payload: Vec::new(),
        };
        if kind == ContainerType::Data {
            c.payload = body.to_vec();
        } else {
            if body.len() % 4 != 0 || body.len() > MAX_PARAMS * 4 {
                return Err(ContainerError::Params(body.len()));
            }
            c.params = body
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
        }
        Ok(c)
    }
}

/// The name of a response code, for messages.
pub fn response_name(code: u16) -> &'static str {
    match code {
        rc::UNDEFINED => "Undefined",
        rc::OK => "OK",
        rc::GENERAL_ERROR => "General Error",
        rc::SESSION_NOT_OPEN => "Session Not Open",
        rc::INVALID_TRANSACTION_ID => "Invalid TransactionID",
        rc::OPERATION_NOT_SUPPORTED => "Operation Not Supported",
        rc::PARAMETER_NOT_SUPPORTED => "Parameter Not Supported",
        rc::INCOMPLETE_TRANSFER => "Incomplete Transfer",
        rc::INVALID_STORAGE_ID => "Invalid StorageID",
        rc::INVALID_OBJECT_HANDLE => "Invalid ObjectHandle",
        rc::STORE_FULL => "Store Full",
        rc::STORE_READ_ONLY => "Store Read-Only",
        rc::ACCESS_DENIED => "Access Denied",
        rc::STORE_NOT_AVAILABLE => "Store Not Available",
        rc::DEVICE_BUSY => "Device Busy",
        rc::INVALID_PARAMETER => "Invalid Parameter",
        rc::SESSION_ALREADY_OPEN => "Session Already Open",
        rc::TRANSACTION_CANCELLED => "Transaction Cancelled",
        rc::CANON_UNKNOWN_COMMAND => "Canon: Unknown Command",
        rc::CANON_OPERATION_REFUSED => "Canon: Operation Refused",
        rc::CANON_LENS_COVER => "Canon: Lens Cover Closed",
        rc::CANON_BATTERY_LOW => "Canon: Battery Low",
        rc::CANON_NOT_READY => "Canon: Not Ready",
        _ => "unknown response",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn open_session_command_bytes() {
        // OpenSession(session 1) with transaction id 0: 16 bytes.
        let c = Container::command(op::OPEN_SESSION, 0, &[1]);
        assert_eq!(
            c.encode(),
            [
                0x10, 0, 0, 0, // length 16
                0x01, 0x00, // command
                0x02, 0x10, // 0x1002
                0, 0, 0, 0, // transaction 0
                1, 0, 0, 0, // session id 1
            ]
        );
    }

    #[test]
    fn response_with_two_params_decodes() {
        let bytes = [
            0x14, 0, 0, 0, 0x03, 0x00, 0x01, 0x20, 0x07, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 0xFF, 0,
            0, 0,
        ];
        let c = Container::decode(&bytes).unwrap();
        assert_eq!(c.kind, ContainerType::Response);
        assert_eq!(c.code, rc::OK);
        assert_eq!(c.transaction_id, 7);
        assert_eq!(c.params, [0x1234_5678, 0xFF]);
        assert_eq!(c.encode(), bytes);
    }

    #[test]
    fn data_container_round_trips() {
        let c = Container::data(op::GET_OBJECT, 0x0102_0304, vec![0xFF, 0xD8, 0xFF, 0xD9]);
        let b = c.encode();
        assert_eq!(&b[..12], &[16, 0, 0, 0, 2, 0, 0x09, 0x10, 4, 3, 2, 1]);
        assert_eq!(Container::decode(&b).unwrap(), c);
    }

    #[test]
    fn malformed_containers_are_refused() {
        assert_eq!(Container::decode(&[1, 2, 3]), Err(ContainerError::Short(3)));
        // Length field says 20, 16 bytes given.
        let mut b = Container::response(rc::OK, 1, &[5]).encode();
        b[0] = 20;
        assert!(matches!(
            Container::decode(&b),
            Err(ContainerError::Length {
                field: 20,
                actual: 16
            })
        ));
        // Type 9.
        let mut b = Container::response(rc::OK, 1, &[]).encode();
        b[4] = 9;
        assert_eq!(Container::decode(&b), Err(ContainerError::Type(9)));
        // A response with 2 stray bytes.
        let mut b = Container::response(rc::OK, 1, &[]).encode();
        b.extend_from_slice(&[0, 0]);
        b[0] = 14;
        assert_eq!(Container::decode(&b), Err(ContainerError::Params(2)));
    }

    #[test]
    fn at_most_five_params_are_kept() {
        let c = Container::command(op::INITIATE_CAPTURE, 3, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(c.params.len(), 5);
        assert_eq!(c.len(), 32);
    }
}
