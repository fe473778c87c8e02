//! Keyed permutations of integer ranges: format-preserving encryption by a Feistel network
//! with cycle-walking. A permutation never maps two inputs to one output, so the transformers
//! built on it (`permute`, `uuid`, `ipv4`, `ipv6`, `mac`) preserve uniqueness exactly, and the
//! same key and domain map a primary key and its foreign keys alike.

use super::key::Key;

/// Rounds of the network; FF1 uses ten, which is ample for small domains too.
const ROUNDS: u8 = 10;

/// A keyed bijection of the integers of `bits` bits (`2 ≤ bits ≤ 128`).
///
/// An alternating ("unbalanced") Feistel network: the state is split into a left part of
/// `bits / 2` bits and a right part of the rest; each round replaces the pair (a, b) with
/// (b, a ⊕ F(b)), so the parts trade places and sizes. Every round is invertible whatever the
/// sizes, hence so is the whole.
pub(crate) struct Feistel {
    round_key: [u8; 32],
    bits: u32,
}

fn mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

impl Feistel {
    /// The permutation of `bits`-bit integers for `key`, `domain` and a `label` that keeps
    /// permutations of different ranges or purposes apart.
    pub(crate) fn new(key: &Key, domain: &str, label: &str, bits: u32) -> Feistel {
        assert!(
            (2..=128).contains(&bits),
            "Feistel width {bits} out of range"
        );
        let mut input = Vec::with_capacity(label.len() + 5);
        input.extend_from_slice(b"feistel:");
        input.extend_from_slice(label.as_bytes());
        input.extend_from_slice(&bits.to_le_bytes());
        Feistel {
            round_key: key.hash(domain, &input),
            bits,
        }
    }

    fn round(&self, i: u8, x: u128) -> u128 {
        let mut buf = [0u8; 17];
        buf[0] = i;
        buf[1..].copy_from_slice(&x.to_le_bytes());
        let h = blake3::keyed_hash(&self.round_key, &buf);
        u128::from_le_bytes(h.as_bytes()[..16].try_into().expect("16 bytes"))
    }

    /// The image of `x` (which must have at most `bits` bits).
    pub(crate) fn permute(&self, x: u128) -> u128 {
        debug_assert!(x <= mask(self.bits));
        let (mut wa, mut wb) = (self.bits / 2, self.bits - self.bits / 2);
        let (mut a, mut b) = (x >> wb, x & mask(wb));
        for i in 0..ROUNDS {
            let c = a ^ (self.round(i, b) & mask(wa));
            a = b;
            b = c;
            std::mem::swap(&mut wa, &mut wb);
        }
        (a << wb) | b
    }

    /// The preimage of `y`: `invert(permute(x)) == x`.
    #[cfg(test)]
    pub(crate) fn invert(&self, y: u128) -> u128 {
        let (mut wa, mut wb) = (self.bits / 2, self.bits - self.bits / 2);
        if ROUNDS % 2 == 1 {
            std::mem::swap(&mut wa, &mut wb);
        }
        let (mut a, mut b) = (y >> wb, y & mask(wb));
        for i in (0..ROUNDS).rev() {
            // (a, b) = (prev_b, prev_a ^ F(prev_b)); prev_a had wb bits, prev_b wa bits.
            let prev_b = a;
            let prev_a = b ^ (self.round(i, prev_b) & mask(wb));
            a = prev_a;
            b = prev_b;
            std::mem::swap(&mut wa, &mut wb);
        }
        (a << wb) | b
    }
}

/// A keyed bijection of `0..n` for any `n ≥ 1` up to 2^128 - 1: the Feistel permutation of
/// the smallest power of two covering `n`, applied again while the result falls outside
/// ("cycle-walking"). The covering range is less than twice `n`, so it walks fewer than two
/// steps on average, and the walk always ends because the permutation's cycles return to `x`.
pub(crate) struct RangePermutation {
    feistel: Option<Feistel>,
    n: u128,
}

impl RangePermutation {
    /// The permutation of `0..n` for `key`, `domain` and `label`.
    pub(crate) fn new(key: &Key, domain: &str, label: &str, n: u128) -> RangePermutation {
        let bits = (128 - (n.saturating_sub(1)).leading_zeros()).max(2);
        RangePermutation {
            feistel: (n > 1).then(|| Feistel::new(key, domain, label, bits)),
            n,
        }
    }

    /// The image of `x < n`.
    pub(crate) fn permute(&self, x: u128) -> u128 {
        debug_assert!(x < self.n);
        let Some(f) = &self.feistel else { return x };
        let mut y = f.permute(x);
        while y >= self.n {
            y = f.permute(y);
        }
        y
    }

    /// The preimage of `y < n`.
    #[cfg(test)]
    pub(crate) fn invert(&self, y: u128) -> u128 {
        let Some(f) = &self.feistel else { return y };
        let mut x = f.invert(y);
        while x >= self.n {
            x = f.invert(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::{key, other_key};
    use proptest::prelude::*;

    #[test]
    fn small_widths_are_bijections() {
        for bits in 2..=12 {
            let f = Feistel::new(&key(), "d", "t", bits);
            let mut seen = vec![false; 1 << bits];
            for x in 0..(1u128 << bits) {
                let y = f.permute(x);
                assert!(!seen[y as usize], "collision at width {bits}");
                seen[y as usize] = true;
                assert_eq!(f.invert(y), x);
            }
        }
    }

    #[test]
    fn ranges_are_bijections() {
        for n in [1u128, 2, 3, 7, 100, 255, 1000, 1025] {
            let p = RangePermutation::new(&key(), "d", "r", n);
            let mut out: Vec<u128> = (0..n).map(|x| p.permute(x)).collect();
            out.sort_unstable();
            assert_eq!(out, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn keys_and_labels_give_other_permutations() {
        let a = Feistel::new(&key(), "d", "t", 64);
        let b = Feistel::new(&other_key(), "d", "t", 64);
        let c = Feistel::new(&key(), "d", "u", 64);
        assert_ne!(a.permute(42), b.permute(42));
        assert_ne!(a.permute(42), c.permute(42));
    }

    proptest! {
        #[test]
        fn wide_permutations_invert(x: u128, bits in 2u32..=128) {
            let f = Feistel::new(&key(), "d", "t", bits);
            let x = x & mask(bits);
            let y = f.permute(x);
            prop_assert!(y <= mask(bits));
            prop_assert_eq!(f.invert(y), x);
        }

        #[test]
        fn range_permutations_invert(n in 1u128..u64::MAX as u128, x: u64) {
            let p = RangePermutation::new(&key(), "d", "r", n);
            let x = x as u128 % n;
            let y = p.permute(x);
            prop_assert!(y < n);
            prop_assert_eq!(p.invert(y), x);
        }
    }
}
