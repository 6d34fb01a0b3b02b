//! Committing an enrollment's recording durably: about 1 MB of biometrics (a face, three
//! slaps, a signature) sealed and written in one transaction, fsync'd (WAL,
//! `synchronous=FULL`), into a store on the machine's disk.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use rekam_store::*;

fn bench(c: &mut Criterion) {
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let store = SqliteStore::open(
        dir.path(),
        &KeySource::File(dir.path().join("store.key")),
        &StoreOptions::default(),
    )
    .unwrap();
    let index = Index {
        stage: "RECORDED".into(),
        open: true,
        created_at: SystemTime::now(),
        created_day: "2026-11-28".into(),
        receipt_number: None,
    };
    // Incompressible bytes (what WSQ and JPEG look like): the worst case for packing.
    let blob = |n: usize, seed: u8| -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let face = blob(120_000, 3);
    let slaps: Vec<Vec<u8>> = (0..3).map(|i| blob(290_000, 5 + i)).collect();
    let signature = blob(20_000, 11);
    let summary = blob(6_000, 13);
    let mut n = 0u64;
    c.bench_function("commit a recording (~1 MB, sealed, fsync'd)", |b| {
        b.iter(|| {
            n += 1;
            let id = format!("{n:026}");
            store
                .create(&NewEnrollment {
                    id: &id,
                    nik: "3171011501900001",
                    index: &index,
                    summary: &summary,
                    answer: None,
                })
                .unwrap();
            store
                .commit(&Commit {
                    id: &id,
                    expected_version: 1,
                    index: &index,
                    summary: &summary,
                    put: &[
                        ("face", &face),
                        ("slap:RIGHT_FOUR", &slaps[0]),
                        ("slap:LEFT_FOUR", &slaps[1]),
                        ("slap:BOTH_THUMBS", &slaps[2]),
                        ("signature", &signature),
                    ],
                    delete: &[],
                    answer: None,
                    enqueue: None,
                })
                .unwrap()
        })
    });
}

/// A fingerprint step's commit: three raw 1600x1500 slaps as the simulator renders them,
/// clean and with sensor noise, packed (zstd) and sealed on the machine's cores.
fn raw_slaps(c: &mut Criterion) {
    use rekam_synth::*;
    let dir =
        tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into())).unwrap();
    let store = SqliteStore::open(
        dir.path(),
        &KeySource::File(dir.path().join("store.key")),
        &StoreOptions::default(),
    )
    .unwrap();
    let index = Index {
        stage: "IDENTITY_VERIFIED".into(),
        open: true,
        created_at: SystemTime::now(),
        created_day: "2026-11-28".into(),
        receipt_number: None,
    };
    let masters: Vec<MasterFinger> = (0..4).map(|i| master(100 + i)).collect();
    let slap = |hand: Hand, noisy: bool| -> Vec<u8> {
        let f = |i: usize| SlapFinger {
            master: Some(&masters[i]),
            impression: Impression::random(i as u64 + 1, 0.3),
        };
        let (img, _) = render_four_finger_slap(hand, &[f(0), f(1), f(2), f(3)], 1600, 1500);
        let img = if noisy {
            degrade(&img, Degradation::Noise(0.3), 7)
        } else {
            img
        };
        img.into_raw()
    };
    let mut n = 0u64;
    for noisy in [false, true] {
        let slaps = [
            slap(Hand::Right, noisy),
            slap(Hand::Left, noisy),
            slap(Hand::Right, noisy),
        ];
        let name = if noisy {
            "commit three raw slaps with sensor noise (3 x 2.4 MB, packed, sealed, fsync'd)"
        } else {
            "commit three raw slaps (3 x 2.4 MB, packed, sealed, fsync'd)"
        };
        c.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let id = format!("S{n:025}");
                store
                    .create(&NewEnrollment {
                        id: &id,
                        nik: "3171011501900001",
                        index: &index,
                        summary: b"summary",
                        answer: None,
                    })
                    .unwrap();
                store
                    .commit(&Commit {
                        id: &id,
                        expected_version: 1,
                        index: &index,
                        summary: b"summary",
                        put: &[
                            ("slap:RIGHT_FOUR", &slaps[0]),
                            ("slap:LEFT_FOUR", &slaps[1]),
                            ("slap:BOTH_THUMBS", &slaps[2]),
                        ],
                        delete: &[],
                        answer: None,
                        enqueue: None,
                    })
                    .unwrap()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench, raw_slaps
}
criterion_main!(benches);
