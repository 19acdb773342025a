//! The card's applications (seed 001's table; ../shared/reference/jpki-card.md §1, §6, §10–§12): their
//! identifiers, files and record formats. Each module encodes what the card stores and decodes what a
//! reader gets back, so the emulator and the client share one definition of every record.

pub mod card_data;
pub mod card_face;
pub mod common;
pub mod free_area;
pub mod images;
pub mod input_assistance;
pub mod jpki;
pub mod resident_registry;

/// An application identifier (DF name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aid(pub &'static [u8]);

impl Aid {
    /// 公的個人認証AP (JPKI-AP).
    pub const JPKI: Aid = Aid(&[0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
    /// 券面事項入力補助AP (input assistance).
    pub const INPUT_ASSISTANCE: Aid = Aid(&[0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08]);
    /// 券面事項確認AP (券面AP, card face).
    pub const CARD_FACE: Aid = Aid(&[0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02]);
    /// 住基AP (resident registry).
    pub const RESIDENT_REGISTRY: Aid = Aid(&[0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01]);
    /// 共通カードAP (common card application).
    pub const COMMON: Aid = Aid(&[0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00]);

    pub const ALL: [Aid; 5] = [Aid::JPKI, Aid::INPUT_ASSISTANCE, Aid::CARD_FACE, Aid::RESIDENT_REGISTRY, Aid::COMMON];

    pub fn name(self) -> &'static str {
        match self {
            Aid::JPKI => "JPKI-AP (公的個人認証AP)",
            Aid::INPUT_ASSISTANCE => "input-assistance AP (券面事項入力補助AP)",
            Aid::CARD_FACE => "card-face AP (券面AP)",
            Aid::RESIDENT_REGISTRY => "resident-registry AP (住基AP)",
            Aid::COMMON => "common card AP (共通カードAP)",
            _ => "application",
        }
    }
}
