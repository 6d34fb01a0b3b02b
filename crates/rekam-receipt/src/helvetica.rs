//! Advance widths of the PDF base-14 fonts Helvetica and Helvetica-Bold, for the characters
//! a receipt may hold (see `layout::shown`). A PDF viewer brings these fonts itself, but
//! the writer still needs their widths to wrap and centre lines.
//!
//! No maintained crate publishes the core-14 metrics on their own, so the widths are
//! copied here from Adobe's Core14 AFM files (Helvetica.afm and Helvetica-Bold.afm,
//! Copyright (c) 1985, 1987, 1989, 1990, 1997 Adobe Systems Incorporated; the AFM files
//! may be copied and redistributed), in 1/1000 em, indexed by Unicode (= WinAnsi) code.

/// Helvetica: U+0020 to U+007E, then U+00C0 to U+00FF.
#[rustfmt::skip]
const REGULAR: [u16; 159] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 667,
    667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722,
    722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556,
    556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556,
    556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold: U+0020 to U+007E, then U+00C0 to U+00FF.
#[rustfmt::skip]
const BOLD: [u16; 159] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 722,
    722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722,
    722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556,
    556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611,
    611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// The advance of `c` in 1/1000 em; `None` for a character outside the tables.
pub(crate) fn width(c: char, bold: bool) -> Option<u16> {
    let table = if bold { &BOLD } else { &REGULAR };
    let code = u32::from(c);
    let index = match code {
        0x20..=0x7e => code - 0x20,
        0xc0..=0xff => code - 0xc0 + 95,
        _ => return None,
    };
    table.get(usize::try_from(index).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::width;

    #[test]
    fn widths_from_the_afm_files() {
        assert_eq!(width(' ', false), Some(278));
        assert_eq!(width('W', false), Some(944));
        assert_eq!(width('i', false), Some(222));
        assert_eq!(width('i', true), Some(278));
        assert_eq!(width('~', true), Some(584));
        assert_eq!(width('À', true), Some(722));
        assert_eq!(width('Æ', false), Some(1000));
        assert_eq!(width('ÿ', false), Some(500));
        assert_eq!(width('\u{bf}', false), None);
        assert_eq!(width('李', false), None);
    }
}
