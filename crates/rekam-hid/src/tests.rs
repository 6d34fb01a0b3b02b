//! Tests of the whole driver on the descriptors of [`crate::testdata`]: each descriptor's
//! pen (bit offsets and ranges checked by hand against the descriptor bytes), reports
//! decoded, and the pad replaying report streams (signatures, damaged reports, unplugging,
//! ink), plus sysfs lookups in a fake tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rekam_core::{CheckOutcome, Device, DeviceError, DeviceState, PenSample, SignaturePad};

use crate::pen::{Axis, Locator, Switch, pressure};
use crate::testdata::*;
use crate::*;

fn layout(d: &[u8]) -> PenLayout {
    PenLayout::from_descriptor(d).unwrap()
}

fn bit(bit: u32) -> Option<Switch> {
    Some(Switch::Bit(Locator {
        bit,
        size: 1,
        signed: false,
    }))
}

fn loc(a: &Axis) -> (u32, u32, bool, i64, i64) {
    (
        a.at.bit,
        a.at.size,
        a.at.signed,
        a.logical_min,
        a.logical_max,
    )
}

fn close(a: f64, b: f64, eps: f64) -> bool {
    (a - b).abs() <= eps
}

// ---------------------------------------------------------------------------------------
// Descriptors: where the pen is

#[test]
fn the_pen_tablet_descriptor_gives_report_2_with_its_bits_and_size() {
    let l = layout(PEN_TABLET);
    assert!(l.uses_report_ids);
    assert_eq!(
        l.reports().len(),
        1,
        "the mouse and the vendor buttons are not pens"
    );
    let r = l.primary();
    assert_eq!((r.report_id, r.len), (2, 8));
    assert_eq!(r.tip, bit(0));
    assert_eq!(r.barrel, bit(1));
    assert_eq!(r.eraser, bit(2));
    assert_eq!(r.invert, bit(3));
    assert_eq!(r.in_range, bit(4));
    assert_eq!(loc(&r.x), (8, 16, false, 0, 43200));
    assert_eq!(loc(&r.y), (24, 16, false, 0, 27000));
    assert_eq!((r.x.unit, r.x.unit_exponent), (0x11, -3));
    assert_eq!((r.x.physical_min, r.x.physical_max), (0, 21600));
    let p = r.pressure.unwrap();
    assert_eq!(loc(&p), (40, 16, false, 0, 2047));
    assert_eq!((p.unit, p.physical_max), (0, 2047), "Pop restored no unit");
    assert_eq!(r.pressure_levels(), 2048);
    assert!(r.tilt_x.is_none());
    let s = PenScale::new(&l, None).unwrap();
    assert!(close(s.width_mm, 216.0, 1e-9) && close(s.height_mm, 135.0, 1e-9));
    assert!(close(s.units_per_mm, 200.0, 1e-9) && s.from_descriptor);
    let g = s.geometry();
    assert_eq!(
        (g.width, g.height, g.units_per_mm),
        (43200.0, 27000.0, 200.0)
    );
    // The longest input report: the pen's 8 bytes (mouse 4, buttons 5).
    assert_eq!(l.max_input_len, 8);
}

#[test]
fn the_pen_display_descriptor_gives_32_bit_positions_and_signed_tilt() {
    let l = layout(PEN_DISPLAY);
    let r = l.primary();
    assert_eq!((r.report_id, r.len), (7, 14));
    assert_eq!(r.tip, bit(0));
    assert_eq!(r.barrel, bit(1));
    assert_eq!(r.invert, bit(2));
    assert_eq!(r.eraser, bit(3));
    assert_eq!(r.in_range, bit(5));
    assert_eq!(loc(&r.x), (8, 32, false, 0, 67750));
    assert_eq!(loc(&r.y), (40, 32, false, 0, 38100));
    assert_eq!((r.x.unit, r.x.unit_exponent), (0x13, -3), "inch × 10^-3");
    assert_eq!(loc(&r.pressure.unwrap()), (72, 16, false, 0, 8191));
    let tx = r.tilt_x.unwrap();
    assert_eq!(loc(&tx), (88, 8, true, -60, 60));
    assert_eq!((tx.physical_min, tx.physical_max, tx.unit), (-60, 60, 0x14));
    assert_eq!(loc(&r.tilt_y.unwrap()), (96, 8, true, -60, 60));
    let s = PenScale::new(&l, None).unwrap();
    assert!(close(s.width_mm, 13.55 * 25.4, 1e-9), "{}", s.width_mm);
    assert!(close(s.height_mm, 7.62 * 25.4, 1e-9), "{}", s.height_mm);
    assert!(
        close(s.units_per_mm, 5000.0 / 25.4, 1e-6),
        "{}",
        s.units_per_mm
    );
}

#[test]
fn the_waltop_signature_sized_tablet_reads_its_tip_from_an_array() {
    let l = layout(WALTOP_SLIM_5_8);
    let r = l.primary();
    assert_eq!((r.report_id, r.len), (16, 8));
    let slot = Locator {
        bit: 0,
        size: 4,
        signed: false,
    };
    assert_eq!(
        r.tip,
        Some(Switch::Selector {
            slots: vec![slot],
            value: 1
        })
    );
    assert_eq!(
        r.barrel,
        Some(Switch::Selector {
            slots: vec![slot],
            value: 2
        })
    );
    assert_eq!(r.in_range, bit(4));
    assert_eq!((r.invert.clone(), r.eraser.clone()), (None, None));
    assert_eq!(loc(&r.x), (8, 16, false, 0, 10000));
    assert_eq!(loc(&r.y), (24, 16, false, 0, 6000));
    assert_eq!(
        (r.x.unit, r.x.unit_exponent, r.x.physical_max),
        (0x13, -3, 5000)
    );
    let p = r.pressure.unwrap();
    assert_eq!(loc(&p), (40, 16, false, 0, 1023));
    assert_eq!(p.unit, 0, "Pop left the inch behind");
    let s = PenScale::new(&l, None).unwrap();
    assert!(close(s.width_mm, 127.0, 1e-9) && close(s.height_mm, 76.2, 1e-9));
    assert!(close(s.units_per_mm, 10000.0 / 127.0, 1e-9));
}

#[test]
fn the_ntrig_digitizer_keeps_its_pen_and_drops_fingers_and_mouse() {
    let l = layout(&hex(NTRIG_1B96_0C01));
    assert_eq!(l.reports().len(), 1);
    let r = l.primary();
    assert_eq!((r.report_id, r.len), (1, 10));
    assert_eq!(r.in_range, bit(0));
    assert_eq!(r.tip, bit(1));
    assert_eq!(r.barrel, bit(2));
    assert_eq!(r.invert, bit(3));
    assert_eq!(r.eraser, bit(4));
    assert_eq!(loc(&r.x), (8, 16, false, 0, 9600));
    assert_eq!(loc(&r.y), (24, 16, false, 0, 7200));
    assert_eq!((r.x.unit, r.x.unit_exponent), (0x11, -2));
    assert_eq!(loc(&r.pressure.unwrap()), (40, 16, false, 0, 256));
    assert_eq!(r.pressure_levels(), 257);
    let s = PenScale::new(&l, None).unwrap();
    assert!(close(s.width_mm, 258.1, 1e-9) && close(s.height_mm, 146.0, 1e-9));
    // Y is the finer axis (49.3/mm against X's 37.2/mm): pad units are Y's.
    assert!(close(s.units_per_mm, 7200.0 / 146.0, 1e-9));
}

#[test]
fn the_wacom_native_descriptor_is_read_through_the_vendor_page() {
    let l = layout(WACOM_PTH660_PEN);
    let r = l.primary();
    assert_eq!((r.report_id, r.len), (16, 27));
    assert_eq!(r.tip, bit(0));
    assert_eq!(r.barrel, bit(1));
    assert_eq!(r.eraser, bit(3));
    assert_eq!(r.invert, bit(4));
    assert_eq!(r.in_range, bit(5));
    assert_eq!(loc(&r.x), (8, 24, false, 0, 44800));
    assert_eq!(loc(&r.y), (32, 24, false, 0, 29600));
    assert_eq!(loc(&r.pressure.unwrap()), (56, 16, false, 0, 8191));
    assert_eq!(loc(&r.tilt_x.unwrap()), (72, 8, true, -64, 63));
    assert_eq!(loc(&r.tilt_y.unwrap()), (80, 8, true, -64, 63));
    let s = PenScale::new(&l, None).unwrap();
    assert!(close(s.width_mm, 224.0, 1e-9) && close(s.height_mm, 148.0, 1e-9));
    assert!(close(s.units_per_mm, 200.0, 1e-9));
    // The serial number fields are signed 32-bit (Logical Minimum -2^31).
    let d = ReportDescriptor::parse(WACOM_PTH660_PEN).unwrap();
    let serial = d
        .fields
        .iter()
        .find(|f| f.usages.first() == Some(&Usage::new(0xFF0D, 0x5B)))
        .unwrap();
    assert_eq!(
        (
            serial.bit_offset,
            serial.size,
            serial.count,
            serial.logical_min,
            serial.logical_max
        ),
        (128, 32, 2, -2_147_483_648, 2_147_483_647)
    );
}

#[test]
fn a_keyboard_is_refused_with_what_it_is() {
    let e = PenLayout::from_descriptor(KEYBOARD).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, LayoutError::NoPen { .. }));
    assert!(
        m.contains("no pen") && m.contains("Keyboard (0001:0006)"),
        "{m}"
    );
    // The keyboard itself is parsed right: 8 modifier bits, a padding byte, 6 key bytes,
    // and an output report of 5 LEDs.
    let d = ReportDescriptor::parse(KEYBOARD).unwrap();
    assert_eq!(d.report_len(ReportKind::Input, 0), Some(8));
    assert_eq!(d.report_len(ReportKind::Output, 0), Some(1));
    let keys = d
        .fields
        .iter()
        .find(|f| !f.flags.variable() && !f.flags.constant())
        .unwrap();
    assert_eq!((keys.bit_offset, keys.size, keys.count), (16, 8, 6));
    assert_eq!(keys.usages.len(), 0x66);
}

#[test]
fn descriptors_that_cannot_be_read_say_where() {
    let e = PenLayout::from_descriptor(&WALTOP_SLIM_5_8[..WALTOP_SLIM_5_8.len() - 2]).unwrap_err();
    assert!(
        matches!(
            e,
            LayoutError::Descriptor(DescriptorError::Unclosed { open: 2 })
        ),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Reports decoded

#[test]
fn tablet_reports_decode_into_states_positions_and_pressure() {
    let l = layout(PEN_TABLET);
    let s = PenScale::new(&l, None).unwrap();
    let r = l.primary();
    let Decoded::Pen(p) = l.decode(&tablet_report(true, true, false, true, 21600, 13500, 1023))
    else {
        panic!()
    };
    assert!(p.in_range && p.tip && p.barrel && !p.eraser && p.inking());
    assert_eq!((p.x, p.y, p.pressure), (21600, 13500, Some(1023)));
    assert_eq!(s.position(r, &p), (21600.0, 13500.0));
    assert_eq!(pressure(r, &p), 1023.0 / 2047.0);
    // Touching at pressure 0 is never "pen up".
    let Decoded::Pen(p) = l.decode(&tablet_report(true, false, false, true, 0, 0, 0)) else {
        panic!()
    };
    assert_eq!(pressure(r, &p), 1.0 / 2047.0);
    // The eraser end touching does not ink.
    let Decoded::Pen(p) = l.decode(&tablet_report(false, false, true, true, 5, 5, 900)) else {
        panic!()
    };
    assert!(!p.inking());
    assert_eq!(pressure(r, &p), 0.0);
    // Out of range: positions are not checked.
    let Decoded::Pen(p) = l.decode(&tablet_report(false, false, false, false, 0xFFFF, 0, 0)) else {
        panic!()
    };
    assert!(!p.in_range);
}

#[test]
fn damaged_and_foreign_reports_are_told_apart() {
    let l = layout(PEN_TABLET);
    let full = tablet_report(true, false, false, true, 100, 100, 100);
    assert_eq!(
        l.decode(&full[..5]),
        Decoded::Truncated {
            report_id: 2,
            len: 5,
            expected: 8
        }
    );
    assert!(matches!(l.decode(&[]), Decoded::Truncated { len: 0, .. }));
    assert_eq!(
        l.decode(&[0x01, 0x01, 0x05, 0xFB]),
        Decoded::Other { report_id: 1 }
    );
    assert_eq!(
        l.decode(&[0x09, 0, 0, 0, 0, 0, 0, 0]),
        Decoded::Other { report_id: 9 }
    );
    // In range, X beyond its Logical Maximum of 43200.
    assert_eq!(
        l.decode(&tablet_report(false, false, false, true, 50000, 100, 0)),
        Decoded::OutOfRange { report_id: 2 }
    );
    // A longer report than declared is read (some devices pad theirs).
    let mut long = full.clone();
    long.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(l.decode(&long), Decoded::Pen(_)));
}

#[test]
fn waltop_array_values_select_tip_and_barrel() {
    let l = layout(WALTOP_SLIM_5_8);
    let report = |flags: u8, x: u16, y: u16, p: u16| {
        let mut r = vec![0x10, flags];
        for v in [x, y, p] {
            r.extend_from_slice(&v.to_le_bytes());
        }
        r
    };
    let state = |r: Vec<u8>| match l.decode(&r) {
        Decoded::Pen(p) => p,
        other => panic!("{other:?}"),
    };
    let p = state(report(0x11, 5000, 3000, 512));
    assert!(p.in_range && p.tip && !p.barrel);
    let p = state(report(0x12, 5000, 3000, 0));
    assert!(p.in_range && !p.tip && p.barrel);
    let p = state(report(0x10, 5000, 3000, 0));
    assert!(
        p.in_range && !p.tip && !p.barrel,
        "array value 0: nothing selected"
    );
    let p = state(report(0x00, 0, 0, 0));
    assert!(!p.in_range);
    // 10000 units over 127 mm: the middle is 63.5 mm, 5000 pad units at 78.74/mm.
    let s = PenScale::new(&l, None).unwrap();
    let (x, y) = s.position(l.primary(), &state(report(0x11, 5000, 3000, 512)));
    assert!(close(f64::from(x), 5000.0, 0.01) && close(f64::from(y), 3000.0, 0.01));
    assert_eq!(
        l.decode(&report(0x11, 10001, 0, 0)),
        Decoded::OutOfRange { report_id: 16 }
    );
}

#[test]
fn display_reports_carry_32_bit_positions_and_negative_tilt() {
    let l = layout(PEN_DISPLAY);
    let mut r = vec![0x07, 0b0010_0001];
    r.extend_from_slice(&67750u32.to_le_bytes());
    r.extend_from_slice(&19050u32.to_le_bytes());
    r.extend_from_slice(&8191u16.to_le_bytes());
    r.extend_from_slice(&[0xF0, 0x3C]); // tilt -16, 60
    let Decoded::Pen(p) = l.decode(&r) else {
        panic!()
    };
    assert!(p.in_range && p.tip);
    assert_eq!((p.x, p.y, p.pressure), (67750, 19050, Some(8191)));
    assert_eq!((p.tilt_x, p.tilt_y), (Some(-16), Some(60)));
    let s = PenScale::new(&l, None).unwrap();
    let (x, y) = s.position(l.primary(), &p);
    assert!(close(f64::from(x), 67750.0, 0.05) && close(f64::from(y), 19050.0, 0.05));
    assert_eq!(pressure(l.primary(), &p), 1.0);
}

#[test]
fn axes_of_different_resolutions_are_scaled_to_square_pad_units() {
    let l = layout(&hex(NTRIG_1B96_0C01));
    let s = PenScale::new(&l, None).unwrap();
    // in range + tip; X 4800 (half of 258.1 mm), Y 3600 (half of 146 mm), pressure 128.
    let mut r = vec![0x01, 0b0000_0011];
    for v in [4800u16, 3600, 128, 0] {
        r.extend_from_slice(&v.to_le_bytes());
    }
    let Decoded::Pen(p) = l.decode(&r) else {
        panic!()
    };
    let (x, y) = s.position(l.primary(), &p);
    let upm = 7200.0 / 146.0;
    assert!(close(f64::from(x), 129.05 * upm, 0.01), "{x}");
    assert!(close(f64::from(y), 3600.0, 0.01), "{y}");
    assert_eq!(pressure(l.primary(), &p), 0.5);
}

/// A pen without physical units and without report ids.
const NO_UNITS: &[u8] = &[
    0x05, 0x0D, 0x09, 0x02, 0xA1, 0x01, 0x09, 0x20, 0xA1, 0x00, 0x09, 0x42, 0x09, 0x32, 0x15, 0x00,
    0x25, 0x01, 0x75, 0x01, 0x95, 0x02, 0x81, 0x02, 0x95, 0x06, 0x81, 0x03, 0x05, 0x01, 0x09, 0x30,
    0x09, 0x31, 0x26, 0xFF, 0x0F, 0x75, 0x10, 0x95, 0x02, 0x81, 0x02, 0xC0, 0xC0,
];

#[test]
fn a_pen_without_units_needs_a_configured_resolution() {
    let l = layout(NO_UNITS);
    assert!(!l.uses_report_ids);
    assert_eq!(l.primary().len, 5);
    assert_eq!(PenScale::new(&l, None), None);
    let s = PenScale::new(&l, Some(40.0)).unwrap();
    assert!(!s.from_descriptor);
    assert!(close(s.width_mm, 4095.0 / 40.0, 1e-9));
    let Decoded::Pen(p) = l.decode(&[0x03, 0x00, 0x08, 0x10, 0x00]) else {
        panic!()
    };
    assert!(p.tip && p.in_range);
    assert_eq!(s.position(l.primary(), &p), (2048.0, 16.0));
    assert_eq!(
        pressure(l.primary(), &p),
        1.0,
        "no pressure field: touching is 1"
    );
}

// ---------------------------------------------------------------------------------------
// The pad on replayed devices

fn config(finish_ms: u64) -> HidConfig {
    HidConfig {
        finish_after: Duration::from_millis(finish_ms),
        reconnect_every: Duration::from_millis(20),
        ..Default::default()
    }
}

fn replay(d: &[u8], script: Vec<ReplayEvent>) -> ReplayTransport {
    ReplayTransport::new(d.to_vec(), script)
}

fn open(
    outcomes: Vec<Result<ReplayTransport, DeviceError>>,
    c: HidConfig,
) -> (HidPad, Arc<ReplayOpener>) {
    let opener = Arc::new(ReplayOpener::new(outcomes));
    let pad = HidPad::open("signature0", opener.clone(), c).unwrap();
    (pad, opener)
}

async fn collect(pad: &HidPad) -> Vec<Result<PenSample, DeviceError>> {
    tokio::time::timeout(Duration::from_secs(5), pad.sign().collect::<Vec<_>>())
        .await
        .expect("the signature ends")
}

async fn wait_state(pad: &HidPad, want: DeviceState) {
    let mut rx = pad.watch_state();
    tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| *s == want))
        .await
        .expect("state reached")
        .unwrap();
}

use ReplayEvent::{AwaitCapture, Pause, Report, Unplug};

fn tab(tip: bool, in_range: bool, x: u16, y: u16, p: u16) -> ReplayEvent {
    Report(tablet_report(tip, false, false, in_range, x, y, p))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_streams_samples_splits_strokes_and_ends_after_finish_ms() {
    let script = vec![
        AwaitCapture,
        tab(false, true, 1000, 1000, 0), // hover
        tab(true, true, 1000, 1000, 2047),
        tab(true, true, 1200, 1100, 1023),
        tab(false, true, 1300, 1150, 0), // lifted, hovering: stroke 1 ends
        Pause(Duration::from_millis(60)),
        tab(true, true, 2000, 2000, 512), // stroke 2
        tab(true, true, 2100, 2000, 512),
        tab(false, false, 0, 0, 0), // leaves range: one pen-up sample
        tab(false, false, 0, 0, 0), // nothing new
    ];
    let (pad, _) = open(vec![Ok(replay(PEN_TABLET, script))], config(150));
    assert_eq!(pad.info().vendor, "USB vendor 1234");
    assert!(
        pad.info().model.contains("216 x 135 mm"),
        "{}",
        pad.info().model
    );
    assert_eq!(pad.pressure_levels(), 2048);
    let g = pad.geometry();
    assert_eq!(
        (g.width, g.height, g.units_per_mm),
        (43200.0, 27000.0, 200.0)
    );
    let started = std::time::Instant::now();
    let got: Vec<PenSample> = collect(&pad)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150 + 60), "{took:?}");
    assert_eq!(pad.state(), DeviceState::Ready);
    let xyp: Vec<(f32, f32, f32)> = got.iter().map(|s| (s.x, s.y, s.pressure)).collect();
    assert_eq!(
        xyp,
        [
            (1000.0, 1000.0, 0.0),
            (1000.0, 1000.0, 1.0),
            (1200.0, 1100.0, 1023.0 / 2047.0),
            (1300.0, 1150.0, 0.0),
            (2000.0, 2000.0, 512.0 / 2047.0),
            (2100.0, 2000.0, 512.0 / 2047.0),
            (2100.0, 2000.0, 0.0),
        ]
    );
    assert!(got.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    assert!(
        got[4].t_ms >= 60,
        "the pause shows in the times: {}",
        got[4].t_ms
    );
    let s = pad.stats();
    assert_eq!((s.pen_reports, s.errors(), s.other_reports), (8, 0, 0));
    // The ink is what was streamed; taken once.
    assert_eq!(pad.take().await.unwrap(), got);
    assert!(matches!(pad.take().await, Err(DeviceError::NoInk)));
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_reports_are_counted_and_skipped_and_other_ids_ignored() {
    let good = tablet_report(true, false, false, true, 500, 500, 1000);
    let script = vec![
        AwaitCapture,
        Report(good[..4].to_vec()),           // truncated
        Report(vec![0x01, 0x01, 0x02, 0x03]), // the mouse collection
        Report(vec![0x03, 1, 2, 3, 4]),       // vendor buttons
        Report(vec![0x2A, 0, 0]),             // an id the descriptor does not have
        tab(true, true, 60000, 500, 100),     // X beyond 43200
        Report(good),
        tab(false, false, 0, 0, 0),
    ];
    let (pad, _) = open(vec![Ok(replay(PEN_TABLET, script))], config(50));
    let got: Vec<PenSample> = collect(&pad)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].x, got[0].y), (500.0, 500.0));
    assert_eq!((got[1].pressure, got[1].x), (0.0, 500.0));
    let s = pad.stats();
    assert_eq!(
        (s.truncated, s.out_of_range, s.other_reports, s.pen_reports),
        (1, 1, 3, 2)
    );
    let report = pad.self_test().await;
    let reports = report.checks.iter().find(|c| c.name == "reports").unwrap();
    assert_eq!(reports.outcome, CheckOutcome::Warn);
    assert!(
        reports.detail.contains("1 truncated, 1 out of range"),
        "{}",
        reports.detail
    );
    let desc = report
        .checks
        .iter()
        .find(|c| c.name == "descriptor")
        .unwrap();
    assert_eq!(desc.outcome, CheckOutcome::Pass);
    assert!(
        desc.detail.contains("2048 pressure levels"),
        "{}",
        desc.detail
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplug_disconnects_and_the_pad_comes_back_when_it_reopens() {
    let first = replay(
        WALTOP_SLIM_5_8,
        vec![
            AwaitCapture,
            Report(vec![0x10, 0x11, 0x88, 0x13, 0xB8, 0x0B, 0x00, 0x02]),
            Pause(Duration::from_millis(20)),
            Unplug,
        ],
    );
    let second = replay(
        WALTOP_SLIM_5_8,
        vec![
            AwaitCapture,
            Report(vec![0x10, 0x11, 0x10, 0x27, 0x70, 0x17, 0xFF, 0x03]),
            Report(vec![0x10, 0x00, 0, 0, 0, 0, 0, 0]),
        ],
    );
    let (pad, opener) = open(
        vec![
            Ok(first),
            Err(DeviceError::NotFound("unplugged".into())),
            Ok(second),
        ],
        config(50),
    );
    let got = collect(&pad).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].is_ok());
    assert!(
        matches!(got[1], Err(DeviceError::Disconnected { .. })),
        "{got:?}"
    );
    // Disconnected with the reason, then back once the opener finds it again.
    let reason = pad.state_reason();
    assert!(
        pad.state() != DeviceState::Disconnected
            || reason.as_deref().is_some_and(|r| r.contains("unplugged")),
        "{reason:?}"
    );
    wait_state(&pad, DeviceState::Ready).await;
    assert!(opener.attempts() >= 3);
    let s = pad.stats();
    assert_eq!((s.disconnects, s.reconnects), (1, 1));
    // The ink of the interrupted signature stays until the next one starts.
    let got: Vec<PenSample> = collect(&pad)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].pressure, got[1].pressure), (1.0, 0.0));
    assert!(close(f64::from(got[0].x), 10000.0, 0.01), "{}", got[0].x);
}

#[tokio::test(flavor = "multi_thread")]
async fn while_disconnected_operations_fail_and_the_self_test_says_why() {
    let gone = replay(PEN_TABLET, vec![Unplug]);
    let (pad, _) = open(vec![Ok(gone)], config(50));
    wait_state(&pad, DeviceState::Disconnected).await;
    let mut s = pad.sign();
    assert!(matches!(
        s.next().await,
        Some(Err(DeviceError::Disconnected { .. }))
    ));
    drop(s);
    assert!(matches!(
        pad.take().await,
        Err(DeviceError::Disconnected { .. })
    ));
    let report = pad.self_test().await;
    let device = &report.checks[0];
    assert_eq!(
        (device.name.as_str(), device.outcome),
        ("device", CheckOutcome::Fail)
    );
    assert!(device.detail.contains("replay"), "{}", device.detail);
}

#[tokio::test(flavor = "multi_thread")]
async fn clear_discards_ink_hover_is_no_ink_and_a_second_signer_is_busy() {
    let script = vec![
        AwaitCapture,
        tab(true, true, 10, 10, 100),
        tab(false, false, 0, 0, 0),
        // The second signature's script: hovering only.
        AwaitCapture,
        tab(false, true, 10, 10, 0),
        tab(false, false, 0, 0, 0),
    ];
    let (pad, _) = open(vec![Ok(replay(PEN_TABLET, script))], config(30));
    assert_eq!(collect(&pad).await.len(), 2);
    pad.clear().await.unwrap();
    assert!(matches!(pad.take().await, Err(DeviceError::NoInk)));
    // Hovering is not ink; a hovering signature does not end by itself.
    let mut first = pad.sign();
    assert_eq!(pad.state(), DeviceState::Busy);
    let mut second = pad.sign();
    assert!(matches!(
        second.next().await,
        Some(Err(DeviceError::Busy(_)))
    ));
    let hover = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(hover.pressure, 0.0);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), async {
            while first.next().await.is_some() {}
        })
        .await
        .is_err(),
        "no ink: the stream waits for the caller's deadline"
    );
    drop(first);
    wait_state(&pad, DeviceState::Ready).await;
    assert!(matches!(pad.take().await, Err(DeviceError::NoInk)));
    assert_eq!(pad.sample_rate_hz(), 0, "too few reports to measure");
}

#[test]
fn open_errors_are_the_openers_or_say_what_is_missing() {
    let refuse = |outcome: Result<ReplayTransport, DeviceError>, c: HidConfig| {
        HidPad::open("signature0", Arc::new(ReplayOpener::new(vec![outcome])), c).unwrap_err()
    };
    let e = refuse(
        Err(hidraw::permission_denied(
            std::path::Path::new("/dev/hidraw3"),
            Some(0x172f),
        )),
        config(50),
    );
    assert!(matches!(e, DeviceError::PermissionDenied { .. }), "{e}");
    let e = refuse(Ok(replay(KEYBOARD, vec![])), config(50));
    assert!(
        matches!(&e, DeviceError::Unsupported(m) if m.contains("cannot be a signature pad") && m.contains("Keyboard")),
        "{e}"
    );
    let e = refuse(Ok(replay(NO_UNITS, vec![])), config(50));
    assert!(
        matches!(&e, DeviceError::Unsupported(m) if m.contains("units_per_mm")),
        "{e}"
    );
    let c = HidConfig {
        units_per_mm: Some(40.0),
        ..config(50)
    };
    let pad = HidPad::open(
        "signature0",
        Arc::new(ReplayOpener::new(vec![Ok(replay(NO_UNITS, vec![]))])),
        c,
    )
    .unwrap();
    assert_eq!(pad.geometry().units_per_mm, 40.0);
    assert_eq!(pad.pressure_levels(), 0);
}

// ---------------------------------------------------------------------------------------
// sysfs

fn fake_node(class: &std::path::Path, name: &str, ids: &str, hid_name: &str, desc: &[u8]) {
    let dev = class.join(name).join("device");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(
        dev.join("uevent"),
        format!("HID_ID={ids}\nHID_NAME={hid_name}\nHID_UNIQ=SN42\n"),
    )
    .unwrap();
    std::fs::write(dev.join("report_descriptor"), desc).unwrap();
}

#[test]
fn usb_ids_resolve_to_the_pen_interface_in_sysfs() {
    let root = tempfile::tempdir().unwrap();
    let class = root.path().join("class/hidraw");
    let dev = root.path().join("dev");
    // One tablet, two interfaces: buttons (a keyboard) first, the pen second.
    fake_node(
        &class,
        "hidraw4",
        "0003:0000172F:00000031",
        "WALTOP Tablet",
        KEYBOARD,
    );
    fake_node(
        &class,
        "hidraw5",
        "0003:0000172F:00000031",
        "WALTOP Tablet",
        WALTOP_SLIM_5_8,
    );
    fake_node(
        &class,
        "hidraw6",
        "0003:0000046D:0000C52B",
        "Logitech",
        KEYBOARD,
    );
    let opener =
        |t: &str| HidrawOpener::with_roots(Target::parse(t).unwrap(), class.clone(), dev.clone());
    let c = opener("172f:0031").candidates().unwrap();
    assert_eq!(
        c.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["hidraw5"]
    );
    assert_eq!(c[0].dev_path, dev.join("hidraw5"));
    // The node is not in the fake /dev: not found, naming it.
    let e = opener("172f:0031").open().err().unwrap();
    assert!(
        matches!(&e, DeviceError::NotFound(m) if m.contains("hidraw5")),
        "{e}"
    );
    let e = opener("056a:0357").candidates().unwrap_err();
    assert!(
        matches!(&e, DeviceError::NotFound(m) if m.contains("056a:0357") && m.contains("hidraw6 046d:c52b Logitech")),
        "{e}"
    );
    let e = opener("046d:c52b").candidates().unwrap_err();
    assert!(
        matches!(&e, DeviceError::Unsupported(m) if m.contains("no pen interface") && m.contains("Keyboard")),
        "{e}"
    );
    // Listing: only pens, by USB ids when unique.
    let listed = available_in(&class, &dev).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].selector.to_string(), "signature:hid:172f:0031");
    assert!(
        listed[0].description.contains("127 x 76 mm")
            && listed[0].description.contains("1024 pressure levels"),
        "{}",
        listed[0].description
    );
    // A second pen with the same ids: both listed by node.
    fake_node(
        &class,
        "hidraw7",
        "0003:0000172F:00000031",
        "WALTOP Tablet",
        WALTOP_SLIM_5_8,
    );
    let listed: Vec<String> = available_in(&class, &dev)
        .unwrap()
        .into_iter()
        .map(|a| a.selector.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            format!("signature:hid:{}", dev.join("hidraw5").display()),
            format!("signature:hid:{}", dev.join("hidraw7").display()),
        ]
    );
}
