//! Numbers read exactly from their decimal text and ordered as PostgreSQL orders `numeric`.

use std::cmp::Ordering;

/// A number read exactly from its decimal text, without allocating (it is read for every
/// comparison of every row), ordered like PostgreSQL orders numeric values:
/// -Infinity < finite < Infinity < NaN, and NaN equals NaN.
#[derive(Debug, Clone, Copy)]
pub(super) enum Number<'a> {
    NegInf,
    /// The value is ±0.d1d2d3… × 10^exp, where the digits are `head` then `tail` (two
    /// slices of the text, so that no copy is needed), with no leading or trailing zero.
    /// Zero has no digits and is never negative.
    Finite {
        negative: bool,
        head: &'a str,
        tail: &'a str,
        exp: i64,
    },
    PosInf,
    NaN,
}

impl<'a> Number<'a> {
    /// Reads a decimal number (`42`, `-1.5e3`, `Infinity`, `NaN`); `None` when the text is
    /// not one.
    pub(super) fn parse(s: &'a str) -> Option<Number<'a>> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
            return Some(if negative {
                Number::NegInf
            } else {
                Number::PosInf
            });
        }
        if body.eq_ignore_ascii_case("nan") {
            return (s.len() == body.len()).then_some(Number::NaN);
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let written_exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let (eneg, edigits) = match e.as_bytes().first()? {
                    b'-' => (true, &e[1..]),
                    b'+' => (false, &e[1..]),
                    _ => (false, e),
                };
                if edigits.is_empty() || !edigits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Saturate: an exponent beyond ±10^15 orders the same as any larger one.
                let mut v: i64 = 0;
                for b in edigits.bytes() {
                    v = (v * 10 + i64::from(b - b'0')).min(1_000_000_000_000_000);
                }
                if eneg {
                    -v
                } else {
                    v
                }
            }
        };
        let int = int.trim_start_matches('0');
        let (head, tail, exp) = if int.is_empty() {
            let significant = frac.trim_start_matches('0');
            let zeros = (frac.len() - significant.len()) as i64;
            ("", significant.trim_end_matches('0'), written_exp - zeros)
        } else {
            let exp = written_exp + int.len() as i64;
            match frac.trim_end_matches('0') {
                "" => (int.trim_end_matches('0'), "", exp),
                frac => (int, frac, exp),
            }
        };
        if head.is_empty() && tail.is_empty() {
            return Some(Number::Finite {
                negative: false,
                head,
                tail,
                exp: 0,
            });
        }
        Some(Number::Finite {
            negative,
            head,
            tail,
            exp,
        })
    }
}

impl Ord for Number<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        fn rank(n: &Number<'_>) -> u8 {
            match n {
                Number::NegInf => 0,
                Number::Finite { .. } => 1,
                Number::PosInf => 2,
                Number::NaN => 3,
            }
        }
        match (self, other) {
            (
                Number::Finite {
                    negative: an,
                    head: ah,
                    tail: at,
                    exp: ae,
                },
                Number::Finite {
                    negative: bn,
                    head: bh,
                    tail: bt,
                    exp: be,
                },
            ) => {
                let sign = |neg: bool, h: &str, t: &str| {
                    if h.is_empty() && t.is_empty() {
                        0
                    } else if neg {
                        -1
                    } else {
                        1
                    }
                };
                let (sa, sb) = (sign(*an, ah, at), sign(*bn, bh, bt));
                if sa != sb || sa == 0 {
                    return sa.cmp(&sb);
                }
                // Digit strings without trailing zeros compare lexicographically:
                // 0.12 < 0.123 as "12" < "123".
                let magnitude = ae.cmp(be).then_with(|| {
                    ah.bytes()
                        .chain(at.bytes())
                        .cmp(bh.bytes().chain(bt.bytes()))
                });
                if sa < 0 {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl PartialOrd for Number<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Number<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number<'_> {}
