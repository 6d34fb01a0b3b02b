//! Card layout templates: TOML data describing one side of a card in millimetres.
//!
//! ```toml
//! name = "KTP-el front"
//! width_mm = 85.60
//! height_mm = 53.98
//! background = "#D6E8F8"       # the colour panel's ground
//! font = "LiberationSans-Regular.ttf"
//! font_bold = "LiberationSans-Bold.ttf"
//!
//! [[element]]                  # a filled rectangle
//! kind = "rect"
//! x = 0.0
//! y = 0.0
//! w = 85.6
//! h = 1.5
//! colour = "#184EA0"
//! panel = "colour"             # or "k" (black resin)
//!
//! [[element]]                  # text: a fixed `value` or an applicant `field`
//! kind = "text"
//! field = "name"
//! x = 22.5
//! y = 14.0
//! w = 38.0
//! h = 5.2
//! size = 7.0                   # points
//! min_size = 5.5               # may shrink to this
//! max_lines = 2                # may wrap to this many lines
//! bold = false
//! align = "left"               # left, centre, right
//! panel = "k"
//!
//! [[element]]                  # an image box: the photo or the signature
//! kind = "image"
//! source = "photo"
//! x = 61.0
//! y = 11.0
//! w = 21.0
//! h = 27.0
//! ```
//!
//! Text in the K panel prints in black resin (sharp, the NIK and every field); text in the
//! colour panel takes `colour`. The photo prints in colour; the signature in black resin.

use serde::Deserialize;

use crate::CardError;

/// One side of a card.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// A name for people.
    pub name: String,
    /// The card's width in millimetres (ID-1: 85.60).
    pub width_mm: f32,
    /// The card's height in millimetres (ID-1: 53.98).
    pub height_mm: f32,
    /// The colour panel's ground, `#RRGGBB`.
    #[serde(default = "white")]
    pub background: String,
    /// The regular font's file name, looked up in the fonts directory.
    #[serde(default = "regular_font")]
    pub font: String,
    /// The bold font's file name.
    #[serde(default = "bold_font")]
    pub font_bold: String,
    /// The elements, drawn in order.
    #[serde(default, rename = "element")]
    pub elements: Vec<Element>,
}

fn white() -> String {
    "#FFFFFF".into()
}

fn regular_font() -> String {
    "LiberationSans-Regular.ttf".into()
}

fn bold_font() -> String {
    "LiberationSans-Bold.ttf".into()
}

/// Which ribbon panel an element prints on.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Panel {
    /// Yellow, magenta and cyan dye: colour, the photo.
    #[default]
    Colour,
    /// Black resin: text, lines and the NIK, printed sharp.
    K,
}

/// Horizontal alignment of text in its box.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// Flush left.
    #[default]
    Left,
    /// Centred.
    Centre,
    /// Flush right.
    Right,
}

/// Where an image element's pixels come from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    /// The applicant's portrait (colour panel).
    Photo,
    /// The holder's signature (black resin).
    Signature,
}

/// One thing drawn on the card; positions and sizes in millimetres from the top left.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Element {
    /// A filled rectangle.
    Rect {
        /// Left edge.
        x: f32,
        /// Top edge.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
        /// Fill colour (`#RRGGBB`; ignored on the K panel, which is black).
        #[serde(default = "black")]
        colour: String,
        /// The panel.
        #[serde(default)]
        panel: Panel,
    },
    /// Text in a box: a fixed `value`, or the value of an applicant `field`.
    Text {
        /// Fixed text.
        #[serde(default)]
        value: Option<String>,
        /// The name of a data field (see [`crate::CardData`]).
        #[serde(default)]
        field: Option<String>,
        /// Left edge of the box.
        x: f32,
        /// Top edge of the box.
        y: f32,
        /// Width of the box.
        w: f32,
        /// Height of the box.
        h: f32,
        /// The size to print at, in points.
        size: f32,
        /// The smallest size it may shrink to (default: `size`).
        #[serde(default)]
        min_size: Option<f32>,
        /// The most lines it may wrap to (default 1).
        #[serde(default = "one")]
        max_lines: u32,
        /// Bold face.
        #[serde(default)]
        bold: bool,
        /// Alignment in the box.
        #[serde(default)]
        align: Align,
        /// Text colour on the colour panel (`#RRGGBB`).
        #[serde(default = "black")]
        colour: String,
        /// The panel (default: black resin).
        #[serde(default = "k_panel")]
        panel: Panel,
    },
    /// An image fitted into a box (its aspect ratio kept, centred).
    Image {
        /// Where its pixels come from.
        source: ImageSource,
        /// Left edge.
        x: f32,
        /// Top edge.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
    },
}

fn black() -> String {
    "#000000".into()
}

fn one() -> u32 {
    1
}

fn k_panel() -> Panel {
    Panel::K
}

/// A colour from `#RRGGBB`.
pub fn parse_colour(text: &str) -> Result<[u8; 3], CardError> {
    let bad = || CardError::Template(format!("colour {text:?} is not #RRGGBB"));
    let hex = text.strip_prefix('#').ok_or_else(bad)?;
    if hex.len() != 6 || !hex.is_ascii() {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

impl Template {
    /// Reads and checks a template.
    pub fn from_toml(text: &str) -> Result<Template, CardError> {
        let t: Template =
            toml::from_str(text).map_err(|e| CardError::Template(e.message().to_string()))?;
        t.validate()?;
        Ok(t)
    }

    /// Checks sizes, colours and boxes: every box lies on the card, every text has one of
    /// `value` and `field`, sizes are positive and `min_size` is at most `size`.
    pub fn validate(&self) -> Result<(), CardError> {
        let err = |m: String| Err(CardError::Template(format!("{}: {m}", self.name)));
        if !(self.width_mm > 10.0 && self.height_mm > 10.0) {
            return err("the card must be larger than 10 x 10 mm".into());
        }
        parse_colour(&self.background)?;
        let on_card = |x: f32, y: f32, w: f32, h: f32| {
            x >= 0.0
                && y >= 0.0
                && w > 0.0
                && h > 0.0
                && x + w <= self.width_mm + 0.01
                && y + h <= self.height_mm + 0.01
        };
        for (i, e) in self.elements.iter().enumerate() {
            match e {
                Element::Rect {
                    x, y, w, h, colour, ..
                } => {
                    parse_colour(colour)?;
                    if !on_card(*x, *y, *w, *h) {
                        return err(format!("element {i} (rect) leaves the card"));
                    }
                }
                Element::Text {
                    value,
                    field,
                    x,
                    y,
                    w,
                    h,
                    size,
                    min_size,
                    max_lines,
                    colour,
                    ..
                } => {
                    parse_colour(colour)?;
                    let what = field.as_deref().or(value.as_deref()).unwrap_or("?");
                    if value.is_some() == field.is_some() {
                        return err(format!(
                            "element {i} (text {what:?}) needs exactly one of value and field"
                        ));
                    }
                    if !on_card(*x, *y, *w, *h) {
                        return err(format!("element {i} (text {what:?}) leaves the card"));
                    }
                    let min = min_size.unwrap_or(*size);
                    if !(*size > 0.0 && min > 0.0 && min <= *size) || *max_lines == 0 {
                        return err(format!(
                            "element {i} (text {what:?}): sizes must be positive, \
                             min_size at most size, max_lines at least 1"
                        ));
                    }
                }
                Element::Image { x, y, w, h, .. } => {
                    if !on_card(*x, *y, *w, *h) {
                        return err(format!("element {i} (image) leaves the card"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The data fields the template prints.
    pub fn fields(&self) -> Vec<&str> {
        self.elements
            .iter()
            .filter_map(|e| match e {
                Element::Text { field, .. } => field.as_deref(),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(parse_colour("#D6E8F8").unwrap(), [0xD6, 0xE8, 0xF8]);
        for bad in ["D6E8F8", "#D6E8F", "#GGGGGG", "#D6E8F8AA", "#ÿÿÿ"] {
            assert!(parse_colour(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        let base = "name = \"t\"\nwidth_mm = 85.6\nheight_mm = 53.98\n";
        let cases = [
            (
                "[[element]]\nkind = \"rect\"\nx = 80.0\ny = 0.0\nw = 10.0\nh = 1.0\n",
                "leaves the card",
            ),
            (
                "[[element]]\nkind = \"text\"\nx = 1.0\ny = 1.0\nw = 10.0\nh = 5.0\nsize = 7.0\n",
                "exactly one of",
            ),
            (
                "[[element]]\nkind = \"text\"\nvalue = \"a\"\nfield = \"b\"\nx = 1.0\ny = 1.0\nw = 10.0\nh = 5.0\nsize = 7.0\n",
                "exactly one of",
            ),
            (
                "[[element]]\nkind = \"text\"\nvalue = \"a\"\nx = 1.0\ny = 1.0\nw = 10.0\nh = 5.0\nsize = 7.0\nmin_size = 8.0\n",
                "min_size",
            ),
            ("[[element]]\nkind = \"circle\"\n", "circle"),
            (
                "[[element]]\nkind = \"image\"\nsource = \"iris\"\nx = 1.0\ny = 1.0\nw = 1.0\nh = 1.0\n",
                "iris",
            ),
            ("colour = 3\n", "colour"),
        ];
        for (extra, want) in cases {
            let e = Template::from_toml(&format!("{base}{extra}")).unwrap_err();
            assert!(e.to_string().contains(want), "{extra}: {e}");
        }
        assert!(Template::from_toml(base).unwrap().elements.is_empty());
    }
}
