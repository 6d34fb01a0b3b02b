//! Wavelet Scalar Quantization (WSQ): the FBI's compression for 500 ppi greyscale fingerprint
//! images (CJIS specification IAFIS-IC-0110 v3.1), encoder and decoder, in pure Rust.
//!
//! The files interoperate both ways with NIST's NBIS `cwsq`/`dwsq`, the reference
//! implementation: the decoder reproduces `dwsq`'s pixels exactly, and with
//! [`RateControl::Model`] the encoder produces the same bytes as `cwsq` (same bin widths from
//! the specification's rate model, same Huffman tables, same NISTCOM comment). The default,
//! [`RateControl::Exact`], scales those bin widths so that the file meets the requested bit
//! rate, which the open-loop model of the specification often misses by a factor of two or
//! three.
//!
//! ```
//! let (w, h) = (200u32, 180u32);
//! let pixels: Vec<u8> = (0..w * h)
//!     .map(|i| (128.0 + 90.0 * ((i % w) as f32 * 0.6).sin()) as u8)
//!     .collect();
//! let wsq = rekam_wsq::encode(&pixels, w, h, &rekam_wsq::EncodeOptions::default())?;
//! let info = rekam_wsq::info(&wsq)?;
//! assert_eq!((info.width, info.height, info.ppi), (200, 180, Some(500)));
//! let back = rekam_wsq::decode(&wsq)?;
//! assert_eq!(back.pixels.len(), pixels.len());
//! # Ok::<(), rekam_wsq::WsqError>(())
//! ```
//!
//! What is supported: 8-bit greyscale images from 81 × 81 up to 65535 × 65535 pixels (NBIS's
//! `cwsq` tool itself refuses images under 256 × 256, but `dwsq` decodes the smaller ones this
//! crate writes); any number of coded blocks and Huffman tables; comments anywhere between
//! segments; restart markers (`DRT`, `RST0`–`RST7`, which NBIS does not handle) inside coded
//! data, where they re-align the bit reader. Refused with an error: the even-length filter banks
//! the specification also allows (NBIS never writes them) and transform or quantization tables
//! redefined after coded data. The decoder never panics on malformed input (a proptest in the
//! test suite and a cargo-fuzz target in `fuzz/` check this) and bounds its allocations
//! ([`DecodeOptions::max_pixels`]).
//!
//! Speed, on one core: a 500 ppi 800 × 750 finger encodes in about 3 ms ([`RateControl::Model`])
//! or 5 ms ([`RateControl::Exact`]) and decodes in about 3 ms, several times faster than NBIS
//! (see `benches/wsq.rs`). The arithmetic is single precision, vectorizable and ordered like
//! NBIS's, which is what makes the results bit-identical.

mod bits;
mod decode;
mod encode;
mod error;
mod format;
mod huffman;
mod quant;
mod transform;
mod tree;

pub use error::WsqError;

/// Encoder settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    /// Target bit rate in bits per pixel, in (0, 8]. 0.75 is the usual setting for 500 ppi
    /// fingerprints and 2.25 the other common one; NBIS documents them as about 15:1 and 5:1,
    /// which is what its open-loop rate model ([`RateControl::Model`]) typically yields, while a
    /// file of exactly 0.75 bpp ([`RateControl::Exact`]) is 10.7:1.
    pub bitrate: f32,
    /// Scan resolution written to the NISTCOM comment (`PPI -1` when `None`).
    pub ppi: Option<u16>,
    /// Extra comments, each written in its own COM segment after the NISTCOM.
    pub comments: Vec<String>,
    /// How the bin widths are chosen for the bit rate.
    pub rate_control: RateControl,
}

/// How the encoder turns the requested bit rate into quantizer bin widths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RateControl {
    /// Start from the specification's rate model and scale all bin widths together until the
    /// file is within about 1.5 % of `bitrate` bits per pixel (a few extra quantization passes,
    /// most of them on a quarter of the rows).
    /// The relative bin widths, and hence the character of the loss, stay those of the
    /// specification. Two limits: on tiny images, where the ~600 bytes of tables approach the
    /// whole budget, the coded data still gets half the budget (so the file is larger than
    /// asked); and an image with little detail may not be able to use a high rate (WSQ drops
    /// the finest diagonal band, and bins are not made finer than 16-bit coefficients allow).
    #[default]
    Exact,
    /// The specification's rate model alone ("encoder number one" parameter settings), as
    /// NBIS `cwsq` does: the output is byte-identical to cwsq's (for every image cwsq accepts,
    /// that is from 256 × 256 on; below, where NBIS's variance windows hold too few samples,
    /// this crate measures whole subbands instead). The model is open loop, so the
    /// file can be much smaller than `bitrate` asks (clean, high-contrast prints with much
    /// background often come out at a third of it).
    Model,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            bitrate: 0.75,
            ppi: Some(500),
            comments: Vec::new(),
            rate_control: RateControl::Exact,
        }
    }
}

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Largest image (width × height) the decoder accepts; larger frames give
    /// [`WsqError::TooLarge`] before anything is allocated. Default 2²⁵ (a 500 ppi 8" × 8" card
    /// is 16 million pixels).
    pub max_pixels: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: 1 << 25,
        }
    }
}

/// A decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Scan resolution from the NISTCOM comment, if there is one with a positive `PPI`.
    pub ppi: Option<u16>,
    /// Row-major 8-bit greyscale pixels, `width * height` of them.
    pub pixels: Vec<u8>,
    /// Text of the COM segments other than the NISTCOM, in file order.
    pub comments: Vec<String>,
}

/// Header information, read without decoding the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Scan resolution from the NISTCOM comment, if there is one with a positive `PPI`.
    pub ppi: Option<u16>,
    /// Black calibration value of the frame header.
    pub black: u8,
    /// White calibration value of the frame header.
    pub white: u8,
    /// The shift added back after reconstruction (the encoder's image mean).
    pub mean: f32,
    /// The scale applied after reconstruction.
    pub scale: f32,
    /// Encoder number of the frame header (2 for NBIS and this crate).
    pub encoder: u8,
    /// Software implementation number of the frame header (0 for NBIS and this crate).
    pub software: u16,
    /// Target bit rate recorded in the NISTCOM comment (`WSQ_BITRATE`).
    pub bitrate: Option<f32>,
    /// `(name, value)` pairs of the NISTCOM comment, empty without one.
    pub nistcom: Vec<(String, String)>,
    /// Text of the COM segments other than the NISTCOM that precede the coded data.
    pub comments: Vec<String>,
    /// Restart interval, when a DRT segment precedes the coded data.
    pub restart_interval: Option<u16>,
}

/// Encodes a row-major 8-bit greyscale image (`pixels.len() == width * height`).
///
/// The file starts with a NISTCOM comment (`NIST_COM`, `PIX_WIDTH`, `PIX_HEIGHT`,
/// `PIX_DEPTH 8`, `PPI`, `LOSSY 1`, `COLORSPACE GRAY`, `COMPRESSION WSQ`, `WSQ_BITRATE`), then
/// `opts.comments`, the transform and quantization tables, the frame header and three coded
/// blocks, exactly as NBIS's `cwsq` lays it out.
pub fn encode(
    pixels: &[u8],
    width: u32,
    height: u32,
    opts: &EncodeOptions,
) -> Result<Vec<u8>, WsqError> {
    encode::encode(pixels, width, height, opts)
}

/// Decodes a WSQ file with the default [`DecodeOptions`].
pub fn decode(data: &[u8]) -> Result<Decoded, WsqError> {
    decode::decode(data, &DecodeOptions::default())
}

/// Decodes a WSQ file.
pub fn decode_with(data: &[u8], opts: &DecodeOptions) -> Result<Decoded, WsqError> {
    decode::decode(data, opts)
}

/// Reads the header segments (up to the first coded block) without decoding the image.
pub fn info(data: &[u8]) -> Result<Info, WsqError> {
    decode::info(data)
}
