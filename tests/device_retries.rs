//! Safe retries on the device services: a print submitted again with the same request id
//! answers with the first job (one card), a chip write likewise; the same id with another
//! request is refused.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rekam_api::pb;
use rekam_tests::*;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_and_a_chip_write_sent_twice_act_once() {
    let d = TestDaemon::start().await;
    let mut p = d.printer();
    let cards = |p: &mut PrinterServiceClient<tonic::transport::Channel>| {
        let mut p = p.clone();
        async move {
            p.get_supplies(pb::GetSuppliesRequest::default())
                .await
                .unwrap()
                .into_inner()
                .cards_remaining
        }
    };
    let before = cards(&mut p).await;
    let submit = pb::SubmitPrintJobRequest {
        test_card: true,
        request_id: "print-7".into(),
        ..Default::default()
    };
    let a = p.submit_job(submit.clone()).await.unwrap().into_inner();
    let b = p.submit_job(submit.clone()).await.unwrap().into_inner();
    assert_eq!(a.name, b.name, "the retry answers with the first job");
    // Let the job finish, then count the cards.
    let _: Vec<_> = futures::StreamExt::collect::<Vec<_>>(
        p.watch_job(pb::WatchPrintJobRequest {
            name: a.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await;
    assert_eq!(cards(&mut p).await, before - 1, "one card");
    // The same id with another request is refused.
    let mut other = submit.clone();
    other.printer = "devices/printer0".into();
    let err = p.submit_job(other).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, "REQUEST_ID_REUSED");

    let mut enc = d.encoder();
    let write = pb::WriteFilesRequest {
        files: vec![pb::ChipFile {
            file_id: 0x0101,
            data: b"NIK=...".to_vec(),
        }],
        verify: true,
        request_id: "write-1".into(),
        ..Default::default()
    };
    let a = enc.write_files(write.clone()).await.unwrap().into_inner();
    let b = enc.write_files(write).await.unwrap().into_inner();
    assert_eq!(a, b);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_retried_print_or_chip_write_gets_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let submit = pb::SubmitPrintJobRequest {
        test_card: true,
        request_id: "print-across-restart".into(),
        ..Default::default()
    };
    let write = pb::WriteFilesRequest {
        files: vec![pb::ChipFile {
            file_id: 0x0101,
            data: b"NIK=...".to_vec(),
        }],
        verify: true,
        request_id: "write-across-restart".into(),
        ..Default::default()
    };
    let d = TestDaemon::start_with(|c| c.store.state_dir = Some(state.clone())).await;
    let first = d
        .printer()
        .submit_job(submit.clone())
        .await
        .unwrap()
        .into_inner();
    let _: Vec<_> = futures::StreamExt::collect::<Vec<_>>(
        d.printer()
            .watch_job(pb::WatchPrintJobRequest {
                name: first.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    let written = d
        .encoder()
        .write_files(write.clone())
        .await
        .unwrap()
        .into_inner();
    d.stop().await;

    let d = TestDaemon::start_with(|c| c.store.state_dir = Some(state.clone())).await;
    let mut p = d.printer();
    let cards = p
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cards_remaining;
    let again = p.submit_job(submit.clone()).await.unwrap().into_inner();
    assert_eq!(again.name, first.name, "the first job, from the store");
    let after = p
        .get_supplies(pb::GetSuppliesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cards_remaining;
    assert_eq!(after, cards, "no card used by the retry");
    // Another request under the same id is still refused after the restart.
    let mut other = submit.clone();
    other.printer = "devices/printer0".into();
    let err = p.submit_job(other).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, "REQUEST_ID_REUSED");
    let rewritten = d.encoder().write_files(write).await.unwrap().into_inner();
    assert_eq!(rewritten, written);
    // A new id acts.
    let mut fresh = submit;
    fresh.request_id = "print-new".into();
    let new = p.submit_job(fresh).await.unwrap().into_inner();
    assert_ne!(new.name, first.name);
    d.stop().await;
}
