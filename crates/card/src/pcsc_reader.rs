//! Cards in PC/SC readers (pcsc-lite's pcscd on Linux, WinSCard on Windows, CryptoTokenKit on macOS),
//! through the `pcsc` crate: the same code for a real card on a desk reader and for the emulator behind
//! vsmartcard's virtual reader.

use std::ffi::CString;

use serde::Serialize;

use crate::client::{CardError, Transport};

/// A reader and what is in it.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderStatus {
    pub name: String,
    pub card_present: bool,
    /// The card's ATR, hex.
    pub atr: Option<String>,
}

fn context() -> Result<pcsc::Context, CardError> {
    pcsc::Context::establish(pcsc::Scope::User).map_err(map_error(""))
}

fn map_error(reader: &str) -> impl Fn(pcsc::Error) -> CardError + '_ {
    move |e| match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => CardError::NoService,
        pcsc::Error::NoReadersAvailable => CardError::NoReaders,
        pcsc::Error::NoSmartcard => CardError::NoCard(format!("reader {reader:?}")),
        pcsc::Error::RemovedCard => CardError::Removed(reader.to_owned()),
        pcsc::Error::SharingViolation => CardError::Busy(reader.to_owned()),
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
            CardError::UnknownReader { name: reader.to_owned(), known: "(it was disconnected)".into() }
        }
        other => CardError::Pcsc(other.to_string()),
    }
}

/// Every reader pcscd knows, with whether a card is in it.
pub fn list_readers() -> Result<Vec<ReaderStatus>, CardError> {
    let ctx = context()?;
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map_error("")(e)),
    };
    let mut states: Vec<pcsc::ReaderState> = names.iter().map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE)).collect();
    ctx.get_status_change(std::time::Duration::from_millis(0), &mut states).map_err(map_error(""))?;
    Ok(states
        .iter()
        .map(|s| {
            let present = s.event_state().contains(pcsc::State::PRESENT);
            ReaderStatus {
                name: s.name().to_string_lossy().into_owned(),
                card_present: present,
                atr: (present && !s.atr().is_empty()).then(|| hex::encode_upper(s.atr())),
            }
        })
        .collect())
}

/// [`list_readers`] once a reader holds a card, waiting up to `timeout` for one (and for pcscd, which
/// may still be starting, or for a reader to appear).
pub fn wait_for_card(timeout: std::time::Duration) -> Result<Vec<ReaderStatus>, CardError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let outcome = list_readers();
        let expired = std::time::Instant::now() >= deadline;
        match outcome {
            Ok(readers) if readers.iter().any(|r| r.card_present) => return Ok(readers),
            Ok(readers) if expired => {
                let known = readers.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", ");
                return Err(CardError::NoCard(format!("any reader within {} s ({})", timeout.as_secs(), if known.is_empty() { "no readers" } else { &known })));
            }
            Err(e) if expired || !matches!(e, CardError::NoService) => return Err(e),
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

/// Picks a reader: the one named (exactly, or the only one whose name contains `wanted`), or else the
/// only reader holding a card.
pub fn choose_reader(readers: &[ReaderStatus], wanted: Option<&str>) -> Result<String, CardError> {
    if readers.is_empty() {
        return Err(CardError::NoReaders);
    }
    let known = || readers.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", ");
    match wanted {
        Some(name) => {
            if let Some(r) = readers.iter().find(|r| r.name == name) {
                return Ok(r.name.clone());
            }
            let matching: Vec<&ReaderStatus> = readers.iter().filter(|r| r.name.contains(name)).collect();
            match matching.as_slice() {
                [one] => Ok(one.name.clone()),
                [] => Err(CardError::UnknownReader { name: name.to_owned(), known: known() }),
                _ => Err(CardError::AmbiguousReader(matching.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", "))),
            }
        }
        None => {
            let with_card: Vec<&ReaderStatus> = readers.iter().filter(|r| r.card_present).collect();
            match with_card.as_slice() {
                [one] => Ok(one.name.clone()),
                [] => Err(CardError::NoCard(format!("any reader ({})", known()))),
                _ => Err(CardError::AmbiguousReader(with_card.iter().map(|r| format!("{:?}", r.name)).collect::<Vec<_>>().join(", "))),
            }
        }
    }
}

/// A card in a reader, held exclusively while this value lives (so that no other application can
/// come between a VERIFY and the operation it opens).
pub struct PcscReader {
    // Declared before the context so that it is dropped (and disconnected) first.
    card: pcsc::Card,
    _context: pcsc::Context,
    reader: String,
}

impl PcscReader {
    pub fn connect(wanted: Option<&str>) -> Result<PcscReader, CardError> {
        let readers = list_readers()?;
        let reader = choose_reader(&readers, wanted)?;
        let ctx = context()?;
        let name = CString::new(reader.clone()).map_err(|_| CardError::BadInput("reader name contains NUL".into()))?;
        let card = ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY).map_err(map_error(&reader))?;
        Ok(PcscReader { card, _context: ctx, reader })
    }

    pub fn reader(&self) -> &str {
        &self.reader
    }
}

impl Transport for PcscReader {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, CardError> {
        let mut buffer = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let response = self.card.transmit(command, &mut buffer).map_err(map_error(&self.reader))?;
        Ok(response.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card: bool) -> ReaderStatus {
        ReaderStatus { name: name.into(), card_present: card, atr: None }
    }

    #[test]
    fn reader_choice() {
        let readers = [reader("Virtual PCD 00 00", true), reader("Virtual PCD 00 01", false), reader("ACS ACR39U 01 00", true)];
        assert!(matches!(choose_reader(&readers, None), Err(CardError::AmbiguousReader(_))));
        assert_eq!(choose_reader(&readers, Some("ACS")).unwrap(), "ACS ACR39U 01 00");
        assert_eq!(choose_reader(&readers, Some("Virtual PCD 00 01")).unwrap(), "Virtual PCD 00 01");
        assert!(matches!(choose_reader(&readers, Some("Virtual")), Err(CardError::AmbiguousReader(_))));
        assert!(matches!(choose_reader(&readers, Some("Gemalto")), Err(CardError::UnknownReader { .. })));
        assert_eq!(choose_reader(&readers[..2], None).unwrap(), "Virtual PCD 00 00");
        assert!(matches!(choose_reader(&readers[1..2], None), Err(CardError::NoCard(_))));
        assert!(matches!(choose_reader(&[], None), Err(CardError::NoReaders)));
    }
}
