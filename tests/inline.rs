//! Print and encode as one card job, on a printer with an encoder inside: rekamd drives
//! the Evolis driver over TCP to the Evolis simulator (`rekam_evolis::EvolisSim`, its
//! contactless station and trays) and the station's encoder, through the gRPC API.
//! Encode first, verify, print, eject; a card whose chip fails goes to the reject tray
//! and the next blank is tried, up to `station.card_attempts`; every card is in the
//! enrollment's history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rekam_api::pb;
use rekam_evolis::{EvolisSim, SimConfig, SimFault};
use rekam_tests::*;

/// A daemon whose printer is the Evolis simulator; the rest simulated in-process.
async fn station(attempts: u32) -> (TestDaemon, EvolisSim) {
    let sim = EvolisSim::start("127.0.0.1:0".parse().unwrap(), SimConfig::default())
        .await
        .unwrap();
    let addr = sim.local_addr();
    let d = TestDaemon::start_with(move |c| {
        c.station.card_attempts = attempts;
        for dev in &mut c.devices {
            if dev.selector.to_string().starts_with("printer:") {
                dev.selector = format!("printer:evolis:{addr}").parse().unwrap();
                dev.id = Some("printer0".into());
            }
        }
    })
    .await;
    (d, sim)
}

async fn sent(d: &TestDaemon) -> String {
    let id = recorded(d).await;
    let e = d.enroll().send(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    id
}

/// The history entries of a step, in order.
fn entries(e: &pb::Enrollment, s: pb::Step) -> Vec<pb::StepRecord> {
    e.history
        .iter()
        .filter(|h| h.step == s as i32)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_encodes_first_then_prints_and_ejects_one_card() {
    let (d, sim) = station(3).await;
    let devs = d
        .devices()
        .list_devices(pb::ListDevicesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .devices;
    let printer = devs.iter().find(|x| x.name == "devices/printer0").unwrap();
    let Some(pb::device_capabilities::Kind::Printer(caps)) =
        printer.capabilities.clone().and_then(|c| c.kind)
    else {
        panic!("printer0 has no printer capabilities: {printer:?}");
    };
    assert!(caps.inline_encoder, "{caps:?}");
    let id = sent(&d).await;
    let mut c = d.enroll();
    let e = c.print(step(&id)).await.unwrap().into_inner();
    // One job: the card is printed, its chip encoded and verified; hand over follows.
    assert_eq!(
        stage(&e),
        pb::EnrollmentStage::Encoded,
        "{:?}",
        e.last_error
    );
    assert_eq!(e.card_uid.len(), 7);
    let e = d.get(&id).await;
    let print = entries(&e, pb::Step::Print);
    let encode = entries(&e, pb::Step::Encode);
    assert_eq!(print.len(), 1);
    assert_eq!(print[0].status, pb::StepStatus::Succeeded as i32);
    assert!(
        print[0].message.contains("one pass"),
        "{}",
        print[0].message
    );
    assert_eq!(encode.len(), 1);
    assert_eq!(encode[0].status, pb::StepStatus::Succeeded as i32);
    assert!(
        encode[0].message.starts_with("card 1 of 3: chip "),
        "{}",
        encode[0].message
    );
    assert_eq!(encode[0].operation, print[0].operation);
    assert!(encode[0].devices.iter().any(|d| d.ends_with("encoder0")));
    // The printer: one card out, none rejected, and it was at the encoder first.
    let out = sim.output_tray();
    assert_eq!(out.len(), 1);
    assert!(out[0].was_at_encoder && !out[0].test_card);
    assert!(out[0].back.is_some());
    // Resin where the layout draws text and lines (the renderer's K panel went with the
    // job), not wherever the card is dark: inside the photo box (the KTP-el front's 21 x 27
    // mm at x 62, y 10 mm, here inset by 10 px) the face's dark hair and pupils are dye.
    let k_sent = rekam_evolis::panels::unpack(
        &out[0].front[&rekam_evolis::protocol::Panel::Black].1,
        1,
        rekam_evolis::protocol::PANEL_PIXELS,
    );
    let (dx, dy) = (2, 5); // the 1012 x 638 side centred on the printer's 1016 x 648
    let mut in_photo = 0;
    for x in 732 + 10..980 - 10 {
        for y in 118 + 10..437 - 10 {
            in_photo += usize::from(k_sent[(x + dx) * 648 + (647 - (y + dy))]);
        }
    }
    assert_eq!(in_photo, 0, "no resin in the photo");
    assert!(
        k_sent.iter().filter(|&&b| b == 1).count() > 1000,
        "text and lines are resin"
    );
    assert!(sim.reject_tray().is_empty());
    assert_eq!(sim.cards(), 99);
    let log = sim.commands().join(" ");
    let (sic, pmi) = (log.find("Sic").unwrap(), log.find("Pmi").unwrap());
    assert!(
        sic < pmi,
        "the card goes to the encoder before it is printed: {log}"
    );
    // Encode is not asked again: it answers with the enrollment.
    let again = c.encode(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&again), pb::EnrollmentStage::Encoded);
    assert_eq!(sim.output_tray().len(), 1);
    let e = c.hand_over(step(&id)).await.unwrap().into_inner();
    assert_eq!(
        stage(&e),
        pb::EnrollmentStage::HandedOver,
        "{}",
        e.last_error
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_whose_chip_fails_is_rejected_and_the_next_one_used() {
    let (d, sim) = station(3).await;
    let id = sent(&d).await;
    d.fault("encoder0", "bad_chip").await;
    let e = d.enroll().print(step(&id)).await.unwrap().into_inner();
    assert_eq!(
        stage(&e),
        pb::EnrollmentStage::Encoded,
        "{:?}",
        e.last_error
    );
    let e = d.get(&id).await;
    let encode = entries(&e, pb::Step::Encode);
    assert_eq!(encode.len(), 2, "{encode:?}");
    assert_eq!(encode[0].status, pb::StepStatus::Failed as i32);
    assert!(encode[0].card_spoiled);
    assert_eq!(encode[0].error_reason, "CHIP_VERIFY_FAILED");
    assert!(
        encode[0].message.starts_with("card 1 of 3: ")
            && encode[0]
                .message
                .ends_with("the card went to the reject tray"),
        "{}",
        encode[0].message
    );
    assert_eq!(encode[1].status, pb::StepStatus::Succeeded as i32);
    assert!(encode[1].message.starts_with("card 2 of 3: chip "));
    let rejected = sim.reject_tray();
    assert_eq!(rejected.len(), 1);
    // Rejected before any panel was printed: no ribbon wasted on the bad chip.
    assert!(rejected[0].was_at_encoder && rejected[0].front.is_empty());
    assert_eq!(sim.output_tray().len(), 1);
    assert_eq!(sim.cards(), 98);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_card_limit_the_step_fails_with_every_card_in_the_history() {
    let (d, sim) = station(2).await;
    let id = sent(&d).await;
    // The card leaves the field mid-write and none comes back: every card fails.
    d.fault("encoder0", "card_pulled").await;
    let err = d.enroll().print(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let e = d.get(&id).await;
    assert_eq!(stage(&e), pb::EnrollmentStage::Sent);
    assert!(e.card_uid.is_empty());
    let encode = entries(&e, pb::Step::Encode);
    assert_eq!(encode.len(), 2, "{encode:?}");
    assert!(
        encode
            .iter()
            .all(|h| h.status == pb::StepStatus::Failed as i32 && h.card_spoiled)
    );
    assert_eq!(encode[0].error_reason, "CARD_REMOVED");
    assert_eq!(encode[1].error_reason, "NO_CARD");
    let print = entries(&e, pb::Step::Print);
    assert_eq!(print.len(), 1);
    assert_eq!(print[0].status, pb::StepStatus::Failed as i32);
    assert!(print[0].card_spoiled);
    assert_eq!(sim.reject_tray().len(), 2);
    assert!(sim.output_tray().is_empty());
    // The officer puts the card back: the next print works.
    d.clear("encoder0").await;
    let e = d.enroll().print(step(&id)).await.unwrap().into_inner();
    assert_eq!(stage(&e), pb::EnrollmentStage::Encoded, "{}", e.last_error);
    assert_eq!(sim.output_tray().len(), 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_encoder_wastes_one_card_and_a_printer_fault_none() {
    let (d, sim) = station(3).await;
    let id = sent(&d).await;
    // Not the chip's fault: every card would meet it, so no second card is tried.
    d.fault("encoder0", "hardware_error").await;
    let err = d.enroll().print(step(&id)).await.unwrap_err();
    assert_ne!(err.code(), tonic::Code::Ok);
    assert_eq!(sim.reject_tray().len(), 1);
    let e = d.get(&id).await;
    assert_eq!(entries(&e, pb::Step::Encode).len(), 1);
    d.clear("encoder0").await;
    // An empty feeder: no card moves, none is spoiled.
    sim.inject(SimFault::EmptyHopper);
    let err = d.enroll().print(step(&id)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let e = d.get(&id).await;
    let last = e.history.last().unwrap();
    assert_eq!(last.step, pb::Step::Print as i32);
    assert!(!last.card_spoiled, "{last:?}");
    assert_eq!(last.error_reason, "NO_CARDS", "{last:?}");
    assert_eq!(sim.reject_tray().len(), 1);
    d.stop().await;
}
