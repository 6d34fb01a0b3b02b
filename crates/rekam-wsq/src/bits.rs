//! Bit-level writer and reader for the entropy-coded segments.
//!
//! Bits are packed most-significant first. In the byte stream every `0xFF` data byte is followed
//! by a stuffed `0x00` so that it cannot be mistaken for a marker, and the last byte of a block
//! is padded with one bits.

/// Packs codes into bytes with `0xFF 0x00` stuffing.
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl<'a> BitWriter<'a> {
    /// Starts writing at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        BitWriter {
            out,
            acc: 0,
            nbits: 0,
        }
    }

    /// Appends the low `len` bits of `code` (`len <= 32`).
    #[inline(always)]
    pub fn put(&mut self, code: u32, len: u32) {
        debug_assert!(len <= 32 && (len == 32 || code >> len == 0));
        self.acc = (self.acc << len) | u64::from(code);
        self.nbits += len;
        if self.nbits >= 32 {
            self.nbits -= 32;
            let word = (self.acc >> self.nbits) as u32;
            self.emit_word(word);
        }
    }

    #[inline(always)]
    fn emit_word(&mut self, word: u32) {
        // A byte of `word` is 0xFF exactly when that byte of `!word` is zero.
        let has_ff = (!word).wrapping_sub(0x0101_0101) & word & 0x8080_8080;
        if has_ff != 0 {
            for b in word.to_be_bytes() {
                self.out.push(b);
                if b == 0xFF {
                    self.out.push(0);
                }
            }
        } else {
            self.out.extend_from_slice(&word.to_be_bytes());
        }
    }

    /// Pads the last partial byte with one bits and writes out everything pending.
    pub fn finish(mut self) {
        while self.nbits >= 8 {
            self.nbits -= 8;
            let b = (self.acc >> self.nbits) as u8;
            self.push_byte(b);
        }
        if self.nbits > 0 {
            let pad = 8 - self.nbits;
            let b = (((self.acc << pad) | ((1u64 << pad) - 1)) & 0xFF) as u8;
            self.push_byte(b);
        }
    }

    fn push_byte(&mut self, b: u8) {
        self.out.push(b);
        if b == 0xFF {
            self.out.push(0);
        }
    }
}

/// Reads bits from de-stuffed entropy-coded data. Past the end it supplies zero bits; callers
/// compare what they consumed with [`BitReader::remaining`].
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Left-aligned bit buffer.
    acc: u64,
    /// Valid bits in `acc` (including zero bits supplied past the end).
    nbits: u32,
    /// Bits handed out so far.
    consumed: u64,
}

impl<'a> BitReader<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            nbits: 0,
            consumed: 0,
        }
    }

    /// Real bits not yet consumed.
    #[inline(always)]
    pub fn remaining(&self) -> u64 {
        (self.data.len() as u64 * 8).saturating_sub(self.consumed)
    }

    #[inline(always)]
    fn refill(&mut self) {
        if self.nbits > 56 {
            return;
        }
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let word = u64::from_be_bytes(b);
            let take = (64 - self.nbits) / 8;
            // Load `take` whole bytes below the bits already held.
            self.acc |= (word >> (64 - 8 * take)) << (64 - self.nbits - 8 * take);
            self.nbits += 8 * take;
            self.pos += take as usize;
        } else {
            while self.nbits <= 56 {
                let b = self.data.get(self.pos).copied().unwrap_or(0);
                self.acc |= u64::from(b) << (56 - self.nbits);
                self.nbits += 8;
                self.pos += 1;
            }
        }
    }

    /// The next `n` bits (`1 <= n <= 32`) without consuming them.
    #[inline(always)]
    pub fn peek(&mut self, n: u32) -> u32 {
        self.refill();
        (self.acc >> (64 - n)) as u32
    }

    /// Consumes `n` bits (`n <= 32`, after a `peek` of at least `n`).
    #[inline(always)]
    pub fn consume(&mut self, n: u32) {
        self.acc <<= n;
        self.nbits -= n;
        self.consumed += u64::from(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destuff(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            out.push(b[i]);
            if b[i] == 0xFF {
                assert_eq!(b.get(i + 1), Some(&0), "unstuffed 0xFF");
                i += 1;
            }
            i += 1;
        }
        out
    }

    #[test]
    fn writer_stuffs_and_pads_with_ones() {
        let mut v = Vec::new();
        let mut w = BitWriter::new(&mut v);
        w.put(0xFF, 8);
        w.put(0b101, 3);
        w.finish();
        assert_eq!(v, [0xFF, 0x00, 0b1011_1111]);

        let mut v = Vec::new();
        let mut w = BitWriter::new(&mut v);
        w.put(0b1111, 4);
        w.finish();
        // A padded byte that becomes 0xFF is stuffed as well.
        assert_eq!(v, [0xFF, 0x00]);
    }

    #[test]
    fn round_trip_random_codes() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let codes: Vec<(u32, u32)> = (0..5000)
            .map(|_| {
                let len = (next() % 24 + 1) as u32;
                let mut code = (next() as u32) & ((1u32 << len) - 1);
                if next() % 5 == 0 {
                    code = (1u32 << len) - 1; // plenty of 0xFF bytes
                }
                (code, len)
            })
            .collect();
        let mut v = Vec::new();
        let mut w = BitWriter::new(&mut v);
        for &(c, l) in &codes {
            w.put(c, l);
        }
        w.finish();
        let data = destuff(&v);
        let mut r = BitReader::new(&data);
        for &(c, l) in &codes {
            assert_eq!(r.peek(l), c);
            r.consume(l);
        }
        assert!(r.remaining() < 8);
        let rest = r.remaining() as u32;
        if rest > 0 {
            assert_eq!(r.peek(rest), (1 << rest) - 1, "padding must be ones");
        }
    }
}
