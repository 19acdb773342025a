//! The basic four information (基本4情報): name, address, date of birth and sex, as the resident
//! registry records them and JPKI signature certificates carry them.
//!
//! Characters outside the JPKI character set are replaced by alternative characters (代替文字) when
//! written into a certificate; the certificate then carries, for the name and for the address, one flag
//! per character (`0` as registered, `1` replaced), which [`AltCharFlags`] models.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::era::Era;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FourInfoError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("address must not be empty")]
    EmptyAddress,
    #[error("{field} is too long: {len} characters, at most {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
    #[error("{field} contains a control character")]
    ControlCharacter { field: &'static str },
    #[error("date of birth {0:?} is not a date of the form YYYY-MM-DD")]
    BadDate(String),
    #[error("date of birth {0} is before the 明治 era or in the future")]
    ImpossibleBirthDate(String),
    #[error("sex must be male, female, not-applicable or unknown (or the codes 1, 2, 9, 0), got {0:?}")]
    BadSex(String),
    #[error("alternative-character flags for the {field} must be one 0/1 per character ({chars} characters), got {got:?}")]
    BadAltFlags { field: &'static str, chars: usize, got: String },
}

/// Sex as coded by ISO/IEC 5218 (JIS X 0303), which JPKI and the card applications use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    NotKnown,
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub fn code(self) -> u8 {
        match self {
            Sex::NotKnown => 0,
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::NotApplicable => 9,
        }
    }

    pub fn from_code(c: u8) -> Option<Sex> {
        Some(match c {
            0 => Sex::NotKnown,
            1 => Sex::Male,
            2 => Sex::Female,
            9 => Sex::NotApplicable,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sex::NotKnown => "not_known",
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::NotApplicable => "not_applicable",
        }
    }
}

impl std::str::FromStr for Sex {
    type Err = FourInfoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "male" | "1" => Ok(Sex::Male),
            "female" | "2" => Ok(Sex::Female),
            "not_applicable" | "9" => Ok(Sex::NotApplicable),
            "not_known" | "unknown" | "0" => Ok(Sex::NotKnown),
            _ => Err(FourInfoError::BadSex(s.to_owned())),
        }
    }
}

/// A date of birth: a real calendar date from the 明治 era on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthDate(Date);

impl BirthDate {
    pub fn new(d: Date) -> Result<Self, FourInfoError> {
        if Era::of(d).is_none() {
            return Err(FourInfoError::ImpossibleBirthDate(BirthDate(d).to_string()));
        }
        Ok(BirthDate(d))
    }

    /// Parses `YYYY-MM-DD`, refusing impossible dates such as 2001-02-29.
    pub fn parse_iso(s: &str) -> Result<Self, FourInfoError> {
        let bad = || FourInfoError::BadDate(s.to_owned());
        let [y, m, d] = match s.split('-').collect::<Vec<_>>()[..] {
            [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => [y, m, d],
            _ => return Err(bad()),
        };
        BirthDate::new(date_of_digits(y, m, d).ok_or_else(bad)?)
    }

    pub fn date(self) -> Date {
        self.0
    }

    /// The JPKI certificate encoding `EYYYYMMDD` (era digit + Gregorian date).
    pub fn to_jpki(self) -> String {
        let era = Era::of(self.0).expect("checked at construction");
        format!("{}{}", era.code(), compact(self.0))
    }

    /// Reads `EYYYYMMDD`; also accepts a bare `YYYYMMDD` (the input-assistance AP's form).
    pub fn from_jpki(s: &str) -> Result<Self, FourInfoError> {
        let bad = || FourInfoError::BadDate(s.to_owned());
        let digits = match s.len() {
            9 => &s[1..],
            8 => s,
            _ => return Err(bad()),
        };
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        BirthDate::new(date_of_digits(&digits[..4], &digits[4..6], &digits[6..]).ok_or_else(bad)?)
    }

    /// `YYYYMMDD`, as the card applications store it.
    pub fn to_compact(self) -> String {
        compact(self.0)
    }

    /// `YYMMDD` with the year counted in its Japanese era (昭和55年2月17日 → `550217`), as printed on the
    /// card and typed as the card-face application's birth-date code and the start of 照合番号B.
    pub fn era_yymmdd(self) -> String {
        let era = Era::of(self.0).expect("checked at construction");
        format!("{:02}{:02}{:02}", era.year_of(self.0) % 100, self.0.month() as u8, self.0.day())
    }

    /// Age in whole years on `on`.
    pub fn age_on(self, on: Date) -> i32 {
        let mut age = on.year() - self.0.year();
        if (on.month() as u8, on.day()) < (self.0.month() as u8, self.0.day()) {
            age -= 1;
        }
        age
    }

    /// The `n`-th birthday (a 29 February birthday falls on 1 March in common years, as 年齢計算ニ関スル法律
    /// counts it).
    pub fn birthday_in(self, year: i32) -> Date {
        Date::from_calendar_date(year, self.0.month(), self.0.day())
            .unwrap_or_else(|_| Date::from_calendar_date(year, Month::March, 1).expect("1 March exists"))
    }
}

/// The date of year, month and day digit strings; `None` when they are not digits or no such day exists.
fn date_of_digits(y: &str, m: &str, d: &str) -> Option<Date> {
    let number = |t: &str| t.bytes().all(|b| b.is_ascii_digit()).then(|| t.parse::<i32>().ok()).flatten();
    let (y, m, d) = (number(y)?, u8::try_from(number(m)?).ok()?, u8::try_from(number(d)?).ok()?);
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn compact(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), d.month() as u8, d.day())
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), self.0.month() as u8, self.0.day())
    }
}

impl TryFrom<String> for BirthDate {
    type Error = FourInfoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        BirthDate::parse_iso(&s)
    }
}

impl From<BirthDate> for String {
    fn from(d: BirthDate) -> String {
        d.to_string()
    }
}

/// One flag per character: `true` where the certificate carries an alternative character.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AltCharFlags(Vec<bool>);

impl AltCharFlags {
    pub fn none(chars: usize) -> Self {
        AltCharFlags(vec![false; chars])
    }

    pub fn parse(field: &'static str, text: &str, flags: &str) -> Result<Self, FourInfoError> {
        let chars = text.chars().count();
        let parsed: Option<Vec<bool>> = flags
            .chars()
            .map(|c| match c {
                '0' => Some(false),
                '1' => Some(true),
                _ => None,
            })
            .collect();
        match parsed {
            Some(v) if v.len() == chars => Ok(AltCharFlags(v)),
            _ => Err(FourInfoError::BadAltFlags { field, chars, got: flags.to_owned() }),
        }
    }

    pub fn any(&self) -> bool {
        self.0.iter().any(|&b| b)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AltCharFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|&b| f.write_str(if b { "1" } else { "0" }))
    }
}

impl From<AltCharFlags> for String {
    fn from(a: AltCharFlags) -> String {
        a.to_string()
    }
}

impl TryFrom<String> for AltCharFlags {
    type Error = FourInfoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.chars().all(|c| c == '0' || c == '1') {
            Ok(AltCharFlags(s.chars().map(|c| c == '1').collect()))
        } else {
            Err(FourInfoError::BadAltFlags { field: "flags", chars: s.chars().count(), got: s })
        }
    }
}

/// Longest name and address accepted (characters). The resident registry's own limits are not public;
/// these bound what a certificate extension and the card's text AP can carry comfortably.
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_ADDRESS_CHARS: usize = 200;

/// The basic four information of one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FourInfo {
    pub name: String,
    pub name_alt: AltCharFlags,
    pub address: String,
    pub address_alt: AltCharFlags,
    pub birth_date: BirthDate,
    pub sex: Sex,
}

fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), FourInfoError> {
    let len = s.chars().count();
    if len > max {
        return Err(FourInfoError::TooLong { field, len, max });
    }
    if s.chars().any(char::is_control) {
        return Err(FourInfoError::ControlCharacter { field });
    }
    Ok(())
}

impl FourInfo {
    /// The fields (`name`, `address`, `birth_date`, `sex`) in which `other` differs; with `flags`, a
    /// changed alternative-character flag changes its field too.
    pub fn differing_fields(&self, other: &FourInfo, flags: bool) -> Vec<&'static str> {
        [
            ("name", self.name != other.name || (flags && self.name_alt != other.name_alt)),
            ("address", self.address != other.address || (flags && self.address_alt != other.address_alt)),
            ("birth_date", self.birth_date != other.birth_date),
            ("sex", self.sex != other.sex),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect()
    }

    /// Four information with no alternative characters.
    pub fn new(name: &str, address: &str, birth_date: BirthDate, sex: Sex) -> Result<Self, FourInfoError> {
        let name = name.trim();
        let address = address.trim();
        if name.is_empty() {
            return Err(FourInfoError::EmptyName);
        }
        if address.is_empty() {
            return Err(FourInfoError::EmptyAddress);
        }
        check_text("name", name, MAX_NAME_CHARS)?;
        check_text("address", address, MAX_ADDRESS_CHARS)?;
        Ok(FourInfo {
            name_alt: AltCharFlags::none(name.chars().count()),
            address_alt: AltCharFlags::none(address.chars().count()),
            name: name.to_owned(),
            address: address.to_owned(),
            birth_date,
            sex,
        })
    }

    pub fn with_name(&self, name: &str) -> Result<Self, FourInfoError> {
        FourInfo::new(name, &self.address, self.birth_date, self.sex).map(|n| FourInfo { address_alt: self.address_alt.clone(), ..n })
    }

    pub fn with_address(&self, address: &str) -> Result<Self, FourInfoError> {
        FourInfo::new(&self.name, address, self.birth_date, self.sex).map(|n| FourInfo { name_alt: self.name_alt.clone(), ..n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn birth_dates() {
        let d = BirthDate::parse_iso("1980-02-17").unwrap();
        assert_eq!(d.to_jpki(), "319800217");
        assert_eq!(BirthDate::from_jpki("319800217").unwrap(), d);
        assert_eq!(BirthDate::from_jpki("19800217").unwrap(), d);
        assert_eq!(d.to_compact(), "19800217");
        // The reference's confirmed 照合番号B example starts with 550217 for 1980-02-17 (昭和55).
        assert_eq!(d.era_yymmdd(), "550217");
        assert_eq!(BirthDate::parse_iso("2019-05-01").unwrap().era_yymmdd(), "010501");
        assert!(matches!(BirthDate::parse_iso("2001-02-29"), Err(FourInfoError::BadDate(_))));
        assert!(matches!(BirthDate::parse_iso("1990-13-01"), Err(FourInfoError::BadDate(_))));
        assert!(matches!(BirthDate::parse_iso("1800-01-01"), Err(FourInfoError::ImpossibleBirthDate(_))));
        assert!(matches!(BirthDate::parse_iso("80-02-17"), Err(FourInfoError::BadDate(_))));
        assert!(matches!(BirthDate::parse_iso("1980-+2-17"), Err(FourInfoError::BadDate(_))));
        assert!(matches!(BirthDate::from_jpki("319800230"), Err(FourInfoError::BadDate(_))));
        assert!(BirthDate::from_jpki("3198002xx").is_err());
        assert_eq!(d.age_on(date!(2026 - 02 - 16)), 45);
        assert_eq!(d.age_on(date!(2026 - 02 - 17)), 46);
        let leap = BirthDate::parse_iso("2004-02-29").unwrap();
        assert_eq!(leap.birthday_in(2025), date!(2025 - 03 - 01));
    }

    #[test]
    fn four_info_validation() {
        let d = BirthDate::parse_iso("1980-02-17").unwrap();
        let fi = FourInfo::new("デジタル　太郎", "東京都千代田区紀尾井町１－３", d, Sex::Male).unwrap();
        assert_eq!(fi.name_alt.len(), 7);
        assert_eq!(FourInfo::new(" ", "x", d, Sex::Male), Err(FourInfoError::EmptyName));
        assert!(matches!(FourInfo::new("a\u{7}", "x", d, Sex::Male), Err(FourInfoError::ControlCharacter { .. })));
        let moved = fi.with_address("大阪府大阪市北区１").unwrap();
        assert_eq!(moved.name, fi.name);
        assert_eq!(moved.address_alt.len(), 9);
        assert!("female".parse::<Sex>().is_ok());
        assert!("x".parse::<Sex>().is_err());
        assert!(AltCharFlags::parse("name", "ab", "01").unwrap().any());
        assert!(AltCharFlags::parse("name", "ab", "012").is_err());
    }
}
