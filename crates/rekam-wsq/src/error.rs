//! The error type of the codec.

/// Everything that can go wrong while encoding or decoding WSQ data.
///
/// Decoding never panics on malformed input: every defect of the byte stream is reported as one
/// of these variants, with the byte offset where it was found when that is meaningful.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsqError {
    /// The caller passed arguments the encoder cannot use (wrong buffer length, bad bit rate, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The image is too small for the five-level WSQ decomposition (every wavelet band must be at
    /// least 5 samples long) or larger than the 65535 × 65535 the frame header can carry.
    #[error("unsupported image size {width}x{height}: {reason}")]
    BadDimensions {
        /// Image width in pixels.
        width: u32,
        /// Image height in pixels.
        height: u32,
        /// Why the size is refused.
        reason: &'static str,
    },

    /// The data ended before a complete marker segment or coded block was read.
    #[error("WSQ data truncated at byte {offset} while reading {what}")]
    Truncated {
        /// Byte offset at which more data was needed.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },

    /// A marker that is not allowed at this point of the stream.
    #[error("unexpected marker 0x{marker:04X} at byte {offset} (expected {expected})")]
    UnexpectedMarker {
        /// The 16-bit value found where a marker was expected.
        marker: u16,
        /// Byte offset of the marker.
        offset: usize,
        /// What the decoder expected.
        expected: &'static str,
    },

    /// A marker segment (table, frame header, block header, comment) is malformed.
    #[error("malformed {segment} segment at byte {offset}: {reason}")]
    Malformed {
        /// The segment kind (`"DTT"`, `"DQT"`, `"DHT"`, `"SOF"`, `"SOB"`, `"COM"`, …).
        segment: &'static str,
        /// Byte offset of the segment's marker.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// The Huffman-coded coefficient data is inconsistent with the tables or the frame.
    #[error("corrupt coded data in block at byte {offset}: {reason}")]
    CorruptData {
        /// Byte offset of the block's SOB marker.
        offset: usize,
        /// What is wrong.
        reason: String,
    },

    /// A valid but unsupported feature of the WSQ specification (for example even-length filter
    /// banks, which NBIS never writes).
    #[error("unsupported WSQ feature: {0}")]
    Unsupported(String),

    /// The frame claims more pixels than the decoder's limit allows
    /// (see [`crate::DecodeOptions::max_pixels`]).
    #[error("image of {pixels} pixels exceeds the decoder limit of {limit} pixels")]
    TooLarge {
        /// Pixels claimed by the frame header.
        pixels: u64,
        /// The configured limit.
        limit: u64,
    },
}
