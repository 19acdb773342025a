//! Where each PIN and verification code lives on the card. Formats and retry limits are the profile's
//! [`jpki_profile::pin_policy`]; this module only places them: each application keeps its own counter,
//! even where two applications accept the same code (照合番号A opens both the input-assistance and the
//! card-face application, and a wrong try on one does not count on the other).

use jpki_profile::pin_policy::PinKind;
use jpki_profile::KeyRole;

use crate::applications::Aid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinSlot {
    /// JPKI-AP EF 0018: 利用者証明用電子証明書の暗証番号.
    JpkiAuthentication,
    /// JPKI-AP EF 001B: 署名用電子証明書のパスワード.
    JpkiSignature,
    /// 券面事項入力補助AP EF 0011: its 4-digit PIN.
    InputAssistancePin,
    /// 券面事項入力補助AP EF 0014: 照合番号A.
    InputAssistanceCodeA,
    /// 券面事項入力補助AP EF 0015: 照合番号B.
    InputAssistanceCodeB,
    /// 券面AP EF 0011: the birth-date key.
    CardFaceBirthDate,
    /// 券面AP EF 0012: 照合番号B.
    CardFaceCodeB,
    /// 券面AP EF 0013: 照合番号A.
    CardFaceCodeA,
    /// 住基AP EF 001C: 住民基本台帳用の暗証番号.
    ResidentRegistry,
    /// 共通カードAP EF 001C: the same PIN with its own counter.
    CommonCard,
}

impl PinSlot {
    pub const ALL: [PinSlot; 10] = [
        PinSlot::JpkiAuthentication,
        PinSlot::JpkiSignature,
        PinSlot::InputAssistancePin,
        PinSlot::InputAssistanceCodeA,
        PinSlot::InputAssistanceCodeB,
        PinSlot::CardFaceBirthDate,
        PinSlot::CardFaceCodeB,
        PinSlot::CardFaceCodeA,
        PinSlot::ResidentRegistry,
        PinSlot::CommonCard,
    ];

    /// The JPKI PIN that opens `role`'s key.
    pub fn of(role: KeyRole) -> PinSlot {
        match role {
            KeyRole::Signature => PinSlot::JpkiSignature,
            KeyRole::Authentication => PinSlot::JpkiAuthentication,
        }
    }

    pub fn kind(self) -> PinKind {
        match self {
            PinSlot::JpkiAuthentication => PinKind::Authentication,
            PinSlot::JpkiSignature => PinKind::Signature,
            PinSlot::InputAssistancePin => PinKind::InputAssistance,
            PinSlot::InputAssistanceCodeA | PinSlot::CardFaceCodeA => PinKind::CardNumberCode,
            PinSlot::InputAssistanceCodeB | PinSlot::CardFaceCodeB => PinKind::CardFaceCode,
            PinSlot::CardFaceBirthDate => PinKind::BirthDateCode,
            PinSlot::ResidentRegistry | PinSlot::CommonCard => PinKind::ResidentRegistry,
        }
    }

    /// The application and PIN EF (file identifier) holding this slot.
    pub fn location(self) -> (Aid, u16) {
        match self {
            PinSlot::JpkiAuthentication => (Aid::JPKI, 0x0018),
            PinSlot::JpkiSignature => (Aid::JPKI, 0x001b),
            PinSlot::InputAssistancePin => (Aid::INPUT_ASSISTANCE, 0x0011),
            PinSlot::InputAssistanceCodeA => (Aid::INPUT_ASSISTANCE, 0x0014),
            PinSlot::InputAssistanceCodeB => (Aid::INPUT_ASSISTANCE, 0x0015),
            PinSlot::CardFaceBirthDate => (Aid::CARD_FACE, 0x0011),
            PinSlot::CardFaceCodeB => (Aid::CARD_FACE, 0x0012),
            PinSlot::CardFaceCodeA => (Aid::CARD_FACE, 0x0013),
            PinSlot::ResidentRegistry => (Aid::RESIDENT_REGISTRY, 0x001c),
            PinSlot::CommonCard => (Aid::COMMON, 0x001c),
        }
    }

    /// The key of this slot in `card.json`.
    pub fn name(self) -> &'static str {
        match self {
            PinSlot::JpkiAuthentication => "jpki.authentication",
            PinSlot::JpkiSignature => "jpki.signature",
            PinSlot::InputAssistancePin => "input_assistance.pin",
            PinSlot::InputAssistanceCodeA => "input_assistance.code_a",
            PinSlot::InputAssistanceCodeB => "input_assistance.code_b",
            PinSlot::CardFaceBirthDate => "card_face.birth_date",
            PinSlot::CardFaceCodeB => "card_face.code_b",
            PinSlot::CardFaceCodeA => "card_face.code_a",
            PinSlot::ResidentRegistry => "resident_registry.pin",
            PinSlot::CommonCard => "common.pin",
        }
    }

    /// The slots of one PIN kind (a municipality resets them together).
    pub fn of_kind(kind: PinKind) -> impl Iterator<Item = PinSlot> {
        PinSlot::ALL.into_iter().filter(move |s| s.kind() == kind)
    }

    /// Whether the holder may change this PIN on the card (verification codes are printed on it).
    pub fn changeable(self) -> bool {
        PinKind::CHOSEN.contains(&self.kind())
    }

    /// Whether `pin` has the format of this slot: a wrong-format PIN still costs a try on a real card,
    /// so this is for the holder's tools, not for the card.
    pub fn well_formed(self, pin: &str) -> bool {
        let rule = self.kind().rule();
        let len = pin.len();
        len >= rule.min_len && len <= rule.max_len && pin.bytes().all(|b| b.is_ascii_digit() || (rule.alphanumeric && b.is_ascii_uppercase()))
    }
}

impl std::fmt::Display for PinSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind())
    }
}
