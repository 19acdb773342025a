//! The individual number (個人番号, "My Number"): 11 digits followed by a check digit.
//!
//! The check digit is defined by 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令
//! 第八条 and the 総務省令 it delegates to: with P_n the n-th digit of the 11-digit base counted from the
//! right and Q_n = n+1 (1 ≤ n ≤ 6) or n−5 (7 ≤ n ≤ 11), r = Σ P_n·Q_n mod 11; the check digit is 0 when
//! r ≤ 1 and 11 − r otherwise (python-stdnum `jp/in_.py` implements the same rule).

use std::fmt;
use std::str::FromStr;

/// A syntactically valid My Number. Its `Debug` form never shows the digits, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MyNumber([u8; 12]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MyNumberError {
    #[error("My Number must be exactly 12 digits, got {0} characters")]
    Length(usize),
    #[error("My Number must contain only the digits 0-9")]
    NotDigits,
    #[error("My Number check digit is wrong: the 12th digit should be {expected}")]
    CheckDigit { expected: u8 },
}

/// Weights applied to the 11 base digits, left to right.
const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// The check digit for an 11-digit base (each element 0..=9).
pub fn check_digit(base: &[u8; 11]) -> u8 {
    let sum: u32 = base.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum();
    let r = sum % 11;
    if r <= 1 {
        0
    } else {
        (11 - r) as u8
    }
}

impl MyNumber {
    /// A random valid number (sandbox registry). The first digit is never 0, like the numbers in use.
    pub fn random<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        let mut base = [0u8; 11];
        base[0] = rng.gen_range(1..=9);
        for d in &mut base[1..] {
            *d = rng.gen_range(0..=9);
        }
        let mut digits = [0u8; 12];
        digits[..11].copy_from_slice(&base);
        digits[11] = check_digit(&base);
        MyNumber(digits)
    }

    /// The 12 ASCII digits.
    pub fn as_digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl FromStr for MyNumber {
    type Err = MyNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let len = s.chars().count();
        if len != 12 {
            return Err(MyNumberError::Length(len));
        }
        let mut digits = [0u8; 12];
        for (slot, c) in digits.iter_mut().zip(s.bytes()) {
            if !c.is_ascii_digit() {
                return Err(MyNumberError::NotDigits);
            }
            *slot = c - b'0';
        }
        let base: [u8; 11] = digits[..11].try_into().expect("11 digits");
        let expected = check_digit(&base);
        if digits[11] != expected {
            return Err(MyNumberError::CheckDigit { expected });
        }
        Ok(MyNumber(digits))
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MyNumber(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // python-stdnum's doctest and a recomputed vector.
        assert_eq!(check_digit(&[6, 2, 1, 4, 9, 8, 3, 2, 0, 2, 5]), 7);
        assert_eq!(check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]), 8);
        assert!("621498320257".parse::<MyNumber>().is_ok());
        assert_eq!("621498320258".parse::<MyNumber>(), Err(MyNumberError::CheckDigit { expected: 7 }));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!("12345".parse::<MyNumber>(), Err(MyNumberError::Length(5)));
        assert_eq!("12345678901a".parse::<MyNumber>(), Err(MyNumberError::NotDigits));
        assert_eq!("１２３４５６７８９０１８".parse::<MyNumber>(), Err(MyNumberError::NotDigits));
    }

    #[test]
    fn random_numbers_validate_and_debug_hides_digits() {
        let mut rng = rand::thread_rng();
        for _ in 0..1000 {
            let n = MyNumber::random(&mut rng);
            assert_eq!(n.as_digits().parse::<MyNumber>().unwrap(), n);
            assert!(!format!("{n:?}").contains(&n.as_digits()));
        }
    }
}
