//! Points, boxes and eye pairs, in pixels of the image they were found in.
//!
//! Coordinates are continuous with pixel centres on integers: pixel (3, 4) covers
//! [2.5, 3.5) × [3.5, 4.5).

use serde::{Deserialize, Serialize};

/// A point in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal position, left to right.
    pub x: f64,
    /// Vertical position, top to bottom.
    pub y: f64,
}

impl Point {
    /// The point (x, y).
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Euclidean distance to another point.
    pub fn distance(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// An axis-aligned box in whole pixels: columns `x .. x + width`, rows `y .. y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: i32,
    /// Top row.
    pub y: i32,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
}

impl Rect {
    /// The box at (x, y) of `width` × `height`.
    pub fn new(x: i32, y: i32, width: i32, height: i32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// The centre of the box in the continuous coordinates of the module.
    pub fn centre(&self) -> Point {
        Point::new(
            f64::from(self.x) + f64::from(self.width) / 2.0 - 0.5,
            f64::from(self.y) + f64::from(self.height) / 2.0 - 0.5,
        )
    }

    /// Width × height.
    pub fn area(&self) -> i64 {
        i64::from(self.width) * i64::from(self.height)
    }

    /// True when the point lies inside the box.
    pub fn contains(&self, p: Point) -> bool {
        p.x >= f64::from(self.x) - 0.5
            && p.y >= f64::from(self.y) - 0.5
            && p.x < f64::from(self.x + self.width) - 0.5
            && p.y < f64::from(self.y + self.height) - 0.5
    }
}

/// The centres of both eyes.
///
/// `left` is the subject's left eye — on the image's right side — and `right` the subject's
/// right eye, as ISO/IEC 19794-5 names them (feature points 12.1 and 12.2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eyes {
    /// Centre of the subject's left eye (the one on the image's right).
    pub left: Point,
    /// Centre of the subject's right eye (the one on the image's left).
    pub right: Point,
}

impl Eyes {
    /// Distance between the eye centres in pixels.
    pub fn distance(&self) -> f64 {
        self.left.distance(self.right)
    }

    /// The midpoint between the eye centres (point M of ISO/IEC 19794-5).
    pub fn midpoint(&self) -> Point {
        Point::new(
            (self.left.x + self.right.x) / 2.0,
            (self.left.y + self.right.y) / 2.0,
        )
    }

    /// Head roll from the eye line, in degrees: 0 when the eyes are level, positive when the
    /// eye on the image's right (the subject's left) is lower in the image.
    pub fn roll_degrees(&self) -> f64 {
        (self.left.y - self.right.y)
            .atan2(self.left.x - self.right.x)
            .to_degrees()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_and_roll() {
        let r = Rect::new(10, 20, 4, 6);
        assert_eq!(r.centre(), Point::new(11.5, 22.5));
        assert!(r.contains(Point::new(9.5, 19.5)));
        assert!(!r.contains(Point::new(13.5, 22.0)));
        let level = Eyes {
            left: Point::new(60.0, 10.0),
            right: Point::new(20.0, 10.0),
        };
        assert_eq!(level.roll_degrees(), 0.0);
        assert_eq!(level.distance(), 40.0);
        let tilted = Eyes {
            left: Point::new(60.0, 50.0),
            right: Point::new(20.0, 10.0),
        };
        assert!((tilted.roll_degrees() - 45.0).abs() < 1e-12);
        assert_eq!(tilted.midpoint(), Point::new(40.0, 30.0));
    }
}
