//! Every kind of answer of rekam's SBI service, read off the wire (plain HTTP, not rekam's
//! client) and checked the way MOSIP's compliance tool kit checks a device, with
//! `rekam_sbi::compliance` (shared with rekamd's tests): against a JSON Schema written from
//! the specification (`tests/schema/sbi-0.9.5.schema.json`, checked with the `jsonschema`
//! crate), then against the field rules the schema cannot say (signed parts decoded and
//! checked in turn, `deviceCode` = `serialNo`, `callbackId` = the service's URL, the
//! status's error code, the hash chain, the transaction id, the requested score, the
//! headers, the stream's framing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rekam_sbi::SimFault;
use rekam_sbi::compliance::{Checker, Schema, b64json, call, check_digital_id};
use rekam_sbi::hash::first_previous_hash;
use rekam_sbi::model::{BioSubType, BioType, PORT_RANGE};
use rekam_sbi::sim::ids;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_a_registered_service_follows_the_specification() {
    let pki = pki("rekam compliance CA");
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let port = svc.port();
    assert!(PORT_RANGE.contains(&port));
    let check = Checker::new(port, pki.trust()).unwrap();

    // MOSIPDISC, for each type and with an empty body.
    for (body, types) in [
        (
            r#"{"type":"Biometric Device"}"#,
            vec!["Finger", "Iris", "Face"],
        ),
        ("", vec!["Finger", "Iris", "Face"]),
        (r#"{"type":"Finger"}"#, vec!["Finger"]),
        (r#"{"type":"Iris"}"#, vec!["Iris"]),
        (r#"{"type":"Face"}"#, vec!["Face"]),
    ] {
        let devices = check.discover(body).await.unwrap();
        assert_eq!(devices.len(), types.len(), "{body}: {devices:#?}");
        for d in devices {
            let did = b64json(d["digitalId"].as_str().unwrap()).unwrap();
            assert!(
                types.contains(&did["type"].as_str().unwrap()),
                "type filter: {body}"
            );
            assert_eq!(d["callbackId"], svc.base_url());
            assert_eq!(d["deviceStatus"], "Ready");
            assert_eq!(d["purpose"], "Registration");
        }
    }

    // MOSIPDINFO: signed device info and digital id.
    let infos = check.device_info().await.unwrap();
    assert_eq!(infos.len(), 3);
    for info in infos {
        assert_eq!(info["env"], "Developer");
        assert_eq!(info["deviceStatus"], "Ready");
    }

    // RCAPTURE of each modality, chained.
    let mut previous = first_previous_hash();
    for (device, bio_type, sub, count, exceptions, subtypes) in [
        (
            ids::FINGER,
            BioType::Finger,
            2,
            3,
            vec![BioSubType::RightMiddle],
            vec![
                "Right IndexFinger",
                "Right RingFinger",
                "Right LittleFinger",
            ],
        ),
        (
            ids::FINGER,
            BioType::Finger,
            3,
            2,
            vec![],
            vec!["Left Thumb", "Right Thumb"],
        ),
        (ids::IRIS, BioType::Iris, 1, 1, vec![], vec!["Left"]),
        (ids::FACE, BioType::Face, 0, 1, vec![], vec![""]),
    ] {
        let mut req = rcapture(
            device, bio_type, sub, count, exceptions, 55.0, 10_000, &previous,
        );
        req.transaction_id = "compliance-tx-7".into();
        let captured = check.rcapture(&req).await.unwrap().unwrap();
        assert_eq!(captured.data.len(), subtypes.len());
        for (data, subtype) in captured.data.iter().zip(&subtypes) {
            assert_eq!(data["bioSubType"], *subtype);
            assert_eq!(data["transactionId"], "compliance-tx-7");
            assert_eq!(data["requestedScore"], 55.0);
        }
        previous = captured.last_hash;
    }

    // Refusals keep the capture answer's shape, with the code and no data.
    let mut bad_tx = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    bad_tx.transaction_id = "x".into();
    for (req, code) in [
        (bad_tx, "112"),
        (
            rcapture(ids::FINGER, BioType::Finger, 1, 9, vec![], 40.0, 5_000, ""),
            "109",
        ),
        (
            rcapture("nope", BioType::Face, 0, 1, vec![], 40.0, 5_000, ""),
            "106",
        ),
    ] {
        assert_eq!(check.rcapture(&req).await.unwrap().unwrap_err(), code);
    }
    let schema = &check.schema;
    let a = call(port, "RCAPTURE", "/capture", "{not json")
        .await
        .unwrap();
    a.check_json_headers(port).unwrap();
    schema
        .check("rCaptureResponse", &a.json().unwrap())
        .unwrap();
    assert_eq!(
        a.json().unwrap()["biometrics"][0]["error"]["errorCode"],
        "501"
    );
    let a = call(port, "CAPTURE", "/capture", "{}").await.unwrap();
    schema
        .check("rCaptureResponse", &a.json().unwrap())
        .unwrap();
    assert_eq!(
        a.json().unwrap()["biometrics"][0]["error"]["errorCode"],
        "502"
    );

    // STREAM: the error answer, then the stream's framing.
    let a = call(
        port,
        "STREAM",
        "/stream",
        r#"{"deviceId":"nope","deviceSubId":1}"#,
    )
    .await
    .unwrap();
    a.check_json_headers(port).unwrap();
    schema.check("errorResponse", &a.json().unwrap()).unwrap();
    assert_eq!(a.json().unwrap()["error"]["errorCode"], "202");
    let frames = check.stream(ids::FACE, 0, 700).await.unwrap();
    assert!(
        frames.len() >= 3,
        "{} frames in 0.7 s (3 a second at least)",
        frames.len()
    );

    // An unknown verb: 405 with the error shape and the verbs allowed.
    let a = call(port, "DELETE", "/device", "").await.unwrap();
    assert_eq!(a.status, 405);
    schema.check("errorResponse", &a.json().unwrap()).unwrap();
    assert!(a.header("allow").unwrap().contains("RCAPTURE"));

    // A busy device: status Busy and 111 in discovery and device info.
    sim.inject(SimFault::Busy);
    let v = check.discover(r#"{"type":"Face"}"#).await.unwrap();
    assert_eq!(v[0]["deviceStatus"], "Busy");
    assert_eq!(v[0]["error"]["errorCode"], "111");
    for info in check.device_info().await.unwrap() {
        assert_eq!(info["deviceStatus"], "Busy");
    }
    sim.clear(SimFault::Busy);
    sim.inject(SimFault::NotReady);
    let v = check.discover("").await.unwrap();
    assert!(
        v.iter()
            .all(|d| d["error"]["errorCode"] == "110" && d["deviceStatus"] == "Not Ready")
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_an_unregistered_service_follows_the_specification() {
    let schema = Schema::load().unwrap();
    let (svc, _sim) = service(None).await;
    let port = svc.port();
    let v = call(
        port,
        "MOSIPDISC",
        "/device",
        r#"{"type":"Biometric Device"}"#,
    )
    .await
    .unwrap()
    .json()
    .unwrap();
    schema.check("discoveryResponse", &v).unwrap();
    for d in v.as_array().unwrap() {
        assert_eq!(d["deviceStatus"], "Not Registered");
        assert_eq!(d["error"]["errorCode"], "100");
        assert_eq!(d["purpose"], "");
        check_digital_id(
            &schema,
            &b64json(d["digitalId"].as_str().unwrap()).unwrap(),
            d["deviceCode"].as_str().unwrap(),
        )
        .unwrap();
    }
    let a = call(port, "MOSIPDINFO", "/info", "").await.unwrap();
    a.check_json_headers(port).unwrap();
    let v = a.json().unwrap();
    schema.check("infoResponse", &v).unwrap();
    for entry in v.as_array().unwrap() {
        assert_eq!(entry["error"]["errorCode"], "100");
        let token = entry["deviceInfo"].as_str().unwrap();
        assert!(
            !token.contains('.'),
            "an unregistered device's info is unsigned"
        );
        let info = b64json(token).unwrap();
        schema.check("deviceInfo", &info).unwrap();
        assert_eq!(info["env"], "None");
        assert_eq!(info["purpose"], "");
        assert_eq!(info["deviceStatus"], "Not Registered");
        let did_token = info["digitalId"].as_str().unwrap();
        assert!(
            !did_token.contains('.'),
            "an unregistered L0 device's digital id is unsigned"
        );
        check_digital_id(
            &schema,
            &b64json(did_token).unwrap(),
            info["deviceCode"].as_str().unwrap(),
        )
        .unwrap();
    }
    let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    let v = call(
        port,
        "RCAPTURE",
        "/capture",
        &serde_json::to_string(&req).unwrap(),
    )
    .await
    .unwrap()
    .json()
    .unwrap();
    schema.check("rCaptureResponse", &v).unwrap();
    assert_eq!(v["biometrics"][0]["error"]["errorCode"], "100");
    let v = call(
        port,
        "STREAM",
        "/stream",
        &format!(r#"{{"deviceId":"{}","deviceSubId":0}}"#, ids::FACE),
    )
    .await
    .unwrap()
    .json()
    .unwrap();
    schema.check("errorResponse", &v).unwrap();
    assert_eq!(v["error"]["errorCode"], "100");
    svc.stop().await;
}

#[test]
fn the_schema_refuses_what_the_specification_forbids() {
    // The checker itself: answers a device must not give are caught.
    let schema = Schema::load().unwrap();
    let v = schema.validator("digitalId").unwrap();
    let good = json!({"serialNo":"ABCDEF123456","make":"m","model":"m","type":"Iris","deviceSubType":"Double",
        "deviceProvider":"p","deviceProviderId":"p","dateTime":"2020-12-08T09:39:37Z"});
    assert!(v.is_valid(&good));
    for (field, bad) in [
        ("serialNo", json!("SHORT")),
        ("deviceSubType", json!("Slap")),
        ("dateTime", json!("2020-12-08 09:39:37")),
        ("type", json!("Palm")),
    ] {
        let mut b = good.clone();
        b[field] = bad;
        assert!(!v.is_valid(&b), "{field}");
    }
    let v = schema.validator("rCaptureResponse").unwrap();
    let ok = json!({"biometrics":[{"specVersion":"0.9.5","data":"a.b.c","hash":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855","error":{"errorCode":"0","errorInfo":"Success"}}]});
    assert!(v.is_valid(&ok));
    let mut lower = ok.clone();
    lower["biometrics"][0]["hash"] =
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert!(!v.is_valid(&lower), "the hash is upper-case hex");
    let mut data_on_error = ok.clone();
    data_on_error["biometrics"][0]["error"]["errorCode"] = json!("111");
    assert!(
        !v.is_valid(&data_on_error),
        "an error entry carries no data"
    );
}
