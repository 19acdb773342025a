//! Matching a relying party's ledger (its own record of a customer's name, address, date of birth and
//! sex) against the 4 info of a certificate: the check seed 001's bank case makes, field by field,
//! after a normalization that lets the same fact written two ways compare equal.
//!
//! The normalization, in order:
//! 1. Unicode NFKC (UAX #15): full-width letters, digits and symbols become their ASCII forms,
//!    half-width katakana full-width, the ideographic space a space;
//! 2. every space removed (names are written with or without the space between family and given name);
//! 3. dash-like characters (hyphens, minus signs, dashes, box-drawing lines, and the long-vowel marks
//!    ー ｰ after a digit) become `-`; elsewhere a long-vowel mark stays one (センター);
//! 4. in addresses only: kanji numerals (〇一二三四五六七八九十百千) before 丁目, 番地, 番 (not 番町),
//!    号 or の become digits, and the block markers 丁目, 番地, 番, 号 and の after a number become `-`
//!    before another number and nothing otherwise: 二丁目一番二号 and ２－１－２ both read `2-1-2`; ヶ ヵ ケ between kanji are
//!    one character (霞ヶ関, 霞ケ関).
//!
//! A character the certificate could not represent (its alternative-character flag is set) matches any
//! one character: a field equal but for such characters is [`FieldMatch::Unknown`], never a mismatch.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::four_info::{AltCharFlags, BirthDate, FourInfo, Sex};

/// How one field of the ledger compares with the certificate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldMatch {
    Same,
    Different,
    /// Equal but where the certificate carries an alternative character: it cannot be told.
    Unknown,
    /// The ledger did not give the field.
    NotGiven,
}

/// The ledger's fields for one customer, as text; any may be left out.
#[derive(Debug, Clone, Default)]
pub struct LedgerEntry {
    pub name: Option<String>,
    pub address: Option<String>,
    pub birth_date: Option<BirthDate>,
    pub sex: Option<Sex>,
}

/// The per-field answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LedgerMatch {
    pub name: FieldMatch,
    pub address: FieldMatch,
    pub birth_date: FieldMatch,
    pub sex: FieldMatch,
}

/// A normalized character: the character, or one the certificate could not represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Char(char),
    Unrepresentable,
}

const KANJI_DIGITS: [(char, u32); 10] = [('〇', 0), ('一', 1), ('二', 2), ('三', 3), ('四', 4), ('五', 5), ('六', 6), ('七', 7), ('八', 8), ('九', 9)];

fn kanji_digit(c: char) -> Option<u32> {
    KANJI_DIGITS.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)
}

fn is_kanji_numeral(c: char) -> bool {
    kanji_digit(c).is_some() || matches!(c, '十' | '百' | '千')
}

/// The value of a run of kanji numerals: positional (二〇二) or with 十 百 千 (二十三, 百五).
fn kanji_number(run: &[char]) -> u32 {
    if run.iter().all(|&c| kanji_digit(c).is_some()) {
        return run.iter().fold(0, |n, &c| n * 10 + kanji_digit(c).unwrap_or(0));
    }
    let (mut total, mut digit) = (0, None);
    for &c in run {
        match (c, kanji_digit(c)) {
            (_, Some(d)) => digit = Some(d),
            ('十', _) | ('百', _) | ('千', _) => {
                let unit = match c {
                    '十' => 10,
                    '百' => 100,
                    _ => 1000,
                };
                total += digit.take().unwrap_or(1) * unit;
            }
            _ => {}
        }
    }
    total + digit.unwrap_or(0)
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' | '\u{2500}' | '\u{2501}' | '\u{FE63}')
}

fn is_long_vowel(c: char) -> bool {
    matches!(c, 'ー' | '\u{FF70}')
}

fn is_kanji(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// Steps 1–3: NFKC over each run of representable characters (a flagged character stands alone, so
/// its flag stays with it), spaces out, dashes one.
fn units(text: &str, flags: Option<&AltCharFlags>) -> Vec<Unit> {
    let flags: Vec<bool> = flags.map(|f| f.to_string().chars().map(|c| c == '1').collect()).unwrap_or_default();
    let mut out = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<Unit>| {
        out.extend(run.nfkc().filter(|c| !c.is_whitespace()).map(Unit::Char));
        run.clear();
    };
    for (i, c) in text.chars().enumerate() {
        if flags.get(i).copied().unwrap_or(false) {
            flush(&mut run, &mut out);
            out.push(Unit::Unrepresentable);
        } else {
            run.push(c);
        }
    }
    flush(&mut run, &mut out);
    let after_digit = |i: usize| matches!(i.checked_sub(1).and_then(|j| out.get(j)), Some(Unit::Char(c)) if c.is_ascii_digit());
    (0..out.len())
        .map(|i| match out[i] {
            Unit::Char(c) if is_dash(c) => Unit::Char('-'),
            Unit::Char(c) if is_long_vowel(c) && after_digit(i) => Unit::Char('-'),
            Unit::Char('\u{FF70}') => Unit::Char('ー'),
            u => u,
        })
        .collect()
}

/// The block markers of a Japanese address, longest first.
const MARKERS: [&str; 5] = ["丁目", "番地", "番", "号", "の"];

/// The marker starting at `at`, and its length; 番 of 番町 is part of a place name.
fn marker_at(units: &[Unit], at: usize) -> Option<usize> {
    MARKERS.iter().find_map(|m| {
        let chars: Vec<char> = m.chars().collect();
        let here = units.get(at..at + chars.len())?.iter().zip(&chars).all(|(u, c)| *u == Unit::Char(*c));
        let town = *m == "番" && units.get(at + 1) == Some(&Unit::Char('町'));
        (here && !town).then_some(chars.len())
    })
}

/// Step 4, for addresses.
fn address_units(units: Vec<Unit>) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    let mut i = 0;
    let ends_in_number = |out: &[Unit]| matches!(out.last(), Some(Unit::Char(c)) if c.is_ascii_digit());
    while i < units.len() {
        // A run of kanji numerals that a block marker follows: digits.
        let run_len = units[i..].iter().take_while(|u| matches!(u, Unit::Char(c) if is_kanji_numeral(*c))).count();
        if run_len > 0 && marker_at(&units, i + run_len).is_some() {
            let run: Vec<char> = units[i..i + run_len].iter().filter_map(|u| if let Unit::Char(c) = u { Some(*c) } else { None }).collect();
            out.extend(kanji_number(&run).to_string().chars().map(Unit::Char));
            i += run_len;
            continue;
        }
        if ends_in_number(&out) {
            if let Some(len) = marker_at(&units, i) {
                // Between numbers a separator; before a building's name, the end of the block number.
                let next = i + len;
                let kanji_run = units[next..].iter().take_while(|u| matches!(u, Unit::Char(c) if is_kanji_numeral(*c))).count();
                let numbered = kanji_run > 0 && marker_at(&units, next + kanji_run).is_some();
                if numbered || matches!(units.get(next), Some(Unit::Char(c)) if c.is_ascii_digit()) {
                    out.push(Unit::Char('-'));
                }
                i += len;
                continue;
            }
        }
        let unit = match units[i] {
            Unit::Char('ヵ' | 'ケ' | 'ヶ')
                if matches!(out.last(), Some(Unit::Char(c)) if is_kanji(*c)) && matches!(units.get(i + 1), Some(Unit::Char(c)) if is_kanji(*c)) =>
            {
                Unit::Char('ヶ')
            }
            u => u,
        };
        out.push(unit);
        i += 1;
    }
    while out.last() == Some(&Unit::Char('-')) {
        out.pop();
    }
    out
}

fn compare(ledger: &[Unit], certificate: &[Unit]) -> FieldMatch {
    if ledger.len() != certificate.len() {
        return FieldMatch::Different;
    }
    let mut unknown = false;
    for (l, c) in ledger.iter().zip(certificate) {
        match (l, c) {
            (_, Unit::Unrepresentable) | (Unit::Unrepresentable, _) => unknown = true,
            (a, b) if a == b => {}
            _ => return FieldMatch::Different,
        }
    }
    if unknown {
        FieldMatch::Unknown
    } else {
        FieldMatch::Same
    }
}

/// A name as it is compared (for tests and for the ledger's hashes).
pub fn normalize_name(name: &str) -> String {
    render(&units(name, None))
}

/// An address as it is compared.
pub fn normalize_address(address: &str) -> String {
    render(&address_units(units(address, None)))
}

fn render(units: &[Unit]) -> String {
    units.iter().map(|u| if let Unit::Char(c) = u { *c } else { '\u{FFFD}' }).collect()
}

fn field<T>(given: Option<T>, same: impl FnOnce(T) -> FieldMatch) -> FieldMatch {
    given.map_or(FieldMatch::NotGiven, same)
}

/// The ledger's entry against the certificate's 4 info.
pub fn match_four_info(ledger: &LedgerEntry, certificate: &FourInfo) -> LedgerMatch {
    LedgerMatch {
        name: field(ledger.name.as_deref(), |n| compare(&units(n, None), &units(&certificate.name, Some(&certificate.name_alt)))),
        address: field(ledger.address.as_deref(), |a| {
            compare(&address_units(units(a, None)), &address_units(units(&certificate.address, Some(&certificate.address_alt))))
        }),
        birth_date: field(ledger.birth_date, |d| if d == certificate.birth_date { FieldMatch::Same } else { FieldMatch::Different }),
        sex: field(ledger.sex, |s| if s == certificate.sex { FieldMatch::Same } else { FieldMatch::Different }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_spaces_and_widths() {
        for (a, b) in [("デジタル　太郎", "デジタル太郎"), ("デジタル 太郎", "デジタル　太郎"), ("ｼﾞｮｰｼﾞ", "ジョージ"), ("ＳＭＩＴＨ　ＪＯＨＮ", "SMITH JOHN")]
        {
            assert_eq!(normalize_name(a), normalize_name(b), "{a} / {b}");
        }
        assert_ne!(normalize_name("高橋　一郎"), normalize_name("髙橋　一郎"), "an old-form kanji is another character");
        assert_eq!(normalize_name("ジョージ"), "ジョージ", "a long vowel between kana stays one");
    }

    #[test]
    fn real_world_address_forms_compare_equal() {
        for (a, b) in [
            ("東京都千代田区霞が関二丁目一番二号", "東京都千代田区霞が関２－１－２"),
            ("東京都千代田区霞が関２丁目１番２号", "東京都千代田区霞が関2-1-2"),
            ("東京都千代田区紀尾井町１－３", "東京都千代田区紀尾井町1番3号"),
            ("東京都千代田区紀尾井町１ー３", "東京都千代田区紀尾井町1‐3"),
            ("大阪府大阪市北区梅田一丁目十三番一号", "大阪府大阪市北区梅田1-13-1"),
            ("北海道札幌市中央区北一条西二丁目一番地", "北海道札幌市中央区北一条西2-1"),
            ("東京都新宿区市谷本村町五番一号", "東京都新宿区市谷本村町5−1"),
            ("東京都千代田区霞ヶ関1-1", "東京都千代田区霞ケ関１の１"),
            ("京都府京都市中京区寺町通二条下る妙満寺前町四百五十六番地", "京都府京都市中京区寺町通二条下る妙満寺前町456"),
            ("東京都港区六本木六丁目十番一号　六本木ヒルズ森タワー", "東京都港区六本木6-10-1六本木ヒルズ森タワー"),
        ] {
            assert_eq!(normalize_address(a), normalize_address(b), "{a} / {b}");
        }
    }

    #[test]
    fn place_names_keep_their_numerals() {
        assert_eq!(normalize_address("東京都千代田区一番町十番地"), "東京都千代田区一番町10");
        assert_eq!(normalize_address("三重県四日市市諏訪町一番五号"), "三重県四日市市諏訪町1-5");
        assert_eq!(normalize_address("東京都八王子市元本郷町三丁目二十四番一号"), "東京都八王子市元本郷町3-24-1");
        assert_eq!(normalize_address("東京都中央区日本橋一丁目"), "東京都中央区日本橋1");
        assert_eq!(normalize_address("愛知県名古屋市中区栄センター１－２"), "愛知県名古屋市中区栄センター1-2");
        assert_ne!(normalize_address("東京都千代田区霞が関2-1-2"), normalize_address("東京都千代田区霞が関2-1-3"));
    }

    #[test]
    fn kanji_numbers() {
        for (text, n) in [
            ("一", 1),
            ("十", 10),
            ("十三", 13),
            ("二十", 20),
            ("二十三", 23),
            ("百", 100),
            ("百五", 105),
            ("四百五十六", 456),
            ("千二", 1002),
            ("二〇二", 202),
        ] {
            assert_eq!(kanji_number(&text.chars().collect::<Vec<_>>()), n, "{text}");
        }
    }

    fn certificate(name: &str, name_alt: &str, address: &str) -> FourInfo {
        let mut info = FourInfo::new(name, address, BirthDate::parse_iso("1980-02-17").unwrap(), Sex::Male).unwrap();
        info.name_alt = AltCharFlags::parse("name", name, name_alt).unwrap();
        info
    }

    #[test]
    fn fields_match_differ_or_cannot_be_told() {
        let cert = certificate("髙橋　太郎", "10000", "東京都千代田区霞が関２－１－２");
        let entry = LedgerEntry {
            name: Some("高橋太郎".into()),
            address: Some("東京都千代田区霞が関二丁目一番二号".into()),
            birth_date: Some(BirthDate::parse_iso("1980-02-17").unwrap()),
            sex: None,
        };
        let matched = match_four_info(&entry, &cert);
        assert_eq!(
            matched,
            LedgerMatch { name: FieldMatch::Unknown, address: FieldMatch::Same, birth_date: FieldMatch::Same, sex: FieldMatch::NotGiven },
            "the replaced 髙 matches any one character"
        );
        let other =
            LedgerEntry { name: Some("高橋次郎".into()), address: Some("東京都千代田区霞が関2-1-3".into()), sex: Some(Sex::Female), ..entry };
        let matched = match_four_info(&other, &cert);
        assert_eq!((matched.name, matched.address, matched.sex), (FieldMatch::Different, FieldMatch::Different, FieldMatch::Different));
        let plain = certificate("高橋　太郎", "00000", "東京都千代田区霞が関２－１－２");
        assert_eq!(match_four_info(&LedgerEntry { name: Some("高橋　太郎".into()), ..Default::default() }, &plain).name, FieldMatch::Same);
        assert_eq!(match_four_info(&LedgerEntry { name: Some("高橋　太".into()), ..Default::default() }, &cert).name, FieldMatch::Different);
    }
}
