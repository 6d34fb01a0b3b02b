//! What every pen pad driver shares: the track of one signature (pen states in, samples
//! out, and when the signature is finished) and the ink a pad keeps for `take`.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::DeviceError;
use crate::types::PenSample;

/// One signature being captured: pen states in, samples out, and when it is finished.
///
/// A sample while the pen is in range (pressure 0 unless it inks), one pen-up sample at the
/// last position when it leaves range; times in milliseconds from the first sample, never
/// going back.
#[derive(Debug, Clone, Default)]
pub struct PenTrack {
    first: Option<Instant>,
    last_t: u32,
    in_range: bool,
    down: bool,
    last_ink: Option<Instant>,
    last_pos: (f32, f32),
}

impl PenTrack {
    /// A signature not begun.
    pub fn new() -> Self {
        Self::default()
    }

    fn make(&mut self, (x, y): (f32, f32), pressure: f32, at: Instant) -> PenSample {
        let first = *self.first.get_or_insert(at);
        let t = u32::try_from(at.saturating_duration_since(first).as_millis()).unwrap_or(u32::MAX);
        self.last_t = self.last_t.max(t);
        PenSample {
            x,
            y,
            pressure,
            t_ms: self.last_t,
        }
    }

    /// The sample a pen state gives, if any: `in_range` (proximity), `inking` (the tip
    /// touches), the position and the pressure (used only while inking).
    pub fn sample(
        &mut self,
        in_range: bool,
        inking: bool,
        pos: (f32, f32),
        pressure: f32,
        at: Instant,
    ) -> Option<PenSample> {
        if !in_range {
            let was_in = self.in_range;
            self.in_range = false;
            if self.down {
                self.down = false;
                self.last_ink = Some(at);
            }
            if !was_in {
                return None;
            }
            let last = self.last_pos;
            return Some(self.make(last, 0.0, at));
        }
        self.in_range = true;
        if inking || self.down {
            self.last_ink = Some(at);
        }
        self.down = inking;
        self.last_pos = pos;
        Some(self.make(pos, if inking { pressure } else { 0.0 }, at))
    }

    /// Lifts a pen that touched but fell silent: a pen-up sample at its last position at
    /// `now`, the ink ending at `ink_until` (its last report). `None` when it is not down.
    pub fn lift(&mut self, now: Instant, ink_until: Instant) -> Option<PenSample> {
        if !self.down {
            return None;
        }
        self.down = false;
        self.in_range = false;
        self.last_ink = Some(ink_until);
        let last = self.last_pos;
        Some(self.make(last, 0.0, now))
    }

    /// True while the pen touches.
    pub fn is_down(&self) -> bool {
        self.down
    }

    /// How long until the signature is finished, when the pen is up after ink.
    pub fn finish_in(&self, now: Instant, after: Duration) -> Option<Duration> {
        if self.down {
            return None;
        }
        self.last_ink
            .map(|t| (t + after).saturating_duration_since(now))
    }
}

/// The samples of the signature being captured, kept for `SignaturePad::take`.
#[derive(Debug, Default)]
pub struct Ink(Mutex<Vec<PenSample>>);

impl Ink {
    fn lock(&self) -> MutexGuard<'_, Vec<PenSample>> {
        // A sample list stays consistent between statements: a panic elsewhere cannot break it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps a sample.
    pub fn push(&self, s: PenSample) {
        self.lock().push(s);
    }

    /// Forgets every sample.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The samples, leaving none; [`DeviceError::NoInk`] when none touched the pad.
    pub fn take(&self) -> Result<Vec<PenSample>, DeviceError> {
        let mut ink = self.lock();
        if !ink.iter().any(|s| s.pressure > 0.0) {
            return Err(DeviceError::NoInk);
        }
        Ok(std::mem::take(&mut *ink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_turn_states_into_samples_and_finish_after_the_pen_rests() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let finish = Duration::from_millis(500);
        let mut s = PenTrack::new();
        // Hover: pressure 0, not finished (no ink yet).
        let a = s.sample(true, false, (10.0, 20.0), 0.0, ms(0));
        assert_eq!(
            a.map(|a| (a.x, a.y, a.pressure, a.t_ms)),
            Some((10.0, 20.0, 0.0, 0))
        );
        assert_eq!(s.finish_in(ms(0), finish), None);
        // Touch: ink; never finished while touching.
        let b = s.sample(true, true, (11.0, 21.0), 0.5, ms(8));
        assert_eq!(b.map(|b| (b.pressure, b.t_ms)), Some((0.5, 8)));
        assert_eq!(s.finish_in(ms(5000), finish), None);
        // Lift but hover: the countdown starts at the lift.
        let c = s.sample(true, false, (12.0, 22.0), 0.7, ms(16));
        assert_eq!(c.map(|c| c.pressure), Some(0.0), "hover is pressure 0");
        assert_eq!(
            s.finish_in(ms(116), finish),
            Some(Duration::from_millis(400))
        );
        // Leave range: one pen-up sample at the last position, then nothing.
        let up = s.sample(false, false, (0.0, 0.0), 0.0, ms(24));
        assert_eq!(
            up.map(|u| (u.x, u.y, u.pressure, u.t_ms)),
            Some((12.0, 22.0, 0.0, 24))
        );
        assert!(s.sample(false, false, (0.0, 0.0), 0.0, ms(32)).is_none());
        assert_eq!(s.finish_in(ms(600), finish), Some(Duration::ZERO));
    }

    #[test]
    fn ink_is_taken_once_and_only_when_the_pen_touched() {
        let ink = Ink::default();
        let s = |p: f32| PenSample {
            x: 1.0,
            y: 2.0,
            pressure: p,
            t_ms: 0,
        };
        ink.push(s(0.0));
        assert!(matches!(ink.take(), Err(DeviceError::NoInk)));
        ink.push(s(0.4));
        assert_eq!(ink.take().unwrap().len(), 2);
        assert!(matches!(ink.take(), Err(DeviceError::NoInk)));
        ink.push(s(0.4));
        ink.clear();
        assert!(matches!(ink.take(), Err(DeviceError::NoInk)));
    }
}
