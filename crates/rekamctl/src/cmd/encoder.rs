//! `encode` and `card` (status, `card read`, `card verify`).

use std::path::PathBuf;

use anyhow::Context;
use rekam_api::pb::encoder_service_client::EncoderServiceClient;
use rekam_api::pb::{
    ChipFile, DataGroupStatus, GetCardStatusRequest, VerifyCardRequest, VerifyCardResponse,
    WriteFilesRequest,
};
use serde_json::json;

use super::{dev, print_json, spinner};
use crate::Exit;
use crate::conn::Ctx;
use crate::names::hex;

/// The demographic text of the test card's file 0x0101.
pub const TEST_CARD_TEXT: &str = "rekam test card\nNIK: 0000000000000000\nNAMA: REKAM TEST\n";

/// The test card's files: 0x0101, a short demographic text, and 0x0102, a 4 KiB pattern
/// (`i % 251`, so that no 256-byte period hides an offset error).
pub fn test_card_files() -> Vec<ChipFile> {
    vec![
        ChipFile {
            file_id: 0x0101,
            data: TEST_CARD_TEXT.as_bytes().to_vec(),
        },
        ChipFile {
            file_id: 0x0102,
            data: (0..4096u32).map(|i| (i % 251) as u8).collect(),
        },
    ]
}

/// `encode`.
pub async fn encode(
    ctx: &Ctx,
    test_card: bool,
    extra: Vec<(u32, PathBuf)>,
    verify: bool,
    device: Option<String>,
) -> anyhow::Result<()> {
    let mut files = if test_card {
        test_card_files()
    } else {
        Vec::new()
    };
    for (file_id, path) in extra {
        let data =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push(ChipFile { file_id, data });
    }
    let mut client = EncoderServiceClient::new(ctx.channel.clone());
    let pb = spinner("encode");
    pb.set_message(format!("{} files", files.len()));
    let res = client
        .write_files(ctx.req(WriteFilesRequest {
            name: dev(device),
            files,
            verify,
            ..Default::default()
        }))
        .await;
    pb.finish_and_clear();
    let res = res?.into_inner();
    let all_match = res.verification.iter().all(|v| v.matches);
    if ctx.json {
        print_json(&json!({
            "uid": hex(&res.uid),
            "bytes_written": res.bytes_written,
            "verification": res.verification.iter().map(|v| json!({
                "file_id": format!("0x{:04x}", v.file_id),
                "matches": v.matches,
                "written_len": v.written_len,
                "read_len": v.read_len,
            })).collect::<Vec<_>>(),
        }));
    } else {
        println!(
            "card UID {}: {} bytes written",
            hex(&res.uid),
            res.bytes_written
        );
        for v in &res.verification {
            println!(
                "  0x{:04x}  {:>6} bytes written  {:>6} read back  {}",
                v.file_id,
                v.written_len,
                v.read_len,
                if v.matches { "ok" } else { "MISMATCH" }
            );
        }
    }
    if all_match {
        Ok(())
    } else {
        eprintln!("error: a file read back differs from what was written");
        Err(Exit(1).into())
    }
}

/// `card`.
pub async fn card(ctx: &Ctx, device: Option<String>) -> anyhow::Result<()> {
    let mut client = EncoderServiceClient::new(ctx.channel.clone());
    let s = client
        .get_card_status(ctx.req(GetCardStatusRequest { name: dev(device) }))
        .await?
        .into_inner();
    if ctx.json {
        print_json(&json!({
            "reader_name": s.reader_name,
            "reader_present": s.reader_present,
            "card_present": s.card_present,
            "atr": hex(&s.atr),
            "uid": hex(&s.uid),
        }));
    } else {
        println!(
            "reader: {} ({})",
            s.reader_name,
            if s.reader_present {
                "connected"
            } else {
                "DISCONNECTED"
            }
        );
        if s.card_present {
            println!("card:   present");
            println!("ATR:    {}", hex(&s.atr));
            println!("UID:    {}", hex(&s.uid));
        } else {
            println!("card:   none");
        }
    }
    Ok(())
}

/// The name of a profile file.
fn file_name(fid: u32) -> String {
    match fid {
        0x011E => "EF.COM".into(),
        0x011D => "EF.SOD".into(),
        0x0101..=0x0110 => format!("DG{}", fid - 0x0100),
        other => format!("{other:04X}"),
    }
}

async fn read_profile(ctx: &Ctx, device: Option<String>) -> anyhow::Result<VerifyCardResponse> {
    let mut client = EncoderServiceClient::new(ctx.channel.clone());
    let pb = spinner("card");
    pb.set_message("reading the chip");
    let res = client
        .verify_card(ctx.req(VerifyCardRequest { name: dev(device) }))
        .await;
    pb.finish_and_clear();
    Ok(res?.into_inner())
}

/// `card read`.
pub async fn read(
    ctx: &Ctx,
    device: Option<String>,
    output: Option<PathBuf>,
) -> anyhow::Result<()> {
    let res = read_profile(ctx, device).await?;
    if let Some(dir) = &output {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for f in &res.files {
            let path = dir.join(format!("{:04x}.bin", f.file_id));
            std::fs::write(&path, &f.data)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let sha = |d: &[u8]| {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(d))
    };
    if ctx.json {
        print_json(&json!({
            "uid": hex(&res.uid),
            "files": res.files.iter().map(|f| json!({
                "file_id": format!("0x{:04x}", f.file_id),
                "name": file_name(f.file_id),
                "size": f.data.len(),
                "sha256": sha(&f.data),
            })).collect::<Vec<_>>(),
        }));
    } else {
        if !res.uid.is_empty() {
            println!("card UID {}", hex(&res.uid));
        }
        for f in &res.files {
            println!(
                "  {:04X}  {:<6}  {:>6} bytes  SHA-256 {}",
                f.file_id,
                file_name(f.file_id),
                f.data.len(),
                sha(&f.data)
            );
        }
        if let Some(dir) = &output {
            println!("{} files written to {}", res.files.len(), dir.display());
        }
    }
    Ok(())
}

/// `card verify`.
pub async fn verify(ctx: &Ctx, device: Option<String>) -> anyhow::Result<()> {
    let res = read_profile(ctx, device).await?;
    let status = |s: i32| match DataGroupStatus::try_from(s) {
        Ok(DataGroupStatus::Ok) => "OK",
        Ok(DataGroupStatus::Tampered) => "TAMPERED",
        Ok(DataGroupStatus::Missing) => "MISSING",
        Ok(DataGroupStatus::Unlisted) => "UNLISTED",
        Ok(DataGroupStatus::NotChecked) => "NOT_CHECKED",
        _ => "UNSPECIFIED",
    };
    if ctx.json {
        print_json(&json!({
            "valid": res.valid,
            "uid": hex(&res.uid),
            "signature_valid": res.signature_valid,
            "chain_valid": res.chain_valid,
            "signer_subject": res.signer_subject,
            "data_groups": res.data_groups.iter().map(|d| json!({
                "number": d.number,
                "status": status(d.status),
            })).collect::<Vec<_>>(),
            "report": res.report,
        }));
    } else {
        println!("{}", res.report.trim_end());
    }
    if res.valid {
        Ok(())
    } else {
        eprintln!("error: the chip does not verify against the issuer");
        Err(Exit(1).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_card_files_are_as_documented() {
        let f = test_card_files();
        assert_eq!(f[0].file_id, 0x0101);
        assert!(f[0].data.starts_with(b"rekam test card"));
        assert_eq!(f[1].file_id, 0x0102);
        assert_eq!(f[1].data.len(), 4096);
        assert_eq!(f[1].data[251], 0);
        assert_eq!(f[1].data[256], 5);
    }
}
