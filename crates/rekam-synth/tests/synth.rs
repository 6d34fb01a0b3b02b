//! Behavioural tests of the synthetic generators.

use rekam_synth::*;

fn std_dev(img: &image::GrayImage) -> f64 {
    let n = img.as_raw().len() as f64;
    let mean = img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (img.as_raw()
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

fn px(img: &image::GrayImage, x: f32, y: f32) -> Option<f32> {
    let (w, h) = img.dimensions();
    if x < 0.0 || y < 0.0 || x >= w as f32 || y >= h as f32 {
        return None;
    }
    Some(f32::from(img.get_pixel(x as u32, y as u32).0[0]))
}

#[test]
fn full_size_render_is_deterministic() {
    let a = render_finger(&master(11), 800, 750, &Impression::random(5, 0.5));
    let b = render_finger(&master(11), 800, 750, &Impression::random(5, 0.5));
    assert_eq!(a.dimensions(), (800, 750));
    assert_eq!(a.as_raw(), b.as_raw());
}

#[test]
fn everything_is_deterministic_for_a_seed() {
    let m = master(3);
    let imp = Impression::random(9, 0.8);
    assert_eq!(
        render_finger(&m, 256, 256, &imp).as_raw(),
        render_finger(&master(3), 256, 256, &imp).as_raw()
    );
    assert_eq!(
        ground_truth_minutiae(&m, 256, 256, &imp),
        ground_truth_minutiae(&master(3), 256, 256, &imp)
    );
    assert_eq!(Impression::random(9, 0.8), imp);
    assert_eq!(
        render_face(4, 120, 160).image.as_raw(),
        render_face(4, 120, 160).image.as_raw()
    );
    assert_eq!(
        render_signature_trace(4, 300.0, 100.0, 100),
        render_signature_trace(4, 300.0, 100.0, 100)
    );
    let img = render_finger(&m, 128, 128, &Impression::clean());
    assert_eq!(
        degrade(&img, Degradation::Noise(0.5), 2).as_raw(),
        degrade(&img, Degradation::Noise(0.5), 2).as_raw()
    );
}

#[test]
fn different_seeds_give_different_fingers_and_impressions() {
    let clean = Impression::clean();
    let a = render_finger(&master(1), 256, 256, &clean);
    let b = render_finger(&master(2), 256, 256, &clean);
    let diff = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .filter(|(x, y)| x.abs_diff(**y) > 40)
        .count();
    assert!(diff > 256 * 256 / 10, "only {diff} pixels differ");
    let m = master(1);
    let c = render_finger(&m, 256, 256, &Impression::random(1, 0.5));
    let d = render_finger(&m, 256, 256, &Impression::random(2, 0.5));
    assert_ne!(c.as_raw(), d.as_raw());
    assert_ne!(
        render_face(1, 96, 128).image.as_raw(),
        render_face(2, 96, 128).image.as_raw()
    );
}

#[test]
fn image_is_a_print_on_white_background() {
    let m = master(21);
    let img = render_finger(&m, 300, 320, &Impression::clean());
    // Corners are background.
    for (x, y) in [(0, 0), (299, 0), (0, 319), (299, 319)] {
        assert_eq!(img.get_pixel(x, y).0[0], 255);
    }
    // The centre holds both dark ridges and light valleys.
    let mut lo = 255u8;
    let mut hi = 0u8;
    for y in 140..180 {
        for x in 130..170 {
            let v = img.get_pixel(x, y).0[0];
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    assert!(lo < 60 && hi > 200, "centre range {lo}..{hi}");
}

#[test]
fn minutiae_counts_are_fingerprint_like() {
    for seed in 0..4 {
        let m = master(seed);
        let n = ground_truth_minutiae(&m, 800, 750, &Impression::clean()).len();
        assert!((30..=75).contains(&n), "seed {seed}: {n} minutiae");
        assert!(n <= m.minutiae.len());
    }
}

#[test]
fn ground_truth_minutiae_lie_inside_image_and_print() {
    for seed in 0..6 {
        let m = master(seed);
        let t = m.ridge_period;
        let imp = Impression::random(seed + 100, 0.6);
        let img = render_finger(&m, 256, 256, &imp);
        let gt = ground_truth_minutiae(&m, 256, 256, &imp);
        for mn in &gt {
            assert!(mn.x >= 0.0 && mn.y >= 0.0 && mn.x < 256.0 && mn.y < 256.0);
            assert!((0.0..std::f32::consts::TAU).contains(&mn.angle));
            // Within a ridge period the print has both ridge and valley pixels.
            let mut lo = 255.0f32;
            let mut hi = 0.0f32;
            for dy in -3..=3 {
                for dx in -3..=3 {
                    let s = t / 3.0;
                    if let Some(v) = px(&img, mn.x + dx as f32 * s, mn.y + dy as f32 * s) {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
            }
            assert!(
                hi - lo > 40.0,
                "seed {seed}: minutia at ({}, {}) not in print ({lo}..{hi})",
                mn.x,
                mn.y
            );
        }
    }
}

#[test]
fn minutia_type_and_direction_match_the_image() {
    // Ending: ahead (along the angle) lies the ridge that ends (dark), behind is valley.
    // Bifurcation: ahead is the valley between the branches (light), behind the stem (dark).
    let mut ok = 0;
    let mut total = 0;
    for seed in 0..6 {
        let m = master(seed);
        let t = m.ridge_period;
        let imp = Impression {
            rotation_deg: 20.0,
            ..Impression::clean()
        };
        let img = render_finger(&m, 500, 560, &imp);
        for mn in ground_truth_minutiae(&m, 500, 560, &imp) {
            let (dx, dy) = (mn.angle.cos(), -mn.angle.sin());
            let r = 0.7 * t;
            let (Some(ahead), Some(behind)) = (
                px(&img, mn.x + r * dx, mn.y + r * dy),
                px(&img, mn.x - r * dx, mn.y - r * dy),
            ) else {
                continue;
            };
            total += 1;
            let good = match mn.kind {
                MinutiaKind::Ending => ahead + 60.0 < behind,
                MinutiaKind::Bifurcation => behind + 60.0 < ahead,
            };
            if good {
                ok += 1;
            }
        }
    }
    assert!(total > 100, "{total}");
    assert!(
        ok as f32 >= 0.9 * total as f32,
        "{ok} of {total} minutiae look as labelled"
    );
}

/// Ridge period measured by counting mean crossings along the ridge normal.
fn measured_period(img: &image::GrayImage, cx: f32, cy: f32) -> Option<f32> {
    // Orientation from the averaged structure tensor in a 24 px window.
    let (mut gxx, mut gyy, mut gxy) = (0.0f32, 0.0f32, 0.0f32);
    for y in (cy as i32 - 12)..(cy as i32 + 12) {
        for x in (cx as i32 - 12)..(cx as i32 + 12) {
            let f = |x: i32, y: i32| px(img, x as f32, y as f32);
            let (Some(a), Some(b), Some(c), Some(d)) =
                (f(x + 1, y), f(x - 1, y), f(x, y + 1), f(x, y - 1))
            else {
                return None;
            };
            let gx = a - b;
            let gy = c - d;
            gxx += gx * gx;
            gyy += gy * gy;
            gxy += gx * gy;
        }
    }
    let normal = 0.5 * (2.0 * gxy).atan2(gxx - gyy);
    let (nx, ny) = (normal.cos(), normal.sin());
    let len = 60;
    let prof: Vec<f32> = (-len..=len)
        .map(|i| px(img, cx + i as f32 * 0.5 * nx, cy + i as f32 * 0.5 * ny))
        .collect::<Option<_>>()?;
    let mean = prof.iter().sum::<f32>() / prof.len() as f32;
    let cross: Vec<usize> = prof
        .windows(2)
        .enumerate()
        .filter(|(_, w)| (w[0] - mean) * (w[1] - mean) < 0.0)
        .map(|(i, _)| i)
        .collect();
    if cross.len() < 4 {
        return None;
    }
    let span = (cross[cross.len() - 1] - cross[0]) as f32 * 0.5;
    Some(2.0 * span / (cross.len() - 1) as f32)
}

#[test]
fn ridge_period_matches_master() {
    for seed in 0..6 {
        let m = master(seed);
        let img = render_finger(&m, 400, 400, &Impression::clean());
        let mut ps = Vec::new();
        for (x, y) in [
            (130.0, 150.0),
            (270.0, 150.0),
            (200.0, 110.0),
            (140.0, 260.0),
            (260.0, 260.0),
            (200.0, 300.0),
        ] {
            if let Some(p) = measured_period(&img, x, y) {
                ps.push(p);
            }
        }
        assert!(ps.len() >= 4, "seed {seed}: too few measurements");
        ps.sort_by(f32::total_cmp);
        let med = ps[ps.len() / 2];
        let t = m.ridge_period;
        assert!(
            (med - t).abs() <= 0.2 * t,
            "seed {seed}: measured {med}, master {t}, all {ps:?}"
        );
        assert!((8.0..=11.0).contains(&t));
    }
}

#[test]
fn all_pattern_classes_render_with_singular_points() {
    for p in [
        Pattern::Arch,
        Pattern::TentedArch,
        Pattern::LeftLoop,
        Pattern::RightLoop,
        Pattern::Whorl,
    ] {
        let m = master_with_pattern(5, p);
        assert_eq!(m.pattern, p);
        let (cores, deltas) = match p {
            Pattern::Arch => (0, 0),
            Pattern::TentedArch | Pattern::LeftLoop | Pattern::RightLoop => (1, 1),
            Pattern::Whorl => (1, 2),
        };
        assert!(m.cores.len() >= cores && m.deltas.len() == deltas, "{p:?}");
        let img = render_finger(&m, 200, 200, &Impression::clean());
        assert!(std_dev(&img) > 50.0);
    }
    // Loop deltas sit on the side opposite the opening.
    let l = master_with_pattern(8, Pattern::LeftLoop);
    assert!(l.deltas[0].0 > l.cores[0].0);
    let r = master_with_pattern(8, Pattern::RightLoop);
    assert!(r.deltas[0].0 < r.cores[0].0);
}

#[test]
fn impression_transform_moves_minutiae() {
    let m = master(4);
    let a = ground_truth_minutiae(&m, 800, 750, &Impression::clean());
    let imp = Impression {
        dx: 30.0,
        dy: -20.0,
        ..Impression::clean()
    };
    let b = ground_truth_minutiae(&m, 800, 750, &imp);
    assert_eq!(a.len(), b.len());
    for (p, q) in a.iter().zip(&b) {
        assert!((q.x - p.x - 30.0).abs() < 1e-3 && (q.y - p.y + 20.0).abs() < 1e-3);
        assert!((q.angle - p.angle).abs() < 1e-3);
    }
    let rot = Impression {
        rotation_deg: 90.0,
        ..Impression::clean()
    };
    let c = ground_truth_minutiae(&m, 800, 800, &rot);
    let a2 = ground_truth_minutiae(&m, 800, 800, &Impression::clean());
    assert_eq!(a2.len(), c.len());
    for (p, q) in a2.iter().zip(&c) {
        // 90° counter-clockwise on screen: (x, y) offset from the centre → (y, −x).
        let (ox, oy) = (p.x - 400.0, p.y - 400.0);
        assert!((q.x - 400.0 - oy).abs() < 0.01 && (q.y - 400.0 + ox).abs() < 0.01);
        let da =
            (q.angle - p.angle - std::f32::consts::FRAC_PI_2).rem_euclid(std::f32::consts::TAU);
        assert!(!(1e-3..=std::f32::consts::TAU - 1e-3).contains(&da));
    }
}

#[test]
fn partial_impressions_lose_minutiae_and_area() {
    let m = master(6);
    let full = Impression::clean();
    let half = Impression {
        partial: 0.5,
        seed: 3,
        ..Impression::clean()
    };
    let a = render_finger(&m, 500, 560, &full);
    let b = render_finger(&m, 500, 560, &half);
    let white = |i: &image::GrayImage| i.as_raw().iter().filter(|&&v| v == 255).count();
    assert!(white(&b) > white(&a) + 20_000);
    let na = ground_truth_minutiae(&m, 500, 560, &full).len();
    let nb = ground_truth_minutiae(&m, 500, 560, &half).len();
    assert!(nb < na * 3 / 4, "{nb} vs {na}");
}

#[test]
fn partial_removes_the_requested_fraction_of_the_print() {
    let m = master(8);
    let ink = |p: f32| {
        let imp = Impression {
            partial: p,
            seed: 17,
            ..Impression::clean()
        };
        render_finger(&m, 420, 520, &imp)
            .as_raw()
            .iter()
            .filter(|&&v| v < 250)
            .count() as f32
    };
    let full = ink(0.0);
    for p in [0.2f32, 0.5] {
        let frac = ink(p) / full;
        assert!((frac - (1.0 - p)).abs() < 0.06, "partial {p}: kept {frac}");
    }
}

#[test]
fn severity_scales_impressions() {
    assert_eq!(
        Impression::random(5, 0.0),
        Impression {
            seed: 5,
            ..Impression::clean()
        }
    );
    let mild = Impression::random(5, 0.2);
    let harsh = Impression::random(5, 1.0);
    assert!(harsh.noise > mild.noise && harsh.blur > mild.blur && harsh.contrast < mild.contrast);
    assert!(harsh.rotation_deg.abs() <= 30.0 && harsh.partial <= 0.35);
}

#[test]
fn degradations_are_monotone() {
    let img = render_finger(&master(12), 200, 200, &Impression::clean());
    let strengths = [0.0f32, 0.25, 0.5, 0.75, 1.0];
    for d in [
        Degradation::Blur(0.0),
        Degradation::Noise(0.0),
        Degradation::LowContrast(0.0),
        Degradation::Partial(0.0),
    ] {
        assert_eq!(
            degrade(&img, d, 1).as_raw(),
            img.as_raw(),
            "{d:?} at 0 must be identity"
        );
    }
    let grad_energy = |i: &image::GrayImage| {
        let mut e = 0.0f64;
        for y in 0..i.height() {
            for x in 1..i.width() {
                e += (f64::from(i.get_pixel(x, y).0[0]) - f64::from(i.get_pixel(x - 1, y).0[0]))
                    .abs();
            }
        }
        e
    };
    let mad = |i: &image::GrayImage| -> f64 {
        i.as_raw()
            .iter()
            .zip(img.as_raw())
            .map(|(a, b)| f64::from(a.abs_diff(*b)))
            .sum()
    };
    let dark = |i: &image::GrayImage| i.as_raw().iter().filter(|&&v| v < 128).count();
    let mut prev = (f64::INFINITY, f64::INFINITY, -1.0f64, usize::MAX);
    for s in strengths {
        let blur = grad_energy(&degrade(&img, Degradation::Blur(s), 1));
        let contrast = std_dev(&degrade(&img, Degradation::LowContrast(s), 1));
        let noise = mad(&degrade(&img, Degradation::Noise(s), 1));
        let part = dark(&degrade(&img, Degradation::Partial(s), 1));
        if s > 0.0 {
            assert!(blur < prev.0, "blur {s}");
            assert!(contrast < prev.1, "contrast {s}");
            assert!(noise > prev.2, "noise {s}");
            assert!(part < prev.3, "partial {s}");
        }
        prev = (blur, contrast, noise, part);
    }
    assert_eq!(dark(&degrade(&img, Degradation::Partial(1.0), 1)), 0);
}

fn slap_fingers(ms: &[MasterFinger], missing: Option<usize>) -> [SlapFinger<'_>; 4] {
    std::array::from_fn(|i| SlapFinger {
        master: if Some(i) == missing { None } else { ms.get(i) },
        impression: Impression::random(i as u64 + 50, 0.2),
    })
}

#[test]
fn slap_boxes_are_ordered_and_disjoint_and_missing_fingers_are_blank() {
    let ms: Vec<MasterFinger> = (0..4).map(|i| master(30 + i)).collect();
    let (w, h) = (800, 750);
    for hand in [Hand::Right, Hand::Left] {
        let (img, boxes) = render_four_finger_slap(hand, &slap_fingers(&ms, Some(2)), w, h);
        assert_eq!(img.dimensions(), (w, h));
        assert!(boxes[2].is_none());
        let present: Vec<(usize, BBox)> = boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.map(|b| (i, b)))
            .collect();
        assert_eq!(present.len(), 3);
        for (i, a) in &present {
            for (j, b) in &present {
                if i < j {
                    let overlap =
                        a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
                    assert!(!overlap, "{hand:?}: boxes {i} {a:?} and {j} {b:?} overlap");
                }
            }
            assert!(a.0 + a.2 <= w && a.1 + a.3 <= h);
        }
        // Left-to-right order: right hand index..little, left hand little..index.
        let (bi, bm, bl) = (boxes[0].unwrap(), boxes[1].unwrap(), boxes[3].unwrap());
        match hand {
            Hand::Right => assert!(bi.0 < bm.0 && bm.0 < bl.0),
            Hand::Left => assert!(bi.0 > bm.0 && bm.0 > bl.0),
        }
        // Middle fingertip is higher than the little one.
        assert!(bm.1 < bl.1);
        // The ring finger's column is blank.
        let col = match hand {
            Hand::Right => 2,
            Hand::Left => 1,
        };
        let x0 = col * w / 4 + 25;
        let x1 = (col + 1) * w / 4 - 25;
        for y in 0..h {
            for x in x0..x1 {
                assert_eq!(img.get_pixel(x, y).0[0], 255, "{hand:?} ({x},{y})");
            }
        }
        // Each present box contains print.
        for (_, b) in &present {
            let sub = image::imageops::crop_imm(&img, b.0, b.1, b.2, b.3).to_image();
            assert!(std_dev(&sub) > 40.0);
        }
    }
}

#[test]
fn slap_minutiae_fall_inside_their_finger_boxes() {
    let ms: Vec<MasterFinger> = (0..4).map(|i| master(40 + i)).collect();
    let fingers = slap_fingers(&ms, Some(1));
    let (img, boxes) = render_four_finger_slap(Hand::Left, &fingers, 1600, 1500);
    let gt = four_finger_slap_minutiae(Hand::Left, &fingers, 1600, 1500);
    assert!(gt[1].is_empty());
    let (mut ok, mut total) = (0, 0);
    for (i, mins) in gt.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let b = boxes[i].unwrap();
        assert!(mins.len() >= 8, "finger {i}: {}", mins.len());
        for mn in mins {
            assert!(
                mn.x >= b.0 as f32
                    && mn.x <= (b.0 + b.2) as f32
                    && mn.y >= b.1 as f32
                    && mn.y <= (b.1 + b.3) as f32
            );
            // Same look-ahead check as for single fingers.
            let r = 0.7 * ms[i].ridge_period;
            let (dx, dy) = (mn.angle.cos(), -mn.angle.sin());
            let (Some(ahead), Some(behind)) = (
                px(&img, mn.x + r * dx, mn.y + r * dy),
                px(&img, mn.x - r * dx, mn.y - r * dy),
            ) else {
                continue;
            };
            total += 1;
            let good = match mn.kind {
                MinutiaKind::Ending => ahead + 40.0 < behind,
                MinutiaKind::Bifurcation => behind + 40.0 < ahead,
            };
            ok += usize::from(good);
        }
    }
    assert!(total > 30 && ok * 10 >= total * 8, "{ok} of {total}");
    let thumbs: [SlapFinger<'_>; 2] = std::array::from_fn(|i| SlapFinger {
        master: Some(&ms[i]),
        impression: Impression::clean(),
    });
    let tg = thumbs_slap_minutiae(&thumbs, 600, 400);
    assert!(tg.iter().all(|v| !v.is_empty()));
    assert!(tg[0].iter().all(|m| m.x < 300.0) && tg[1].iter().all(|m| m.x > 300.0));
}

#[test]
fn thumbs_slap_places_both_thumbs() {
    let ms: Vec<MasterFinger> = (0..2).map(|i| master(60 + i)).collect();
    let fingers: [SlapFinger<'_>; 2] = std::array::from_fn(|i| SlapFinger {
        master: Some(&ms[i]),
        impression: Impression::clean(),
    });
    let (img, boxes) = render_thumbs_slap(&fingers, 600, 400);
    let (a, b) = (boxes[0].unwrap(), boxes[1].unwrap());
    assert!(a.0 + a.2 < b.0, "{a:?} {b:?}");
    assert_eq!(img.dimensions(), (600, 400));
    let none: [SlapFinger<'_>; 2] = std::array::from_fn(|_| SlapFinger {
        master: None,
        impression: Impression::clean(),
    });
    let (blank, nb) = render_thumbs_slap(&none, 60, 40);
    assert!(nb.iter().all(Option::is_none));
    assert!(blank.as_raw().iter().all(|&v| v == 255));
}

#[test]
fn face_has_eyes_inside_the_frame() {
    for seed in 0..4 {
        let (w, h) = (240, 320);
        let f = render_face(seed, w, h);
        assert_eq!(f.image.dimensions(), (w, h));
        for (x, y) in [f.left_eye, f.right_eye] {
            assert!(x > 0.0 && y > 0.0 && x < w as f32 && y < h as f32);
            // Pupil is dark, unlike the skin a little below the eye.
            let p = f.image.get_pixel(x as u32, y as u32).0;
            assert!(p.iter().map(|&v| u32::from(v)).sum::<u32>() < 150, "{p:?}");
        }
        // Subject's left eye is on the image's right, at the same height.
        assert!(f.left_eye.0 > f.right_eye.0 + 0.15 * w as f32);
        assert!((f.left_eye.1 - f.right_eye.1).abs() < 1.0);
        // The corner is light background.
        let c = f.image.get_pixel(2, 2).0;
        assert!(c.iter().all(|&v| v > 190), "{c:?}");
    }
    assert_eq!(render_face(1, 0, 0).image.dimensions(), (0, 0));
}

#[test]
fn signature_trace_has_strokes_pen_ups_and_increasing_time() {
    for seed in 0..5 {
        let tr = render_signature_trace(seed, 500.0, 150.0, 200);
        assert!(tr.len() > 100);
        assert!(tr.windows(2).all(|w| w[1].t_ms > w[0].t_ms));
        assert_eq!(tr[0].t_ms, 0);
        assert!(tr.iter().all(|p| (0.0..=500.0).contains(&p.x)
            && (0.0..=150.0).contains(&p.y)
            && (0.0..=1.0).contains(&p.pressure)));
        // Pen-down strokes separated by pen-up samples.
        let downs = tr
            .windows(2)
            .filter(|w| w[0].pressure == 0.0 && w[1].pressure > 0.0)
            .count();
        assert!(downs >= 1);
        assert!(tr.iter().any(|p| p.pressure == 0.0));
        assert!(tr.iter().filter(|p| p.pressure > 0.0).count() > tr.len() / 2);
        // The ink spans a good part of the pad.
        let xs: Vec<f32> = tr
            .iter()
            .filter(|p| p.pressure > 0.0)
            .map(|p| p.x)
            .collect();
        let span = xs.iter().cloned().fold(f32::MIN, f32::max)
            - xs.iter().cloned().fold(f32::MAX, f32::min);
        assert!(span > 0.4 * 500.0, "seed {seed}: span {span}");
    }
    assert!(render_signature_trace(1, 100.0, 100.0, 0).is_empty());
    assert!(render_signature_trace(1, f32::NAN, 100.0, 100).is_empty());
}

#[test]
fn odd_inputs_do_not_panic() {
    let m = master(1);
    let weird = Impression {
        rotation_deg: f32::NAN,
        dx: f32::INFINITY,
        dy: -1e9,
        elastic: 7.0,
        noise: -3.0,
        blur: f32::NAN,
        contrast: 9.0,
        partial: 2.0,
        seed: u64::MAX,
    };
    for (w, h) in [(0, 0), (1, 1), (0, 50), (3, 700)] {
        let img = render_finger(&m, w, h, &weird);
        assert_eq!(img.dimensions(), (w, h));
        let _ = ground_truth_minutiae(&m, w, h, &weird);
        let _ = degrade(&img, Degradation::Partial(0.5), 1);
        let _ = degrade(&img, Degradation::Blur(f32::NAN), 1);
    }
    let fingers: [SlapFinger<'_>; 4] = std::array::from_fn(|_| SlapFinger {
        master: Some(&m),
        impression: weird.clone(),
    });
    let _ = render_four_finger_slap(Hand::Left, &fingers, 10, 10);
}
