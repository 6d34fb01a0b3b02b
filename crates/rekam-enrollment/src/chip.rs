//! The chip profile the encode step writes and checks (layout and security object from
//! `rekam-chip`, modelled on ICAO Doc 9303): EF.COM, the data groups the formats make (DG1
//! demographics, DG2 face, DG3 index-finger minutiae, DG7 signature) fitted into the chip's
//! capacity, and EF.SOD signed by the station's document signer; then the verdict on what
//! the chip gives back (every hash, the signature, the signer's chain to the issuer CA).
//!
//! Fitting: an 8 KB chip (the KTP-el's first generation) cannot hold the 240 x 320 portrait
//! at the camera's quality. When the whole profile (each file plus the chip's per-file
//! overhead) does not fit, the face and then the signature are re-encoded smaller, step by
//! step down a fixed ladder, until it does; the text and minutiae are never cut. The steps
//! are deterministic, and so is the security object (ECDSA with RFC 6979 nonces, the
//! enrollment's creation time as signing time): the same enrollment and signer always give
//! the same bytes, which is what lets `Pipeline::verify` check the chip files in the chain.

use std::sync::Arc;

use image::{ImageEncoder, imageops::FilterType};
use rekam_chip::profile::{FID_EF_COM, FID_EF_SOD, dg_number_of_fid, dg_tag};
use rekam_chip::{DocumentSigner, Profile};
use rekam_core::ChipFile;

use crate::error::EnrollmentError;
use crate::formats;
use crate::model::Enrollment;

/// The LDS version EF.COM announces.
const LDS_VERSION: &str = "0108";
/// The Unicode version EF.COM announces.
const UNICODE_VERSION: &str = "040000";

/// What the encode step needs to make and check a chip.
#[derive(Clone)]
pub struct ChipConfig {
    /// The application and the chip's capacity.
    pub profile: Profile,
    /// Signs EF.SOD.
    pub signer: Arc<DocumentSigner>,
    /// The issuer CA certificates (DER) a chip's signer must chain to.
    pub trust_anchors: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ChipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChipConfig")
            .field("profile", &self.profile)
            .field("trust_anchors", &self.trust_anchors.len())
            .finish_non_exhaustive()
    }
}

fn chip_error(e: rekam_chip::ChipError) -> EnrollmentError {
    EnrollmentError::Format(format!("chip profile: {e}"))
}

impl ChipConfig {
    /// A development issuer made now, in memory: a CA named `issuer` and a document signer
    /// under it, 8 KB chips. For tests and a station without a configured issuer; a chip
    /// signed by it verifies only against this CA.
    pub fn development(issuer: &str) -> Result<Self, EnrollmentError> {
        let ca = rekam_chip::generate_issuer_ca(issuer, "ID", 3650).map_err(chip_error)?;
        let ds = ca
            .issue_document_signer(&format!("{issuer} document signer"), 1825)
            .map_err(chip_error)?;
        Ok(ChipConfig {
            profile: Profile::default(),
            signer: Arc::new(ds),
            trust_anchors: vec![ca.cert_der.clone()],
        })
    }
}

/// (scale of the 240 x 320 portrait, JPEG quality) for DG2, tried in order.
const FACE_LADDER: [(f32, u8); 6] = [
    (1.0, 60),
    (0.75, 60),
    (0.625, 50),
    (0.5, 50),
    (0.5, 35),
    (0.4, 35),
];
/// (scale of the rendered signature, JPEG quality) for DG7, tried in order.
const SIGNATURE_LADDER: [(f32, u8); 4] = [(1.0, 60), (0.75, 50), (0.5, 50), (0.5, 35)];

fn jpeg(
    img: &image::DynamicImage,
    scale: f32,
    quality: u8,
    grey: bool,
) -> Result<Vec<u8>, EnrollmentError> {
    let w = ((img.width() as f32 * scale).round() as u32).max(1);
    let h = ((img.height() as f32 * scale).round() as u32).max(1);
    let small = if scale < 1.0 {
        img.resize_exact(w, h, FilterType::Triangle)
    } else {
        img.clone()
    };
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    let r = if grey {
        let g = small.to_luma8();
        enc.write_image(
            g.as_raw(),
            g.width(),
            g.height(),
            image::ExtendedColorType::L8,
        )
    } else {
        let c = small.to_rgb8();
        enc.write_image(
            c.as_raw(),
            c.width(),
            c.height(),
            image::ExtendedColorType::Rgb8,
        )
    };
    r.map_err(|e| EnrollmentError::Format(format!("chip image: {e}")))?;
    Ok(out)
}

/// The profile's files in the order they are written: EF.COM, the data groups, EF.SOD.
pub fn profile_files(e: &Enrollment, chip: &ChipConfig) -> Result<Vec<ChipFile>, EnrollmentError> {
    let mut dgs = formats::chip_files(e)?;
    let mut step = 0usize;
    loop {
        let files = assemble(e, chip, &dgs)?;
        let sizes: Vec<(u16, usize)> = files.iter().map(|f| (f.fid, f.data.len())).collect();
        match chip.profile.check_fits(&sizes) {
            Ok(()) => return Ok(files),
            Err(err) if step >= FACE_LADDER.len().max(SIGNATURE_LADDER.len()) => {
                return Err(EnrollmentError::Format(format!(
                    "the chip profile does not fit the {}-byte chip even at the smallest \
                     photo and signature: {err}",
                    chip.profile.capacity
                )));
            }
            Err(_) => {}
        }
        let (fs, fq) = FACE_LADDER[step.min(FACE_LADDER.len() - 1)];
        let (ss, sq) = SIGNATURE_LADDER[step.min(SIGNATURE_LADDER.len() - 1)];
        step += 1;
        if let Some(face) = &e.recording.face {
            let img = image::load_from_memory(&face.portrait_jpeg)
                .map_err(|err| EnrollmentError::Format(format!("portrait JPEG: {err}")))?;
            let data = formats::dg2(&jpeg(&img, fs, fq, false)?, face.is_token())?;
            replace(&mut dgs, formats::fid::DG2, data);
        }
        if let Some(sig) = &e.recording.signature {
            let img = image::load_from_memory(&sig.png)
                .map_err(|err| EnrollmentError::Format(format!("signature PNG: {err}")))?;
            let data =
                rekam_biometrics::signature::DisplayedSignature::single(jpeg(&img, ss, sq, true)?)
                    .to_dg7()?;
            replace(&mut dgs, formats::fid::DG7, data);
        }
    }
}

fn replace(files: &mut [ChipFile], fid: u16, data: Vec<u8>) {
    if let Some(f) = files.iter_mut().find(|f| f.fid == fid) {
        f.data = data;
    }
}

/// EF.COM + the data groups + EF.SOD.
fn assemble(
    e: &Enrollment,
    chip: &ChipConfig,
    dgs: &[ChipFile],
) -> Result<Vec<ChipFile>, EnrollmentError> {
    let numbered: Vec<(u8, &[u8])> = dgs
        .iter()
        .filter_map(|f| dg_number_of_fid(f.fid).map(|n| (n, f.data.as_slice())))
        .collect();
    let tags: Vec<u8> = numbered.iter().filter_map(|(n, _)| dg_tag(*n)).collect();
    let com = rekam_chip::ef_com(LDS_VERSION, UNICODE_VERSION, &tags).map_err(chip_error)?;
    let sod =
        rekam_chip::sod::sign_sod_at(&numbered, &chip.signer, e.created_at).map_err(chip_error)?;
    let mut files = Vec::with_capacity(dgs.len() + 2);
    files.push(ChipFile {
        fid: FID_EF_COM,
        data: com,
    });
    files.extend(dgs.iter().cloned());
    files.push(ChipFile {
        fid: FID_EF_SOD,
        data: sod,
    });
    Ok(files)
}

/// Checks a chip read back against the issuer: every data group's hash, the security
/// object's signature and its signer's chain. The error names what failed.
pub fn verify_read_back(files: &[ChipFile], chip: &ChipConfig) -> Result<String, EnrollmentError> {
    let refs: Vec<(u16, &[u8])> = files.iter().map(|f| (f.fid, f.data.as_slice())).collect();
    let verdict = rekam_chip::verify_chip(&refs, &chip.trust_anchors);
    if verdict.is_valid() {
        Ok(format!(
            "security object valid, signed by {}",
            verdict
                .signer_subject
                .as_deref()
                .unwrap_or("the document signer")
        ))
    } else {
        Err(EnrollmentError::Device(
            rekam_core::DeviceError::VerifyMismatch(format!(
                "the chip does not verify against the issuer: {}",
                verdict.to_string().replace('\n', "; ")
            )),
        ))
    }
}

/// Reads the profile of the chip in `encoder` (EF.COM, the KTP-el data groups, EF.SOD, and
/// any further data group EF.COM lists) and verifies it against the issuer: what
/// `rekamctl card verify` shows. The verdict says what failed; an error is the reader's.
pub async fn read_and_verify(
    encoder: &dyn rekam_core::ChipEncoder,
    chip: &ChipConfig,
) -> Result<(Vec<ChipFile>, rekam_chip::Verdict), rekam_core::DeviceError> {
    let mut fids = vec![FID_EF_COM];
    fids.extend(
        rekam_chip::profile::KTP_DATA_GROUPS
            .iter()
            .filter_map(|&n| rekam_chip::profile::fid_of_dg(n)),
    );
    fids.push(FID_EF_SOD);
    let mut files = encoder.read_files(&fids).await?;
    let listed = files
        .iter()
        .find(|f| f.fid == FID_EF_COM)
        .and_then(|com| rekam_chip::parse_ef_com(&com.data).ok())
        .and_then(|com| com.data_groups().ok())
        .unwrap_or_default();
    let extra: Vec<u16> = listed
        .into_iter()
        .filter_map(rekam_chip::profile::fid_of_dg)
        .filter(|fid| !fids.contains(fid))
        .collect();
    if !extra.is_empty() {
        files.extend(encoder.read_files(&extra).await?);
    }
    let refs: Vec<(u16, &[u8])> = files.iter().map(|f| (f.fid, f.data.as_slice())).collect();
    let verdict = rekam_chip::verify_chip(&refs, &chip.trust_anchors);
    Ok((files, verdict))
}
