//! J-LIS's fees for revocation information (電子証明書失効情報手数料), paid by the business that receives
//! the information, per certificate checked.
//!
//! Source: seed 001 §3-2-3 (Digital Agency, 民間事業者における電子証明書手数料の当面無料化について):
//! - 署名用 20円/件, 認証用（利用者証明用） 2円/件;
//! - from 令和5年1月 (2023-01-01), OCSP (one certificate per query) is free "for the time being, 3 years";
//! - the CRL method (one list a day) is free permanently from the same date.
//!
//! The end of the OCSP waiver is not fixed by the source beyond "3 years"; this table ends it on
//! 2025-12-31. Operators update [`FEE_TABLE`] when J-LIS announces otherwise: it is the only place fees live.
//!
//! What J-LIS provides a platform operator besides revocation information — the latest 4 information
//! (with the holder's consent) and the old → new certificate link information — is metered under its
//! own method; the sources name no per-item fee for either, so the table prices them at 0 yen until one
//! does.
//!
//! Checks of the card-substitute record (a smartphone's mdoc, its status read from the issuer's status
//! list) are metered too, under their own kind and method; no source publishes a fee for them, so the
//! table prices them at 0 yen until one does.

use serde::Serialize;
use time::{macros::date, Date};

/// Which certificate the revocation information is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeCertKind {
    Signature,
    Authentication,
    /// The card-substitute record (カード代替電磁的記録) presented from a smartphone.
    CardSubstituteRecord,
}

/// What was provided about a certificate, and how: revocation information (OCSP, CRL, status list),
/// the latest 4 information, or its link information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionMethod {
    Ocsp,
    Crl,
    /// The record issuer's Token Status List.
    StatusList,
    /// The latest 4 information of a revoked signature certificate's holder (最新の利用者情報).
    #[serde(rename = "latest_4_info")]
    Latest4Info,
    /// The old → new certificate link information.
    CertificateLink,
}

impl ProvisionMethod {
    pub const ALL: [ProvisionMethod; 5] =
        [ProvisionMethod::Ocsp, ProvisionMethod::Crl, ProvisionMethod::StatusList, ProvisionMethod::Latest4Info, ProvisionMethod::CertificateLink];

    /// The method named by [`ProvisionMethod::as_str`] (as stored).
    pub fn parse(s: &str) -> Option<ProvisionMethod> {
        ProvisionMethod::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionMethod::Ocsp => "ocsp",
            ProvisionMethod::Crl => "crl",
            ProvisionMethod::StatusList => "status_list",
            ProvisionMethod::Latest4Info => "latest_4_info",
            ProvisionMethod::CertificateLink => "certificate_link",
        }
    }
}

impl From<crate::KeyRole> for FeeCertKind {
    fn from(role: crate::KeyRole) -> Self {
        match role {
            crate::KeyRole::Signature => FeeCertKind::Signature,
            crate::KeyRole::Authentication => FeeCertKind::Authentication,
        }
    }
}

impl FeeCertKind {
    /// The fee kind of a JPKI certificate; `None` for a CA's, which no fee is charged for.
    pub fn of(kind: crate::CertKind) -> Option<FeeCertKind> {
        kind.role().map(FeeCertKind::from)
    }

    pub const ALL: [FeeCertKind; 3] = [FeeCertKind::Signature, FeeCertKind::Authentication, FeeCertKind::CardSubstituteRecord];

    /// The kind named by [`FeeCertKind::as_str`] (as stored).
    pub fn parse(s: &str) -> Option<FeeCertKind> {
        FeeCertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FeeCertKind::Signature => "signature",
            FeeCertKind::Authentication => "authentication",
            FeeCertKind::CardSubstituteRecord => "card_substitute_record",
        }
    }
}

/// One row of the fee table: the fee in yen per certificate, for dates `from..=until`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FeeRule {
    pub method: ProvisionMethod,
    pub kind: FeeCertKind,
    pub from: Date,
    pub until: Option<Date>,
    pub yen: u32,
}

const fn rule(method: ProvisionMethod, kind: FeeCertKind, from: Date, until: Option<Date>, yen: u32) -> FeeRule {
    FeeRule { method, kind, from, until, yen }
}

use FeeCertKind::{Authentication as Auth, Signature as Sign};
use ProvisionMethod::{CertificateLink, Crl, Latest4Info, Ocsp, StatusList};

const EPOCH: Date = date!(2016 - 01 - 01); // JPKI on the My Number Card began in January 2016.
const WAIVER_START: Date = date!(2023 - 01 - 01);
const BEFORE_WAIVER: Option<Date> = Some(date!(2022 - 12 - 31));
const OCSP_WAIVER_END: Option<Date> = Some(date!(2025 - 12 - 31));
const AFTER_OCSP_WAIVER: Date = date!(2026 - 01 - 01);

/// The fee table, effective-dated.
pub const FEE_TABLE: &[FeeRule] = &[
    rule(Ocsp, Sign, EPOCH, BEFORE_WAIVER, 20),
    rule(Ocsp, Auth, EPOCH, BEFORE_WAIVER, 2),
    rule(Crl, Sign, EPOCH, BEFORE_WAIVER, 20),
    rule(Crl, Auth, EPOCH, BEFORE_WAIVER, 2),
    rule(Ocsp, Sign, WAIVER_START, OCSP_WAIVER_END, 0),
    rule(Ocsp, Auth, WAIVER_START, OCSP_WAIVER_END, 0),
    rule(Ocsp, Sign, AFTER_OCSP_WAIVER, None, 20),
    rule(Ocsp, Auth, AFTER_OCSP_WAIVER, None, 2),
    rule(Crl, Sign, WAIVER_START, None, 0),
    rule(Crl, Auth, WAIVER_START, None, 0),
    rule(StatusList, FeeCertKind::CardSubstituteRecord, EPOCH, None, 0),
    rule(Latest4Info, Sign, EPOCH, None, 0),
    rule(CertificateLink, Sign, EPOCH, None, 0),
    rule(CertificateLink, Auth, EPOCH, None, 0),
];

/// The fee in yen for one certificate's revocation information provided on `on`; `None` for a date the
/// table does not cover (before JPKI on the My Number Card).
pub fn fee_yen(method: ProvisionMethod, kind: FeeCertKind, on: Date) -> Option<u32> {
    FEE_TABLE.iter().find(|r| r.method == method && r.kind == kind && r.from <= on && r.until.is_none_or(|u| on <= u)).map(|r| r.yen)
}

/// The billing month (`YYYY-MM`) of something that happened at `at`: months are counted in Japan.
pub fn billing_month(at: time::OffsetDateTime) -> String {
    let t = at.to_offset(crate::cert_profile::JST);
    format!("{:04}-{:02}", t.year(), t.month() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_by_date() {
        assert_eq!(fee_yen(Ocsp, Sign, date!(2022 - 06 - 01)), Some(20));
        assert_eq!(fee_yen(Ocsp, Auth, date!(2022 - 12 - 31)), Some(2));
        assert_eq!(fee_yen(Ocsp, Sign, date!(2023 - 01 - 01)), Some(0));
        assert_eq!(fee_yen(Ocsp, Auth, date!(2025 - 12 - 31)), Some(0));
        assert_eq!(fee_yen(Ocsp, Sign, date!(2026 - 01 - 01)), Some(20));
        assert_eq!(fee_yen(Ocsp, Auth, date!(2026 - 11 - 23)), Some(2));
        assert_eq!(fee_yen(Crl, Sign, date!(2022 - 01 - 01)), Some(20));
        assert_eq!(fee_yen(Crl, Sign, date!(2030 - 01 - 01)), Some(0));
        assert_eq!(fee_yen(Crl, Auth, date!(2015 - 01 - 01)), None);
        assert_eq!(fee_yen(StatusList, FeeCertKind::CardSubstituteRecord, date!(2026 - 11 - 23)), Some(0));
        assert_eq!(fee_yen(StatusList, Sign, date!(2026 - 11 - 23)), None, "certificates are not checked by status list");
        assert_eq!(fee_yen(Latest4Info, Sign, date!(2026 - 12 - 04)), Some(0));
        assert_eq!(fee_yen(Latest4Info, Auth, date!(2026 - 12 - 04)), None, "the latest 4 info comes from a signature certificate");
        assert_eq!(fee_yen(CertificateLink, Auth, date!(2026 - 12 - 04)), Some(0));
        // 2026-01-31 16:00 UTC is already February in Japan.
        assert_eq!(billing_month(time::macros::datetime!(2026-01-31 16:00 UTC)), "2026-02");
    }

    #[test]
    fn table_has_no_overlaps_or_gaps() {
        for method in [Ocsp, Crl] {
            for kind in [Sign, Auth] {
                let mut rows: Vec<&FeeRule> = FEE_TABLE.iter().filter(|r| r.method == method && r.kind == kind).collect();
                rows.sort_by_key(|r| r.from);
                assert_eq!(rows[0].from, EPOCH);
                for pair in rows.windows(2) {
                    let until = pair[0].until.expect("only the last row is open-ended");
                    assert_eq!(until.next_day(), Some(pair[1].from), "{method:?} {kind:?}");
                }
                assert!(rows.last().unwrap().until.is_none());
            }
        }
    }
}
