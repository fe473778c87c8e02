//! Check digits: Luhn (payment cards) and ISO 7064 mod-97 (IBANs). The transformers that
//! write such numbers compute them, and the scanner checks them to recognize the numbers.

/// The Luhn check digit for `payload`, the digits (0 to 9) that come before it.
pub(crate) fn luhn_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether `digits` (0 to 9), whose last one is the check digit, pass the Luhn check.
pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((check, payload)) => luhn_digit(payload) == *check,
        None => false,
    }
}

/// The ISO 7064 mod-97 remainder of a string of ASCII letters and digits, letters read as
/// 10 to 35 (either case), reduced piecewise so that no big integer is needed.
pub(crate) fn mod97(alphanumeric: impl IntoIterator<Item = u8>) -> u32 {
    alphanumeric.into_iter().fold(0, |rem, c| {
        let v = char::from(c)
            .to_digit(36)
            .expect("an ASCII letter or digit");
        if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        }
    })
}

/// The ISO 13616 check digits of an IBAN with this country code and account part (BBAN).
pub(crate) fn iban_check_digits(country: &str, bban: &str) -> u32 {
    98 - mod97(bban.bytes().chain(country.bytes()).chain(*b"00"))
}

/// Whether a compact IBAN (country code, check digits, account part; ASCII letters and
/// digits only) passes its mod-97 check.
pub(crate) fn iban_valid(iban: &[u8]) -> bool {
    iban.len() > 4 && mod97(iban[4..].iter().chain(&iban[..4]).copied()) == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn luhn_cases() {
        // (number, valid)
        let cases = [
            ("79927398713", true),
            ("79927398710", false),
            ("4111111111111111", true),
            ("4111111111111112", false),
            ("5500000000000004", true),
            ("340000000000009", true),
            ("6011000000000004", true),
            ("6011000000000040", false),
            ("0", true),
            ("", false),
        ];
        for (number, valid) in cases {
            assert_eq!(luhn_valid(&digits(number)), valid, "{number}");
        }
        assert_eq!(luhn_digit(&digits("7992739871")), 3);
        assert_eq!(luhn_digit(&digits("411111111111111")), 1);
        assert_eq!(luhn_digit(&[]), 0);
    }

    #[test]
    fn mod97_cases() {
        // (country, account part, check digits)
        let cases = [
            ("DE", "370400440532013000", 89),
            ("GB", "NWBK60161331926819", 29),
            ("GB", "WEST12345698765432", 82),
            ("FR", "20041010050500013M02606", 14),
            ("NL", "ABNA0417164300", 91),
        ];
        for (country, bban, check) in cases {
            assert_eq!(iban_check_digits(country, bban), check, "{country} {bban}");
            let iban = format!("{country}{check:02}{bban}");
            assert!(iban_valid(iban.as_bytes()), "{iban}");
            assert!(iban_valid(iban.to_lowercase().as_bytes()), "{iban}");
            let wrong = format!("{country}{:02}{bban}", (check + 1) % 100);
            assert!(!iban_valid(wrong.as_bytes()), "{wrong}");
        }
        // ISO 7064's own example: 3214282912345698765432161182 mod 97 = 1.
        assert_eq!(mod97(*b"3214282912345698765432161182"), 1);
        assert_eq!(mod97(*b"WEST12345698765432GB82"), 1);
        assert_eq!(mod97(*b""), 0);
        assert!(!iban_valid(b"GB82"));
    }
}
