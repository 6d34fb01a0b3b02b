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
    let blob =
        |n: usize, seed: u8| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(seed)).collect() };
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
