//! The My Number card record (カード代替電磁的記録) as deployed wallets carry it: document type
//! `org.iso.23220.1.jp.mnc`, Japan's namespace `org.iso.23220.1.jp` and ISO/IEC 23220-2's
//! `org.iso.23220.1` (../shared/reference/mdoc.md §9, from openwallet-foundation/multipaz
//! `MyNumberCard.kt` and Apple's PassKit `PKIdentityNationalIDCardDescriptor`). Keeping the real
//! identifiers lets relying parties move from the sandbox to production trust anchors unchanged.

use jpki_profile::four_info::{FourInfo, Sex};
use time::Date;

use crate::cbor::{self, text};
use crate::issuance::Element;
use crate::Value;

pub const DOC_TYPE: &str = "org.iso.23220.1.jp.mnc";
/// Japan-specific elements.
pub const NS_JP: &str = "org.iso.23220.1.jp";
/// ISO/IEC 23220-2 generic eID elements.
pub const NS_ISO: &str = "org.iso.23220.1";

pub const FULL_NAME: &str = "full_name_unicode";
pub const RESIDENT_ADDRESS: &str = "resident_address_unicode";
pub const LOCAL_GOV_CODE: &str = "local_gov_code_unicode";
pub const BIRTH_DATE_DISPLAY: &str = "birth_date_unicode";
pub const SEX_DISPLAY: &str = "sex_unicode";
/// The My Number: released only to verifiers entitled under the Number Act (use case ①).
pub const INDIVIDUAL_NUMBER: &str = "individual_number_unicode";
pub const PORTRAIT: &str = "portrait";
pub const BIRTH_DATE: &str = "birth_date";
pub const SEX: &str = "sex";
pub const AGE_IN_YEARS: &str = "age_in_years";

/// The `age_over_NN` thresholds issued: adulthood (18), the drinking and smoking age (20) and the
/// elderly age (65) that verifiers in Japan ask for. Which NN the real issuer includes is not public.
pub const AGE_OVER: [u8; 3] = [18, 20, 65];

pub fn age_over_identifier(nn: u8) -> String {
    format!("age_over_{nn:02}")
}

/// The NN of an `age_over_NN` identifier.
pub fn age_over_threshold(identifier: &str) -> Option<u8> {
    let nn = identifier.strip_prefix("age_over_")?;
    (nn.len() == 2).then(|| nn.parse().ok()).flatten()
}

/// The certificate policy a reader certificate carries when its holder is entitled under the Number Act
/// (番号法) to receive the My Number. No public identifier exists for this mark; the sandbox's reader CA
/// uses one under enterprise number 32473, which RFC 5612 reserves for documentation and examples, so
/// a sandbox certificate can never pass for a real authorization.
pub const NUMBER_ACT_VERIFIER_POLICY: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.81.1");

/// Whether an element may only go to a verifier entitled under the Number Act.
pub fn requires_number_law(namespace: &str, identifier: &str) -> bool {
    namespace == NS_JP && identifier == INDIVIDUAL_NUMBER
}

/// The record's elements in [`NS_JP`].
pub const JP_ELEMENTS: [&str; 7] = [FULL_NAME, RESIDENT_ADDRESS, LOCAL_GOV_CODE, BIRTH_DATE_DISPLAY, SEX_DISPLAY, INDIVIDUAL_NUMBER, PORTRAIT];
/// The record's elements in [`NS_ISO`] besides the `age_over_NN` of [`AGE_OVER`].
pub const ISO_ELEMENTS: [&str; 3] = [BIRTH_DATE, SEX, AGE_IN_YEARS];

/// The record's elements of `namespace` (every `age_over_NN` is one of ISO/IEC 23220-2's).
fn is_element(namespace: &str, identifier: &str) -> bool {
    match namespace {
        NS_JP => JP_ELEMENTS.contains(&identifier),
        NS_ISO => ISO_ELEMENTS.contains(&identifier) || age_over_threshold(identifier).is_some(),
        _ => false,
    }
}

/// An element of the record named `namespace/element`, or by its identifier alone.
pub fn element_path(name: &str) -> Result<(&'static str, String), String> {
    let (namespace, identifier) = match name.rsplit_once('/') {
        Some((ns, id)) => {
            ([NS_JP, NS_ISO].into_iter().find(|n| *n == ns).ok_or_else(|| format!("{ns:?} is not a namespace of {DOC_TYPE} ({NS_JP}, {NS_ISO})"))?, id)
        }
        None => ([NS_JP, NS_ISO].into_iter().find(|ns| is_element(ns, name)).unwrap_or(NS_JP), name),
    };
    if is_element(namespace, identifier) {
        Ok((namespace, identifier.to_owned()))
    } else {
        Err(format!("{identifier:?} is not an element of {namespace} in {DOC_TYPE}"))
    }
}

/// What goes into a record.
pub struct RecordContents<'a> {
    pub four_info: &'a FourInfo,
    pub my_number: &'a str,
    /// 全国地方公共団体コード of the municipality of residence.
    pub local_gov_code: &'a str,
    /// JPEG or PNG bytes of the face photo.
    pub portrait: &'a [u8],
    /// The day of issuance (JST), for the age elements.
    pub issued_on: Date,
}

/// 1971年9月1日: the display form of the birth date (the multipaz sample's Gregorian form).
fn birth_date_display(d: Date) -> String {
    format!("{}年{}月{}日", d.year(), u8::from(d.month()), d.day())
}

fn sex_display(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "男",
        Sex::Female => "女",
        Sex::NotKnown | Sex::NotApplicable => "",
    }
}

pub fn elements(c: &RecordContents<'_>) -> Vec<Element> {
    let birth = c.four_info.birth_date;
    let age = birth.age_on(c.issued_on);
    let mut out = vec![
        Element::new(NS_JP, FULL_NAME, text(&c.four_info.name)),
        Element::new(NS_JP, RESIDENT_ADDRESS, text(&c.four_info.address)),
        Element::new(NS_JP, LOCAL_GOV_CODE, text(c.local_gov_code)),
        Element::new(NS_JP, BIRTH_DATE_DISPLAY, text(&birth_date_display(birth.date()))),
        Element::new(NS_JP, SEX_DISPLAY, text(sex_display(c.four_info.sex))),
        Element::new(NS_JP, INDIVIDUAL_NUMBER, text(c.my_number)),
        Element::new(NS_JP, PORTRAIT, Value::Bytes(c.portrait.to_vec())),
        Element::new(NS_ISO, BIRTH_DATE, cbor::full_date(birth.date())),
        Element::new(NS_ISO, SEX, Value::from(c.four_info.sex.code())),
        Element::new(NS_ISO, AGE_IN_YEARS, Value::from(age.max(0))),
    ];
    out.extend(AGE_OVER.iter().map(|&nn| Element::new(NS_ISO, &age_over_identifier(nn), Value::Bool(age >= i32::from(nn)))));
    out
}

/// Which issued `age_over_NN'` answers a request for `age_over_NN` (ISO/IEC 18013-5 §7.2.5): the
/// smallest NN' ≥ NN that is true, else the largest NN' ≤ NN that is false, else none. `issued` gives
/// each issued threshold and its value.
pub fn age_over_answer(requested: u8, issued: &[(u8, bool)]) -> Option<u8> {
    let true_at_or_above = issued.iter().filter(|(nn, v)| *v && *nn >= requested).map(|(nn, _)| *nn).min();
    true_at_or_above.or_else(|| issued.iter().filter(|(nn, v)| !*v && *nn <= requested).map(|(nn, _)| *nn).max())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_over_fallback() {
        let issued = [(18, true), (20, true), (65, false)];
        assert_eq!(age_over_answer(18, &issued), Some(18));
        assert_eq!(age_over_answer(16, &issued), Some(18));
        assert_eq!(age_over_answer(21, &issued), None, "a 21 request cannot be answered by 20=true or 65=false");
        assert_eq!(age_over_answer(70, &issued), Some(65));
        let young = [(18, false), (20, false), (65, false)];
        assert_eq!(age_over_answer(19, &young), Some(18));
        assert_eq!(age_over_answer(17, &young), None);
        assert_eq!(age_over_threshold("age_over_20"), Some(20));
        assert_eq!(age_over_threshold("age_over_2"), None);
    }

    #[test]
    fn elements_by_name() {
        assert_eq!(element_path("age_over_20").unwrap(), (NS_ISO, "age_over_20".into()));
        assert_eq!(element_path("portrait").unwrap(), (NS_JP, "portrait".into()));
        assert_eq!(element_path("org.iso.23220.1.jp/individual_number_unicode").unwrap(), (NS_JP, INDIVIDUAL_NUMBER.into()));
        assert!(element_path("org.iso.23220.1/full_name_unicode").unwrap_err().contains("not an element of org.iso.23220.1"));
        assert!(element_path("eu.europa/x").unwrap_err().contains("not a namespace"));
        assert!(element_path("nickname").is_err());
    }
}
