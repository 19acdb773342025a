//! The rules of Japan's public personal authentication service (JPKI, 公的個人認証サービス) that every
//! other openjpki crate relies on:
//!
//! - [`my_number`]: the 12-digit individual number (個人番号) and its check digit;
//! - [`four_info`]: the basic four information (基本4情報) and its alternative-character flags;
//! - [`ledger`]: a relying party's ledger matched against the 4 info, after normalizing Japanese text;
//! - [`municipality`]: the prefecture and municipality of an address, by which J-LIS partitions its CRL;
//! - [`era`]: Japanese era dates, as JPKI and the card applications encode birth dates;
//! - [`cert_profile`]: the JPKI certificate profile, to read real J-LIS certificates and make sandbox ones;
//! - [`pin_policy`]: the card's PINs, their formats and retry limits;
//! - [`fees`]: J-LIS's effective-dated fee table for revocation information;
//! - [`revocation_reason`]: revocation reasons, their J-LIS meanings, and which life event revokes what;
//! - [`revocation_list`]: reading CRLs.
#![forbid(unsafe_code)]

pub mod cert_profile;
pub mod era;
pub mod fees;
pub mod four_info;
pub mod ledger;
pub mod municipality;
pub mod my_number;
pub mod pin_policy;
pub mod revocation_list;
pub mod revocation_reason;

pub use cert_profile::{CertKind, Device, DistinguishedName, JpkiCertificate, KeyRole, ProfileError};
pub use four_info::{BirthDate, FourInfo, FourInfoError, Sex};
pub use my_number::{MyNumber, MyNumberError};
