//! Japanese eras (元号), as JPKI encodes birth dates.
//!
//! The signature certificate's date-of-birth attribute is `EYYYYMMDD`: one era digit (1 明治, 2 大正,
//! 3 昭和, 4 平成, 5 令和; JIS X 0301's era numbering) followed by the Gregorian date
//! (see ../shared/reference/jpki-card.md §13). The card-face application's 照合番号B uses the era year.

use time::{macros::date, Date};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

/// First day of each era in the Gregorian calendar.
const ERAS: [(Era, Date); 5] = [
    (Era::Reiwa, date!(2019 - 05 - 01)),
    (Era::Heisei, date!(1989 - 01 - 08)),
    (Era::Showa, date!(1926 - 12 - 25)),
    (Era::Taisho, date!(1912 - 07 - 30)),
    (Era::Meiji, date!(1868 - 10 - 23)),
];

impl Era {
    /// The era a Gregorian date falls in; `None` before 明治.
    pub fn of(d: Date) -> Option<Era> {
        ERAS.iter().find(|(_, start)| d >= *start).map(|(era, _)| *era)
    }

    /// JIS X 0301 era number, the digit JPKI writes before the date.
    pub fn code(self) -> u8 {
        match self {
            Era::Meiji => 1,
            Era::Taisho => 2,
            Era::Showa => 3,
            Era::Heisei => 4,
            Era::Reiwa => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Era> {
        ERAS.iter().map(|(e, _)| *e).find(|e| e.code() == code)
    }

    fn start(self) -> Date {
        ERAS.iter().find(|(e, _)| *e == self).map(|(_, d)| *d).expect("every era has a start")
    }

    /// The year of `d` counted in this era (元年 = 1).
    pub fn year_of(self, d: Date) -> i32 {
        d.year() - self.start().year() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn era_boundaries() {
        assert_eq!(Era::of(date!(1989 - 01 - 07)), Some(Era::Showa));
        assert_eq!(Era::of(date!(1989 - 01 - 08)), Some(Era::Heisei));
        assert_eq!(Era::of(date!(2019 - 04 - 30)), Some(Era::Heisei));
        assert_eq!(Era::of(date!(2019 - 05 - 01)), Some(Era::Reiwa));
        assert_eq!(Era::of(date!(1800 - 01 - 01)), None);
        // 1980-02-17 is 昭和55 (the card-face AP example in the reference).
        assert_eq!(Era::Showa.year_of(date!(1980 - 02 - 17)), 55);
        assert_eq!(Era::from_code(3), Some(Era::Showa));
        assert_eq!(Era::from_code(7), None);
    }
}
