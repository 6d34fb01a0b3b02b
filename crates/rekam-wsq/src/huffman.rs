//! Huffman coding of the quantized coefficients.
//!
//! The coefficient stream of a block is cut into symbols from a 256-entry alphabet:
//!
//! | symbol | meaning |
//! | --- | --- |
//! | 1 – 100 | a run of that many zero coefficients |
//! | 101 / 102 | a positive / negative coefficient whose magnitude follows in 8 bits |
//! | 103 / 104 | a positive / negative coefficient whose magnitude follows in 16 bits |
//! | 105 / 106 | a run of zeros whose length follows in 8 / 16 bits |
//! | 107 – 254 | the coefficient `symbol - 180` (−73 … 74) |
//!
//! Tables are built from symbol counts with the procedure of ISO/IEC 10918-1 Annex K (code
//! lengths limited to 16 bits, no code made of one bits only) and transmitted like JPEG's: the
//! number of codes of each length, then the symbols in order of increasing code length.

use crate::bits::{BitReader, BitWriter};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Longest code length.
pub(crate) const MAX_CODE_LEN: usize = 16;
/// Largest coefficient coded directly by its own symbol.
const MAX_COEFF: i16 = 74;
/// Smallest coefficient coded directly by its own symbol.
const MIN_COEFF: i16 = 1 - MAX_COEFF;
/// Longest zero run coded directly by its own symbol.
const MAX_ZRUN: u32 = 100;
/// Symbol offset of directly coded coefficients.
const COEFF_BIAS: i32 = 180;

pub(crate) const SYM_POS8: u8 = 101;
pub(crate) const SYM_NEG8: u8 = 102;
pub(crate) const SYM_POS16: u8 = 103;
pub(crate) const SYM_NEG16: u8 = 104;
pub(crate) const SYM_ZRUN8: u8 = 105;
pub(crate) const SYM_ZRUN16: u8 = 106;

/// A Huffman table as carried by a DHT segment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HuffTable {
    /// Number of codes of each length 1 … 16.
    pub bits: [u8; MAX_CODE_LEN],
    /// Symbols in order of increasing code length.
    pub values: Vec<u8>,
}

/// Emits the symbol (and extra bits) of one non-zero coefficient.
#[inline(always)]
fn emit_coeff<F: FnMut(u8, u32, u32)>(v: i16, f: &mut F) {
    if v > MAX_COEFF {
        if v > 255 {
            f(SYM_POS16, v as u32, 16);
        } else {
            f(SYM_POS8, v as u32, 8);
        }
    } else if v < MIN_COEFF {
        let m = u32::from(v.unsigned_abs());
        if v < -255 {
            f(SYM_NEG16, m, 16);
        } else {
            f(SYM_NEG8, m, 8);
        }
    } else {
        f((i32::from(v) + COEFF_BIAS) as u8, 0, 0);
    }
}

/// Emits the symbol (and extra bits) of a run of `n` zeros (`1 <= n <= 65535`).
#[inline(always)]
fn emit_run<F: FnMut(u8, u32, u32)>(n: u32, f: &mut F) {
    if n <= MAX_ZRUN {
        f(n as u8, 0, 0);
    } else if n <= 0xFF {
        f(SYM_ZRUN8, n, 8);
    } else {
        f(SYM_ZRUN16, n, 16);
    }
}

/// Emits the runs for `run` zeros (pieces of at most 65535).
#[inline(always)]
fn emit_zeros<F: FnMut(u8, u32, u32)>(mut run: usize, f: &mut F) {
    while run > 0xFFFF {
        emit_run(0xFFFF, f);
        run -= 0xFFFF;
    }
    if run > 0 {
        emit_run(run as u32, f);
    }
}

/// Calls `f(symbol, extra_bits, extra_len)` for each symbol of the block, in order.
///
/// Works 64 coefficients at a time: a bit mask of the non-zero ones is built without branches
/// and walked with `trailing_zeros`, so the cost follows the number of non-zero coefficients
/// (a small fraction at usual bit rates) and zero runs come from position differences.
#[inline(always)]
fn for_each_symbol<F: FnMut(u8, u32, u32)>(coeffs: &[i16], mut f: F) {
    let mut next = 0usize; // first coefficient not yet covered by a symbol
    for (ci, chunk) in coeffs.chunks(64).enumerate() {
        // Most chunks are all zero at usual bit rates: one vectorized test skips them.
        if chunk.iter().fold(0i16, |acc, &v| acc | v) == 0 {
            continue;
        }
        let mut mask = 0u64;
        for (j, &v) in chunk.iter().enumerate() {
            mask |= u64::from(v != 0) << j;
        }
        let base = ci * 64;
        while mask != 0 {
            let pos = base + mask.trailing_zeros() as usize;
            mask &= mask - 1;
            emit_zeros(pos - next, &mut f);
            emit_coeff(coeffs[pos], &mut f);
            next = pos + 1;
        }
    }
    emit_zeros(coeffs.len() - next, &mut f);
}

/// Adds the symbol counts of `coeffs` to `counts`.
pub(crate) fn count_symbols(coeffs: &[i16], counts: &mut [u32; 256]) {
    for_each_symbol(coeffs, |s, _, _| counts[usize::from(s)] += 1);
}

/// Builds an optimal length-limited code for the given symbol counts (Annex K.2 and K.3).
pub(crate) fn build_table(counts: &[u32; 256]) -> HuffTable {
    const N: usize = 257;
    const NONE: usize = usize::MAX;
    let mut freq = [0u64; N];
    for (f, &c) in freq.iter_mut().zip(counts.iter()) {
        *f = u64::from(c);
    }
    // A reserved symbol of count 1 keeps any code from being all ones.
    freq[256] = 1;
    let mut codesize = [0usize; N];
    let mut others = [NONE; N];
    // Repeatedly merge the two least frequent groups; among equal counts the larger symbol
    // index goes first (the order of Annex K, which NBIS follows).
    let mut heap: BinaryHeap<Reverse<(u64, Reverse<usize>)>> = (0..N)
        .filter(|&i| freq[i] > 0)
        .map(|i| Reverse((freq[i], Reverse(i))))
        .collect();
    while heap.len() > 1 {
        let (Some(Reverse((f1, Reverse(v1)))), Some(Reverse((f2, Reverse(v2))))) =
            (heap.pop(), heap.pop())
        else {
            break;
        };
        heap.push(Reverse((f1 + f2, Reverse(v1))));
        for start in [v1, v2] {
            let mut c = start;
            codesize[c] += 1;
            while others[c] != NONE {
                c = others[c];
                codesize[c] += 1;
            }
            if start == v1 {
                others[c] = v2;
            }
        }
    }
    let mut bits = [0usize; N + 1];
    for &s in &codesize {
        if s > 0 {
            bits[s] += 1;
        }
    }
    // Limit code lengths to 16 bits (Annex K.3).
    for i in (MAX_CODE_LEN + 1..=N).rev() {
        while bits[i] > 0 {
            let mut j = i - 2;
            while bits[j] == 0 {
                j -= 1;
            }
            bits[i] -= 2;
            bits[i - 1] += 1;
            bits[j + 1] += 2;
            bits[j] -= 1;
        }
    }
    // Drop the reserved symbol's code, the longest one.
    if let Some(i) = (1..=MAX_CODE_LEN).rev().find(|&i| bits[i] > 0) {
        bits[i] -= 1;
    }
    let mut values = Vec::new();
    for len in 1..=N {
        for (sym, &s) in codesize.iter().enumerate().take(256) {
            if s == len {
                values.push(sym as u8);
            }
        }
    }
    let mut out = HuffTable::default();
    for (o, &b) in out.bits.iter_mut().zip(&bits[1..=MAX_CODE_LEN]) {
        *o = b as u8;
    }
    let total: usize = out.bits.iter().map(|&b| usize::from(b)).sum();
    values.truncate(total);
    out.values = values;
    out
}

/// Exact number of bits [`EncodeTable::encode`] writes for a block with these symbol counts
/// (before padding and byte stuffing).
pub(crate) fn coded_bits(counts: &[u32; 256], t: &HuffTable) -> u64 {
    let Some(codes) = canonical_codes(t) else {
        return 0;
    };
    let mut bits: u64 = t
        .values
        .iter()
        .zip(&codes)
        .map(|(&sym, &(len, _))| u64::from(counts[usize::from(sym)]) * u64::from(len))
        .sum();
    for (sym, extra) in [
        (SYM_POS8, 8),
        (SYM_NEG8, 8),
        (SYM_ZRUN8, 8),
        (SYM_POS16, 16),
        (SYM_NEG16, 16),
        (SYM_ZRUN16, 16),
    ] {
        bits += u64::from(counts[usize::from(sym)]) * extra;
    }
    bits
}

/// Canonical code assignment: `(length, code)` for each value of the table, in table order.
/// `None` when the counts describe more codes than fit in their lengths.
fn canonical_codes(t: &HuffTable) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::with_capacity(t.values.len());
    let mut code = 0u32;
    for (i, &n) in t.bits.iter().enumerate() {
        let len = i as u32 + 1;
        for _ in 0..n {
            out.push((len, code));
            code += 1;
        }
        if code > (1 << len) {
            return None;
        }
        code <<= 1;
    }
    Some(out)
}

/// Per-symbol codes for the encoder.
pub(crate) struct EncodeTable {
    code: [u32; 256],
    len: [u32; 256],
}

impl EncodeTable {
    /// Codes of a table built by [`build_table`].
    pub fn new(t: &HuffTable) -> Self {
        let mut e = EncodeTable {
            code: [0; 256],
            len: [0; 256],
        };
        if let Some(codes) = canonical_codes(t) {
            for (&sym, &(len, code)) in t.values.iter().zip(&codes) {
                e.code[usize::from(sym)] = code;
                e.len[usize::from(sym)] = len;
            }
        }
        e
    }

    /// Appends the coded block to `out` (byte stuffed, padded with ones).
    pub fn encode(&self, coeffs: &[i16], out: &mut Vec<u8>) {
        let mut w = BitWriter::new(out);
        for_each_symbol(coeffs, |s, extra, extra_len| {
            let s = usize::from(s);
            debug_assert!(self.len[s] > 0, "symbol {s} has no code");
            w.put(self.code[s], self.len[s]);
            if extra_len > 0 {
                w.put(extra, extra_len);
            }
        });
        w.finish();
    }
}

/// Number of bits resolved by one table lookup.
const FAST_BITS: u32 = 10;

/// Decoding tables for one Huffman table.
pub(crate) struct DecodeTable {
    /// Indexed by the next `FAST_BITS` bits: `length << 8 | symbol`, or 0 for longer codes.
    fast: Vec<u16>,
    /// Largest code of each length (−1 when there is none).
    maxcode: [i32; MAX_CODE_LEN + 1],
    /// Smallest code of each length.
    mincode: [i32; MAX_CODE_LEN + 1],
    /// Index in `values` of the smallest code of each length.
    valptr: [i32; MAX_CODE_LEN + 1],
    values: Vec<u8>,
}

/// Outcome of reading one symbol.
pub(crate) enum Decoded {
    /// A symbol.
    Symbol(u8),
    /// The data ran out (possibly in the middle of a code, i.e. in the padding).
    End,
    /// Sixteen bits that start no code.
    Invalid,
}

impl DecodeTable {
    /// Tables for `t`; `None` when its counts are inconsistent.
    pub fn new(t: &HuffTable) -> Option<Self> {
        let codes = canonical_codes(t)?;
        let mut d = DecodeTable {
            fast: vec![0; 1 << FAST_BITS],
            maxcode: [-1; MAX_CODE_LEN + 1],
            mincode: [0; MAX_CODE_LEN + 1],
            valptr: [0; MAX_CODE_LEN + 1],
            values: t.values.clone(),
        };
        let mut k = 0usize;
        for len in 1..=MAX_CODE_LEN {
            let n = usize::from(t.bits[len - 1]);
            if n == 0 {
                continue;
            }
            d.valptr[len] = k as i32;
            d.mincode[len] = codes[k].1 as i32;
            d.maxcode[len] = codes[k + n - 1].1 as i32;
            k += n;
        }
        for (&sym, &(len, code)) in t.values.iter().zip(&codes) {
            if len <= FAST_BITS {
                let shift = FAST_BITS - len;
                let first = (code << shift) as usize;
                let entry = ((len as u16) << 8) | u16::from(sym);
                for e in &mut d.fast[first..first + (1 << shift)] {
                    *e = entry;
                }
            }
        }
        Some(d)
    }

    /// Reads one symbol.
    #[inline(always)]
    pub fn decode(&self, r: &mut BitReader<'_>) -> Decoded {
        let remaining = r.remaining();
        if remaining == 0 {
            return Decoded::End;
        }
        let bits = r.peek(MAX_CODE_LEN as u32);
        let e = self.fast[(bits >> (MAX_CODE_LEN as u32 - FAST_BITS)) as usize];
        if e != 0 {
            let len = u32::from(e >> 8);
            if u64::from(len) > remaining {
                return Decoded::End;
            }
            r.consume(len);
            return Decoded::Symbol(e as u8);
        }
        for len in FAST_BITS as usize + 1..=MAX_CODE_LEN {
            let code = (bits >> (MAX_CODE_LEN - len)) as i32;
            if code <= self.maxcode[len] {
                if len as u64 > remaining {
                    return Decoded::End;
                }
                let idx = self.valptr[len] + code - self.mincode[len];
                return match self.values.get(idx as usize) {
                    Some(&s) => {
                        r.consume(len as u32);
                        Decoded::Symbol(s)
                    }
                    None => Decoded::Invalid,
                };
            }
        }
        if remaining < MAX_CODE_LEN as u64 {
            Decoded::End
        } else {
            Decoded::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(t: &HuffTable) -> Vec<(u8, u32)> {
        let codes = canonical_codes(t).expect("valid table");
        t.values
            .iter()
            .copied()
            .zip(codes.iter().map(|c| c.0))
            .collect()
    }

    #[test]
    fn symbols_follow_the_alphabet() {
        let mut syms = Vec::new();
        let coeffs: Vec<i16> = [
            &[0i16; 3][..],
            &[5, -73, 74, 75, -74, 255, 256, -255, -256][..],
            &[0; 100][..],
            &[1][..],
            &[0; 101][..],
            &[0; 256][..],
        ]
        .concat();
        for_each_symbol(&coeffs, |s, e, l| syms.push((s, e, l)));
        assert_eq!(
            syms,
            [
                (3, 0, 0),
                (185, 0, 0),
                (107, 0, 0),
                (254, 0, 0),
                (SYM_POS8, 75, 8),
                (SYM_NEG8, 74, 8),
                (SYM_POS8, 255, 8),
                (SYM_POS16, 256, 16),
                (SYM_NEG8, 255, 8),
                (SYM_NEG16, 256, 16),
                (100, 0, 0),
                (181, 0, 0),
                // 101 and 256 zeros in a row make one run of 357.
                (SYM_ZRUN16, 357, 16),
            ]
        );
    }

    #[test]
    fn long_zero_runs_are_split_at_65535() {
        let coeffs = vec![0i16; 70_000];
        let mut syms = Vec::new();
        for_each_symbol(&coeffs, |s, e, l| syms.push((s, e, l)));
        assert_eq!(
            syms,
            [(SYM_ZRUN16, 65535, 16), (SYM_ZRUN16, 70_000 - 65535, 16)]
        );
    }

    #[test]
    fn table_is_prefix_free_and_never_all_ones() {
        let mut counts = [0u32; 256];
        for (i, c) in counts.iter_mut().enumerate().skip(1).take(120) {
            *c = (i as u32 * 7919) % 1000 + 1;
        }
        let t = build_table(&counts);
        let codes = canonical_codes(&t).expect("valid");
        assert_eq!(t.values.len(), 120);
        for &(len, code) in &codes {
            assert!(len as usize <= MAX_CODE_LEN);
            assert_ne!(code, (1 << len) - 1, "all-ones code");
        }
        // Kraft sum strictly below one (one leaf is left for the reserved symbol).
        let kraft: f64 = codes.iter().map(|&(l, _)| 0.5f64.powi(l as i32)).sum();
        assert!(kraft < 1.0);
        // More frequent symbols never get longer codes.
        let lens = lengths(&t);
        for &(a, la) in &lens {
            for &(b, lb) in &lens {
                if counts[usize::from(a)] > counts[usize::from(b)] {
                    assert!(la <= lb, "{a}:{la} vs {b}:{lb}");
                }
            }
        }
    }

    #[test]
    fn skewed_counts_are_limited_to_16_bits() {
        // Fibonacci counts make an unbalanced tree about 40 levels deep.
        let mut counts = [0u32; 256];
        let (mut a, mut b) = (1u32, 1u32);
        for c in counts.iter_mut().skip(1).take(40) {
            *c = a;
            (a, b) = (b, a.saturating_add(b));
        }
        let t = build_table(&counts);
        assert_eq!(t.values.len(), 40);
        let codes = canonical_codes(&t).expect("valid");
        assert!(codes.iter().all(|&(l, c)| l <= 16 && c != (1 << l) - 1));
    }

    #[test]
    fn empty_and_single_symbol_blocks() {
        let t = build_table(&[0; 256]);
        assert!(t.values.is_empty() && t.bits.iter().all(|&b| b == 0));
        let mut counts = [0u32; 256];
        counts[7] = 10;
        let t = build_table(&counts);
        assert_eq!(t.values, [7]);
        assert_eq!(t.bits[0], 1);
    }

    #[test]
    fn encode_then_decode_gives_the_symbols_back() {
        let coeffs: Vec<i16> = (0..20_000)
            .map(|i: i32| {
                let v = ((i * 7919) % 61) - 30;
                if v.abs() < 12 {
                    0
                } else {
                    (v * (i % 13)) as i16
                }
            })
            .collect();
        let mut counts = [0u32; 256];
        count_symbols(&coeffs, &mut counts);
        let t = build_table(&counts);
        let mut out = Vec::new();
        EncodeTable::new(&t).encode(&coeffs, &mut out);
        // Remove stuffing.
        let mut data = Vec::new();
        let mut i = 0;
        while i < out.len() {
            data.push(out[i]);
            i += if out[i] == 0xFF { 2 } else { 1 };
        }
        let d = DecodeTable::new(&t).expect("valid");
        let mut r = BitReader::new(&data);
        let mut expected = Vec::new();
        for_each_symbol(&coeffs, |s, e, l| expected.push((s, e, l)));
        for &(s, e, l) in &expected {
            match d.decode(&mut r) {
                Decoded::Symbol(got) => assert_eq!(got, s),
                _ => panic!("ran out early"),
            }
            if l > 0 {
                assert_eq!(r.peek(l), e);
                r.consume(l);
            }
        }
        assert!(
            matches!(d.decode(&mut r), Decoded::End),
            "padding decoded as a symbol"
        );
    }

    #[test]
    fn oversubscribed_tables_are_rejected() {
        let mut t = HuffTable::default();
        t.bits[0] = 3;
        t.values = vec![1, 2, 3];
        assert!(DecodeTable::new(&t).is_none());
    }
}
