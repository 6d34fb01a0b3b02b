//! AES secure messaging checked against OpenSSL: the protected command and response that
//! `rekam_encoder::sm` builds are rebuilt here byte by byte from ICAO 9303-11 §9.8's rules,
//! with the `openssl` command line doing every AES operation (`enc -aes-128-ecb` for the IV,
//! `enc -aes-128-cbc` for the cryptogram, `mac CMAC` for the MAC). The 3DES suite has the
//! ICAO appendix D worked example in the unit tests; 9303 has no worked example for AES
//! secure messaging, so an independent implementation stands in for one.
//!
//! Needs the `openssl` command (Debian package openssl, which `tests/deps.sh` installs); a
//! missing one fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command as Process, Stdio};

use rekam_encoder::sm::{SessionKeys, SmCard, SmHost, Suite, aes_cmac8, pad_block};
use rekam_iso7816::{Command, Response, StatusWord};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// Runs `openssl args…` with `input` on stdin and returns its stdout.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Process::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command (Debian package openssl; tests/deps.sh installs it)");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn aes_ecb(key: &[u8], block: &[u8]) -> Vec<u8> {
    openssl(
        &["enc", "-aes-128-ecb", "-nopad", "-K", &hex::encode(key)],
        block,
    )
}

fn aes_cbc(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    openssl(
        &[
            "enc",
            "-aes-128-cbc",
            "-nopad",
            "-K",
            &hex::encode(key),
            "-iv",
            &hex::encode(iv),
        ],
        data,
    )
}

/// AES-CMAC by OpenSSL, first 8 bytes.
fn cmac8(key: &[u8], data: &[u8]) -> Vec<u8> {
    let hexkey = format!("hexkey:{}", hex::encode(key));
    let out = openssl(
        &["mac", "-cipher", "AES-128-CBC", "-macopt", &hexkey, "CMAC"],
        data,
    );
    let text = String::from_utf8(out).unwrap();
    h(text.trim())[..8].to_vec()
}

#[test]
fn cmac_matches_rfc_4493_and_openssl() {
    // RFC 4493 §4, example 2 (one block).
    let key = h("2b7e151628aed2a6abf7158809cf4f3c");
    let msg = h("6bc1bee22e409f96e93d7e117393172a");
    let key16: [u8; 16] = key.clone().try_into().unwrap();
    assert_eq!(aes_cmac8(&key16, &[&msg]).to_vec(), h("070a16b46b4d4144"));
    assert_eq!(cmac8(&key, &msg), h("070a16b46b4d4144"));
    // Any length, split anywhere.
    let long: Vec<u8> = (0..77u8).collect();
    assert_eq!(
        aes_cmac8(&key16, &[&long[..30], &long[30..]]).to_vec(),
        cmac8(&key, &long)
    );
}

#[test]
fn aes_secure_messaging_matches_openssl() {
    let ks_enc = h("2F7F46ADCC9E7E521B45D192FAFA9126");
    let ks_mac = h("805A1D27D45A5116F73C54469462B7D8");
    let keys = SessionKeys {
        suite: Suite::Aes128,
        ks_enc: ks_enc.clone().try_into().unwrap(),
        ks_mac: ks_mac.clone().try_into().unwrap(),
        ssc: 0x0000_0000_0000_0000_8870_2212_0C06_C226,
    };
    let mut host = SmHost::new(keys.clone());
    let mut card = SmCard::new(keys);

    // UPDATE BINARY of 20 bytes at offset 0x10.
    let data: Vec<u8> = (1..=20).collect();
    let plain = Command::new(0x00, 0xD6, 0x00, 0x10).with_data(data.clone());
    let wrapped = host.wrap(&plain).unwrap();

    // The same by the rules, OpenSSL doing the AES: the SSC counts the command first.
    let ssc1 = h("00000000000000008870 2212 0C06 C227");
    let iv = aes_ecb(&ks_enc, &ssc1);
    let mut padded = data.clone();
    padded.push(0x80);
    padded.resize(32, 0);
    let cryptogram = aes_cbc(&ks_enc, &iv, &padded);
    let mut do87 = vec![0x87, 0x21, 0x01];
    do87.extend_from_slice(&cryptogram);
    let mut mac_input = ssc1.clone();
    mac_input.extend_from_slice(&h("0CD60010 80000000 00000000 00000000"));
    mac_input.extend_from_slice(&do87);
    let mac_input = pad_block(&mac_input, 16);
    let mac = cmac8(&ks_mac, &mac_input);
    let mut expected = vec![0x0C, 0xD6, 0x00, 0x10];
    let mut body = do87.clone();
    body.extend_from_slice(&[0x8E, 0x08]);
    body.extend_from_slice(&mac);
    expected.push(body.len() as u8);
    expected.extend_from_slice(&body);
    expected.push(0x00);
    assert_eq!(wrapped.to_bytes(false).unwrap(), expected);
    assert_eq!(card.unwrap_command(&wrapped).unwrap(), plain);

    // The card's answer: 5 bytes of data and 9000, under the next SSC.
    let answer = Response::ok(h("6014 5F01 04"));
    let protected = card.wrap_response(&answer);
    let ssc2 = h("00000000000000008870 2212 0C06 C228");
    let iv = aes_ecb(&ks_enc, &ssc2);
    let cryptogram = aes_cbc(&ks_enc, &iv, &pad_block(&answer.data, 16));
    let mut dos = vec![0x87, 0x11, 0x01];
    dos.extend_from_slice(&cryptogram);
    dos.extend_from_slice(&h("99029000"));
    let mut mac_input = ssc2;
    mac_input.extend_from_slice(&dos);
    let mac = cmac8(&ks_mac, &pad_block(&mac_input, 16));
    dos.extend_from_slice(&[0x8E, 0x08]);
    dos.extend_from_slice(&mac);
    assert_eq!(
        protected,
        Response {
            data: dos,
            sw: StatusWord(0x9000)
        }
    );
    assert_eq!(host.unwrap(&protected).unwrap(), answer);
}
