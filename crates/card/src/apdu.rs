//! Command and response APDUs (ISO/IEC 7816-4:2020 §5.1 and §5.6).
//!
//! A command is a 4-byte header (CLA INS P1 P2) and a body in one of the four cases:
//!
//! | case | body | short form | extended form |
//! |---|---|---|---|
//! | 1 | — | (empty) | (empty) |
//! | 2 | Le | `Le` (00 = 256) | `00 Le1 Le2` (0000 = 65536) |
//! | 3 | Lc, data | `Lc data` (Lc ≠ 00) | `00 Lc1 Lc2 data` (Lc ≠ 0000) |
//! | 4 | Lc, data, Le | `Lc data Le` | `00 Lc1 Lc2 data Le1 Le2` |
//!
//! Anything else is malformed: the card answers `6700` (wrong length) and never panics.

use std::fmt;

/// A status word (SW1 SW2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const SUCCESS: StatusWord = StatusWord(0x9000);
    /// Wrong length (no further indication).
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    pub const AUTHENTICATION_METHOD_BLOCKED: StatusWord = StatusWord(0x6983);
    /// Reference data not usable: what the card answers to a VERIFY of a blocked PIN.
    pub const REFERENCE_DATA_NOT_USABLE: StatusWord = StatusWord(0x6984);
    pub const CONDITIONS_OF_USE_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6a82);
    pub const INCORRECT_P1_P2: StatusWord = StatusWord(0x6a86);
    /// Wrong parameters P1-P2 (a READ BINARY offset beyond the end of the file).
    pub const WRONG_P1_P2: StatusWord = StatusWord(0x6b00);
    pub const INSTRUCTION_NOT_SUPPORTED: StatusWord = StatusWord(0x6d00);
    pub const CLASS_NOT_SUPPORTED: StatusWord = StatusWord(0x6e00);

    /// `63Cx`: verification failed, `x` tries left (at most 15 can be said).
    pub fn tries_left(tries: u8) -> StatusWord {
        StatusWord(0x63c0 | u16::from(tries.min(15)))
    }

    /// The tries left, if this is a `63Cx` status word.
    pub fn as_tries_left(self) -> Option<u8> {
        (self.0 & 0xfff0 == 0x63c0).then_some((self.0 & 0x0f) as u8)
    }

    pub fn is_success(self) -> bool {
        self == StatusWord::SUCCESS
    }

    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("a command APDU needs at least the 4 header bytes, got {0}")]
    TooShort(usize),
    #[error("the command body ({0} bytes) matches none of the ISO 7816-4 cases")]
    BadBody(usize),
    #[error("command data of {0} bytes does not fit an APDU (at most 65535)")]
    DataTooLong(usize),
    #[error("Le of {0} is out of range (1 to 65536)")]
    BadLe(usize),
}

impl ApduError {
    /// The status word a card answers to this malformed command.
    pub fn status(&self) -> StatusWord {
        StatusWord::WRONG_LENGTH
    }
}

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length (Ne), 1..=65536; `None` when no data is expected (cases 1 and 3).
    pub le: Option<usize>,
    /// Whether the command was (or is to be) encoded with extended lengths.
    pub extended: bool,
}

impl Command {
    /// A command, encoded short when it fits and extended otherwise.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Command {
        let extended = data.len() > 255 || le.is_some_and(|n| n > 256);
        Command { cla, ins, p1, p2, data: data.to_vec(), le, extended }
    }

    /// Parses a command APDU.
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else { return Err(ApduError::TooShort(bytes.len())) };
        let (cla, ins, p1, p2) = (*cla, *ins, *p1, *p2);
        let short_le = |b: u8| if b == 0 { 256 } else { usize::from(b) };
        let long_le = |hi: u8, lo: u8| match u16::from_be_bytes([hi, lo]) {
            0 => 65536,
            n => usize::from(n),
        };
        let command = |data: &[u8], le, extended| Ok(Command { cla, ins, p1, p2, data: data.to_vec(), le, extended });
        match body {
            [] => command(&[], None, false),
            [le] => command(&[], Some(short_le(*le)), false),
            [0, hi, lo] => command(&[], Some(long_le(*hi, *lo)), true),
            [0, lc1, lc2, rest @ ..] if u16::from_be_bytes([*lc1, *lc2]) != 0 => {
                let lc = usize::from(u16::from_be_bytes([*lc1, *lc2]));
                match rest.len().checked_sub(lc) {
                    Some(0) => command(rest, None, true),
                    Some(2) => command(&rest[..lc], Some(long_le(rest[lc], rest[lc + 1])), true),
                    _ => Err(ApduError::BadBody(body.len())),
                }
            }
            [lc, rest @ ..] if *lc != 0 => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => command(rest, None, false),
                    Some(1) => command(&rest[..lc], Some(short_le(rest[lc])), false),
                    _ => Err(ApduError::BadBody(body.len())),
                }
            }
            _ => Err(ApduError::BadBody(body.len())),
        }
    }

    /// Encodes the command, in extended form when `self.extended`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > 65535 {
            return Err(ApduError::DataTooLong(self.data.len()));
        }
        let limit = if self.extended { 65536 } else { 256 };
        if let Some(le) = self.le {
            if le == 0 || le > limit {
                return Err(ApduError::BadLe(le));
            }
        }
        if !self.extended && self.data.len() > 255 {
            return Err(ApduError::DataTooLong(self.data.len()));
        }
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if self.extended {
            if !self.data.is_empty() {
                out.push(0);
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                if self.data.is_empty() {
                    out.push(0);
                }
                out.extend_from_slice(&((le % 65536) as u16).to_be_bytes());
            }
        } else {
            if !self.data.is_empty() {
                out.push(self.data.len() as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                out.push((le % 256) as u8);
            }
        }
        Ok(out)
    }
}

/// A response APDU: data followed by the status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub status: StatusWord,
}

impl Response {
    pub fn status(status: StatusWord) -> Response {
        Response { data: Vec::new(), status }
    }

    pub fn success(data: Vec<u8>) -> Response {
        Response { data, status: StatusWord::SUCCESS }
    }

    /// Splits a received response; `None` when it is shorter than a status word.
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let split = bytes.len().checked_sub(2)?;
        let (data, sw) = bytes.split_at(split);
        Some(Response { data: data.to_vec(), status: StatusWord(u16::from_be_bytes([sw[0], sw[1]])) })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.status.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn parse_hex(s: &str) -> Result<Command, ApduError> {
        let bytes: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        Command::parse(&bytes)
    }

    #[test]
    fn the_jpki_commands_real_software_sends() {
        // SELECT the JPKI application by DF name, no Le (OpenSC, jpki-rs, myna).
        let select = parse_hex("00A4040C0AD392F000260100000001").unwrap();
        assert_eq!((select.ins, select.p1, select.p2, select.data.len(), select.le), (0xa4, 4, 0x0c, 10, None));
        // VERIFY status query (case 1) and VERIFY with a PIN (case 3).
        assert_eq!(parse_hex("00200080").unwrap().le, None);
        assert_eq!(parse_hex("002000800431323334").unwrap().data, b"1234");
        // READ BINARY, 4-byte header read and Le=00 (256).
        assert_eq!(parse_hex("00B0000004").unwrap().le, Some(4));
        assert_eq!(parse_hex("00B0010000").unwrap().le, Some(256));
        // Extended READ BINARY of a whole certificate, and Le 000000 (65536).
        let ext = parse_hex("00B00004000622").unwrap();
        assert_eq!((ext.le, ext.extended), (Some(0x622), true));
        assert_eq!(parse_hex("00B00000000000").unwrap().le, Some(65536));
        // COMPUTE DIGITAL SIGNATURE with a 51-byte DigestInfo and Le=00 (case 4).
        let mut sign = vec![0x80, 0x2a, 0x00, 0x80, 0x33];
        sign.extend([0xaa; 0x33]);
        sign.push(0);
        let sign = Command::parse(&sign).unwrap();
        assert_eq!((sign.data.len(), sign.le), (0x33, Some(256)));
    }

    #[test]
    fn malformed_commands_are_wrong_length() {
        for bad in ["", "00", "00A404", "00A4040C05D392", "00A4040C01D3920000", "00A4040C0000", "00A4040C000002D3", "00A4040C000001D392"] {
            let err = parse_hex(bad).unwrap_err();
            assert_eq!(err.status(), StatusWord::WRONG_LENGTH, "{bad}");
        }
    }

    #[test]
    fn encode_parse_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let extended = rng.gen_bool(0.3);
            let max_data = if extended { 700 } else { 255 };
            let data: Vec<u8> = (0..rng.gen_range(0..=max_data)).map(|_| rng.gen()).collect();
            let le = rng.gen_bool(0.5).then(|| rng.gen_range(1..=if extended { 65536 } else { 256 }));
            let command = Command { cla: rng.gen(), ins: rng.gen(), p1: rng.gen(), p2: rng.gen(), data, le, extended };
            let bytes = command.to_bytes().unwrap();
            let mut parsed = Command::parse(&bytes).unwrap();
            // An extended case-1 command has no body to tell it apart from a short one.
            if command.data.is_empty() && command.le.is_none() {
                parsed.extended = command.extended;
            }
            assert_eq!(parsed, command);
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..100_000 {
            let bytes: Vec<u8> = (0..rng.gen_range(0..40)).map(|_| if rng.gen_bool(0.3) { 0 } else { rng.gen() }).collect();
            let _ = Command::parse(&bytes);
            let _ = Response::parse(&bytes);
        }
    }

    #[test]
    fn status_words() {
        assert_eq!(StatusWord::tries_left(3), StatusWord(0x63c3));
        assert_eq!(StatusWord(0x63c5).as_tries_left(), Some(5));
        assert_eq!(StatusWord::SUCCESS.as_tries_left(), None);
        assert_eq!(Response::parse(&[1, 2, 0x90, 0x00]), Some(Response::success(vec![1, 2])));
        assert_eq!(Response::parse(&[0x90]), None);
        assert_eq!(Response::status(StatusWord::FILE_NOT_FOUND).to_bytes(), vec![0x6a, 0x82]);
        assert!(Command::new(0, 0xb0, 0, 0, &[], Some(65536)).extended);
        assert_eq!(Command::new(0, 0xb0, 0, 0, &[], Some(257)).to_bytes().unwrap(), vec![0, 0xb0, 0, 0, 0, 0x01, 0x01]);
        assert_eq!(Command { extended: false, ..Command::new(0, 0xb0, 0, 0, &[], Some(300)) }.to_bytes(), Err(ApduError::BadLe(300)));
    }
}
