//! Every kind of answer of rekam's SBI service, read off the wire (plain HTTP, not rekam's
//! client) and checked the way MOSIP's compliance tool kit checks a device: against a JSON
//! Schema written from the specification (`tests/schema/sbi-0.9.5.schema.json`, checked
//! with the `jsonschema` crate), then against the field rules the schema cannot say
//! (signed parts decoded and checked in turn, `deviceCode` = `serialNo`, `callbackId` =
//! the service's URL, the status's error code, the hash chain, the transaction id, the
//! requested score, the headers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use rekam_sbi::hash::{chain_hash, first_previous_hash};
use rekam_sbi::jws::b64url_decode;
use rekam_sbi::model::{BioSubType, BioType, PORT_RANGE};
use rekam_sbi::sim::ids;
use rekam_sbi::{SimFault, TrustStore};
use serde_json::{Value, json};

struct Schema(Value);

impl Schema {
    fn load() -> Self {
        let text = include_str!("schema/sbi-0.9.5.schema.json");
        Self(serde_json::from_str(text).unwrap())
    }

    /// Validate `instance` against `$defs/<def>`; every violation is listed on failure.
    fn check(&self, def: &str, instance: &Value) {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.0["$defs"],
            "$ref": format!("#/$defs/{def}"),
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{def}: {errors:#?}\nin {instance:#}");
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// The headers of the specification's HTTP answers.
    fn check_json_headers(&self, port: u16) {
        assert_eq!(self.header("content-type"), "application/json");
        assert_eq!(self.header("access-control-allow-origin"), "*");
        assert_eq!(self.header("cache-control"), "no-store");
        assert_eq!(self.header("location"), format!("http://127.0.0.1:{port}/"));
    }
}

async fn call(port: u16, verb: &str, path: &str, body: &str) -> Answer {
    let r = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(verb.as_bytes()).unwrap(),
            format!("http://127.0.0.1:{port}{path}"),
        )
        .header("EXT", "compliance-test")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    Answer {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

fn b64json(s: &str) -> Value {
    serde_json::from_slice(&b64url_decode(s).unwrap()).unwrap()
}

/// A signed part: its header checked against the schema, its signature and chain against
/// the CA; its payload returned.
fn signed(schema: &Schema, trust: &TrustStore, token: &str) -> Value {
    let header = b64json(token.split('.').next().unwrap());
    schema.check("jwsHeader", &header);
    let verified = trust
        .verify(
            token,
            u64::try_from(jiff::Timestamp::now().as_second()).unwrap(),
        )
        .unwrap();
    serde_json::from_slice(&verified.payload).unwrap()
}

fn check_digital_id(schema: &Schema, did: &Value, device_code: &str) {
    schema.check("digitalId", did);
    assert_eq!(
        did["serialNo"], device_code,
        "deviceCode is the digital id's serialNo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_a_registered_service_follows_the_specification() {
    let schema = Schema::load();
    let pki = pki("rekam compliance CA");
    let trust = pki.trust();
    let (svc, sim) = service(Some(pki.key.clone())).await;
    let port = svc.port();
    assert!(PORT_RANGE.contains(&port));

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
        let a = call(port, "MOSIPDISC", "/device", body).await;
        assert_eq!(a.status, 200);
        a.check_json_headers(port);
        let v = a.json();
        schema.check("discoveryResponse", &v);
        let devices = v.as_array().unwrap();
        assert_eq!(devices.len(), types.len(), "{body}: {v:#}");
        for d in devices {
            let did = b64json(d["digitalId"].as_str().unwrap());
            check_digital_id(&schema, &did, d["deviceCode"].as_str().unwrap());
            assert!(
                types.contains(&did["type"].as_str().unwrap()),
                "type filter: {body}"
            );
            assert_eq!(d["callbackId"], svc.base_url());
            assert_eq!(d["deviceStatus"], "Ready");
            assert_eq!(d["error"]["errorCode"], "0");
            assert_eq!(d["purpose"], "Registration");
            if did["deviceSubType"] == "Slap" {
                // "0 is not applicable for fingerprint slap".
                assert!(!d["deviceSubId"].as_array().unwrap().contains(&json!(0)));
            }
        }
    }

    // MOSIPDINFO: signed device info and digital id.
    let a = call(port, "MOSIPDINFO", "/info", "").await;
    a.check_json_headers(port);
    let v = a.json();
    schema.check("infoResponse", &v);
    for entry in v.as_array().unwrap() {
        assert_eq!(entry["error"]["errorCode"], "0");
        let info = signed(&schema, &trust, entry["deviceInfo"].as_str().unwrap());
        schema.check("deviceInfo", &info);
        let did = signed(&schema, &trust, info["digitalId"].as_str().unwrap());
        check_digital_id(&schema, &did, info["deviceCode"].as_str().unwrap());
        assert_eq!(
            info["firmware"], info["serviceVersion"],
            "L0: firmware is the service version"
        );
        assert_eq!(info["callbackId"], svc.base_url());
        assert_eq!(info["purpose"], "Registration");
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
        let a = call(
            port,
            "RCAPTURE",
            "/capture",
            &serde_json::to_string(&req).unwrap(),
        )
        .await;
        a.check_json_headers(port);
        let v = a.json();
        schema.check("rCaptureResponse", &v);
        let items = v["biometrics"].as_array().unwrap();
        assert_eq!(items.len(), subtypes.len());
        for (b, subtype) in items.iter().zip(&subtypes) {
            assert_eq!(b["error"]["errorCode"], "0");
            let data = signed(&schema, &trust, b["data"].as_str().unwrap());
            schema.check("biometricData", &data);
            let did = signed(&schema, &trust, data["digitalId"].as_str().unwrap());
            check_digital_id(&schema, &did, data["deviceCode"].as_str().unwrap());
            assert_eq!(did["type"], data["bioType"]);
            assert_eq!(data["bioSubType"], *subtype);
            assert_eq!(data["transactionId"], "compliance-tx-7");
            assert_eq!(data["requestedScore"], 55.0);
            assert_eq!(data["env"], "Developer");
            let iso = b64url_decode(data["bioValue"].as_str().unwrap()).unwrap();
            let expected = chain_hash(&previous, &iso).unwrap();
            assert_eq!(b["hash"], expected.as_str(), "hash chain");
            previous = expected;
        }
    }

    // Refusals keep the capture answer's shape, with the code and no data.
    for (body, code) in [
        ("{not json".to_string(), "501"),
        (
            {
                let mut r = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
                r.transaction_id = "x".into();
                serde_json::to_string(&r).unwrap()
            },
            "112",
        ),
        (
            serde_json::to_string(&rcapture(
                ids::FINGER,
                BioType::Finger,
                1,
                9,
                vec![],
                40.0,
                5_000,
                "",
            ))
            .unwrap(),
            "109",
        ),
        (
            serde_json::to_string(&rcapture(
                "nope",
                BioType::Face,
                0,
                1,
                vec![],
                40.0,
                5_000,
                "",
            ))
            .unwrap(),
            "106",
        ),
    ] {
        let a = call(port, "RCAPTURE", "/capture", &body).await;
        a.check_json_headers(port);
        let v = a.json();
        schema.check("rCaptureResponse", &v);
        assert_eq!(v["biometrics"][0]["error"]["errorCode"], code, "{body}");
    }
    let a = call(port, "CAPTURE", "/capture", "{}").await;
    schema.check("rCaptureResponse", &a.json());
    assert_eq!(a.json()["biometrics"][0]["error"]["errorCode"], "502");

    // STREAM: the error answer, then the stream's framing.
    let a = call(
        port,
        "STREAM",
        "/stream",
        r#"{"deviceId":"nope","deviceSubId":1}"#,
    )
    .await;
    a.check_json_headers(port);
    schema.check("errorResponse", &a.json());
    assert_eq!(a.json()["error"]["errorCode"], "202");
    let a = call(
        port,
        "STREAM",
        "/stream",
        &format!(
            r#"{{"deviceId":"{}","deviceSubId":"0","timeout":"700"}}"#,
            ids::FACE
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        "multipart/x-mixed-replace; boundary=--BoundaryString"
    );
    assert_eq!(a.header("access-control-allow-origin"), "*");
    let head = String::from_utf8_lossy(&a.body[..120]).to_string();
    assert!(
        head.starts_with("--BoundaryString\r\nAccess-Control-Allow-Origin:*\r\nContent-Type:image/jpeg\r\nContent-Length:"),
        "{head:?}"
    );
    let frames = a
        .body
        .windows(16)
        .filter(|w| w == b"--BoundaryString")
        .count();
    assert!(
        frames >= 3,
        "{frames} frames in 0.7 s (3 a second at least)"
    );

    // An unknown verb: 405 with the error shape and the verbs allowed.
    let a = call(port, "DELETE", "/device", "").await;
    assert_eq!(a.status, 405);
    schema.check("errorResponse", &a.json());
    assert!(a.header("allow").contains("RCAPTURE"));

    // A busy device: status Busy and 111 in discovery and device info.
    sim.inject(SimFault::Busy);
    let v = call(port, "MOSIPDISC", "/device", r#"{"type":"Face"}"#)
        .await
        .json();
    schema.check("discoveryResponse", &v);
    assert_eq!(v[0]["deviceStatus"], "Busy");
    assert_eq!(v[0]["error"]["errorCode"], "111");
    let v = call(port, "MOSIPDINFO", "/info", "").await.json();
    schema.check("infoResponse", &v);
    for entry in v.as_array().unwrap() {
        assert_eq!(entry["error"]["errorCode"], "111");
        let info = signed(&schema, &trust, entry["deviceInfo"].as_str().unwrap());
        schema.check("deviceInfo", &info);
        assert_eq!(info["deviceStatus"], "Busy");
    }
    sim.clear(SimFault::Busy);
    sim.inject(SimFault::NotReady);
    let v = call(port, "MOSIPDISC", "/device", "").await.json();
    schema.check("discoveryResponse", &v);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|d| d["error"]["errorCode"] == "110" && d["deviceStatus"] == "Not Ready")
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_an_unregistered_service_follows_the_specification() {
    let schema = Schema::load();
    let (svc, _sim) = service(None).await;
    let port = svc.port();
    let v = call(
        port,
        "MOSIPDISC",
        "/device",
        r#"{"type":"Biometric Device"}"#,
    )
    .await
    .json();
    schema.check("discoveryResponse", &v);
    for d in v.as_array().unwrap() {
        assert_eq!(d["deviceStatus"], "Not Registered");
        assert_eq!(d["error"]["errorCode"], "100");
        assert_eq!(d["purpose"], "");
        check_digital_id(
            &schema,
            &b64json(d["digitalId"].as_str().unwrap()),
            d["deviceCode"].as_str().unwrap(),
        );
    }
    let a = call(port, "MOSIPDINFO", "/info", "").await;
    a.check_json_headers(port);
    let v = a.json();
    schema.check("infoResponse", &v);
    for entry in v.as_array().unwrap() {
        assert_eq!(entry["error"]["errorCode"], "100");
        let token = entry["deviceInfo"].as_str().unwrap();
        assert!(
            !token.contains('.'),
            "an unregistered device's info is unsigned"
        );
        let info = b64json(token);
        schema.check("deviceInfo", &info);
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
            &b64json(did_token),
            info["deviceCode"].as_str().unwrap(),
        );
    }
    let req = rcapture(ids::FACE, BioType::Face, 0, 1, vec![], 40.0, 5_000, "");
    let v = call(
        port,
        "RCAPTURE",
        "/capture",
        &serde_json::to_string(&req).unwrap(),
    )
    .await
    .json();
    schema.check("rCaptureResponse", &v);
    assert_eq!(v["biometrics"][0]["error"]["errorCode"], "100");
    let v = call(
        port,
        "STREAM",
        "/stream",
        &format!(r#"{{"deviceId":"{}","deviceSubId":0}}"#, ids::FACE),
    )
    .await
    .json();
    schema.check("errorResponse", &v);
    assert_eq!(v["error"]["errorCode"], "100");
    svc.stop().await;
}

#[test]
fn the_schema_refuses_what_the_specification_forbids() {
    // The checker itself: answers a device must not give are caught.
    let schema =
        Schema(serde_json::from_str(include_str!("schema/sbi-0.9.5.schema.json")).unwrap());
    let full = json!({"$defs": schema.0["$defs"], "$ref": "#/$defs/digitalId"});
    let v = jsonschema::validator_for(&full).unwrap();
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
    let full = json!({"$defs": schema.0["$defs"], "$ref": "#/$defs/rCaptureResponse"});
    let v = jsonschema::validator_for(&full).unwrap();
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
