//! A whole enrollment over gRPC whose encode step goes through a real pcscd: a private
//! pcscd with vpcd readers (`rekam_encoder::testbed`), the virtual chip and SAM served to
//! it, and a `rekamd` process configured with `encoder:pcsc` and the SAM's reader. The
//! officer's steps run through `rekamctl enroll`; the chip is then read back and verified
//! with `rekamctl card verify`. A pcscd that cannot start fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use rekam_api::pb;
use rekam_api::pb::enrollment_service_client::EnrollmentServiceClient;
use rekam_encoder::testbed::PrivatePcscd;
use rekam_encoder::vcard::{CardConfig, CardFaults, VirtualCard, VirtualSam, VpcdHandle};
use rekam_tests::{Rekamd, stage, step, workspace_bin};

fn rekamctl(socket: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(workspace_bin("rekamctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

/// A private pcscd, its SAM, and `rekamd` with `encoder:pcsc` on its first reader pair.
struct Station {
    pcscd: PrivatePcscd,
    _sam: VpcdHandle<VirtualSam>,
    dir: tempfile::TempDir,
    d: Rekamd,
}

impl Station {
    async fn start() -> Station {
        let pcscd = PrivatePcscd::start(1).unwrap_or_else(|e| {
            panic!("a private pcscd (tests/run.sh installs pcscd and vsmartcard-vpcd): {e}")
        });
        let pair = pcscd.readers[0].clone();
        let sam = pcscd.insert_sam().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("rekamd.toml");
        let mut toml = String::new();
        for class in ["fingerprint", "camera", "signature", "printer"] {
            toml.push_str(&format!("[[devices]]\nselector = \"{class}:sim\"\n"));
        }
        toml.push_str(&format!(
            "[[devices]]\nselector = 'encoder:pcsc:\"{}\"'\noptions = {{ sam = \"{}\" }}\n",
            pair.card_reader, pair.sam_reader
        ));
        std::fs::write(&config, toml).unwrap();
        let config = config.to_str().unwrap().to_owned();
        let d = Rekamd::start_with_env(
            dir.path(),
            0.0,
            &["--config", &config],
            &[("PCSCLITE_CSOCK_NAME", pcscd.socket.as_os_str())],
        )
        .await;
        Station {
            pcscd,
            _sam: sam,
            dir,
            d,
        }
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("rekamd.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rekamd.log")).unwrap_or_default()
    }

    /// Puts a card in the reader and waits until the station sees it.
    async fn insert(&self, config: CardConfig, faults: CardFaults) -> VpcdHandle<VirtualCard> {
        let card = self.pcscd.insert_card(config, faults).unwrap();
        self.wait_card(true).await;
        card
    }

    /// Waits until `rekamctl card` says the card is (or is not) in the field.
    async fn wait_card(&self, present: bool) {
        for _ in 0..200 {
            let s = self.socket();
            let out = tokio::task::spawn_blocking(move || rekamctl(&s, &["card", "--json"]))
                .await
                .unwrap();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                && v["card_present"] == present
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the card never became present = {present}:\n{}", self.log());
    }

    async fn rekamctl(&self, args: &[&str]) -> std::process::Output {
        let s = self.socket();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            rekamctl(&s, &args)
        })
        .await
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_enrollment_encodes_its_chip_through_pcscd() {
    let st = Station::start().await;
    let pair = st.pcscd.readers[0].clone();
    let card_config = CardConfig::default();
    let card = st.insert(card_config.clone(), CardFaults::default()).await;

    // The station lists the PC/SC reader as its encoder, with the card in its field.
    let out = st.rekamctl(&["card", "--json"]).await;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["reader_name"], pair.card_reader.as_str(), "{status}");

    // The officer's whole procedure; the encode step personalizes the chip through pcscd.
    let out = st.rekamctl(&["enroll", "--demo", "--json"]).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        st.log()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stage"], "HANDED_OVER", "{v}");
    let uid: String = card_config.uid.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        v["card_uid"].as_str().unwrap().to_uppercase(),
        uid,
        "the chip in the reader is the one encoded: {v}"
    );

    // The virtual chip holds the signed profile, within its 8 KB.
    let files = card.card().files();
    assert_eq!(
        files.keys().copied().collect::<Vec<_>>(),
        [0x0101, 0x0102, 0x0103, 0x0107, 0x011D, 0x011E]
    );
    assert!(card.card().used() <= card_config.capacity);

    // A verifier reads it back through pcscd: valid, signed by the station's issuer.
    let out = st.rekamctl(&["card", "verify", "--json"]).await;
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{verdict}");
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(verdict["chain_valid"], true, "{verdict}");
    assert_eq!(
        verdict["data_groups"].as_array().unwrap().len(),
        4,
        "{verdict}"
    );

    // One byte of the face changed on the chip: the verifier names DG2 as tampered.
    let dg2_len = files[&0x0102].len();
    assert!(card.card().tamper(0x0102, dg2_len - 20, 0x5A));
    let out = st.rekamctl(&["card", "verify", "--json"]).await;
    assert!(!out.status.success(), "a tampered chip does not verify");
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["valid"], false, "{verdict}");
    let dgs = verdict["data_groups"].as_array().unwrap();
    let status = |n: u64| {
        dgs.iter()
            .find(|d| d["number"] == n)
            .map(|d| d["status"].clone())
    };
    assert_eq!(status(2), Some("TAMPERED".into()), "{verdict}");
    assert_eq!(status(1), Some("OK".into()), "{verdict}");
    assert!(
        verdict["report"].as_str().unwrap().contains("DG2"),
        "{verdict}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_pulled_mid_encode_leaves_the_enrollment_printed_for_a_fresh_card() {
    let st = Station::start().await;
    // The card leaves the field after 9 APDUs: in the middle of the writes.
    let pulled = st
        .insert(
            CardConfig::default(),
            CardFaults {
                remove_after: Some(9),
                ..CardFaults::default()
            },
        )
        .await;
    let out = st.rekamctl(&["enroll", "--demo"]).await;
    assert!(!out.status.success(), "the encode step must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CARD_REMOVED") || err.contains("removed"),
        "{err}"
    );
    let mut enroll = EnrollmentServiceClient::new(st.d.channel.clone());
    let list = enroll
        .list_enrollments(pb::ListEnrollmentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.enrollments.len(), 1);
    let e = &list.enrollments[0];
    assert_eq!(stage(e), pb::EnrollmentStage::Printed, "{e:?}");
    // Nothing the pulled card holds counts: a fresh blank card finishes the enrollment.
    drop(pulled);
    st.wait_card(false).await;
    // pcscd reports the reader empty before its event thread has processed the removal;
    // a card inserted in between would be taken for the old one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = st
        .insert(CardConfig::default(), CardFaults::default())
        .await;
    let e = enroll.encode(step(&e.name)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded, "{e:?}");
    assert_eq!(fresh.card().files().len(), 6);
    let e = enroll.hand_over(step(&e.name)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::HandedOver, "{e:?}");
}
