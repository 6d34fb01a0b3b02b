//! How an artefact's bytes are packed before they are sealed: large artefacts that
//! compress (a raw slap is mostly white background) are kept as zstd frames, the rest as
//! they are. Compression happens before encryption (ciphertext does not compress), and the
//! codec is bound to the sealed record (see `SqliteStore`'s places), so a changed codec
//! column fails the authentication check instead of decoding garbage.

/// The artefact is kept as given.
pub(crate) const RAW: i64 = 0;
/// The artefact is a zstd frame of the bytes given.
pub(crate) const ZSTD: i64 = 1;

/// Artefacts smaller than this are kept raw: compressing them saves little and costs a
/// context.
const MIN_COMPRESS: usize = 64 * 1024;

/// zstd's level 1: a simulated 1600x1500 slap packs 5.1:1 at about 0.66 GB/s on one core
/// here, cheaper than sealing and writing the bytes it saves. (The fast levels below 1
/// store literals without entropy coding, so a slap with sensor noise, whose background
/// has no long repeats, would gain nothing from them.)
const LEVEL: i32 = 1;

/// Packs `plain`: zstd when that saves at least an eighth, else raw.
pub(crate) fn pack(plain: &[u8]) -> (i64, Option<Vec<u8>>) {
    if plain.len() < MIN_COMPRESS {
        return (RAW, None);
    }
    match zstd::bulk::compress(plain, LEVEL) {
        Ok(z) if z.len() <= plain.len() - plain.len() / 8 => (ZSTD, Some(z)),
        _ => (RAW, None),
    }
}

/// Unpacks what [`pack`] made; `size` is the artefact's recorded length, the most a
/// frame may expand to. The error says what is wrong (the store reports it as corrupt).
pub(crate) fn unpack(codec: i64, body: Vec<u8>, size: usize) -> Result<Vec<u8>, String> {
    match codec {
        RAW => Ok(body),
        ZSTD => {
            let plain = zstd::bulk::decompress(&body, size)
                .map_err(|e| format!("a compressed artefact cannot be unpacked: {e}"))?;
            if plain.len() != size {
                return Err(format!(
                    "a compressed artefact unpacks to {} bytes, not the {size} recorded",
                    plain.len()
                ));
            }
            Ok(plain)
        }
        other => Err(format!(
            "an artefact has codec {other}, which this rekamd does not know"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_artefacts_round_trip_through_zstd() {
        // A slap-like image: white background with a textured patch.
        let mut img = vec![255u8; 400_000];
        for (i, p) in img.iter_mut().enumerate().skip(100_000).take(100_000) {
            *p = ((i * 7919) % 251) as u8;
        }
        let (codec, packed) = pack(&img);
        assert_eq!(codec, ZSTD);
        let packed = packed.unwrap();
        assert!(packed.len() < img.len() / 2, "{} bytes", packed.len());
        assert_eq!(unpack(codec, packed, img.len()).unwrap(), img);
    }

    #[test]
    fn small_or_incompressible_artefacts_stay_raw() {
        assert_eq!(pack(&[7u8; 1000]), (RAW, None));
        // Pseudo-random bytes (what a JPEG looks like to zstd).
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(pack(&noise), (RAW, None));
        assert_eq!(unpack(RAW, noise.clone(), noise.len()).unwrap(), noise);
    }

    #[test]
    fn a_damaged_frame_or_unknown_codec_is_corrupt_not_a_panic() {
        let img = vec![255u8; 100_000];
        let (codec, packed) = pack(&img);
        let mut packed = packed.unwrap();
        let n = packed.len();
        packed[n / 2] ^= 0xFF;
        packed.truncate(n - 3);
        assert!(
            unpack(codec, packed, img.len())
                .unwrap_err()
                .contains("cannot be unpacked")
        );
        // A frame that unpacks to another length than recorded.
        let (_, good) = pack(&img);
        assert!(
            unpack(ZSTD, good.unwrap(), img.len() - 1)
                .unwrap_err()
                .contains("cannot be unpacked")
        );
        assert!(unpack(9, vec![1, 2, 3], 3).unwrap_err().contains("codec 9"));
    }
}
