//! The command-APDU parser on arbitrary bytes; whatever parses must encode back to a parseable command.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = jpki_card::apdu::Command::parse(data) {
        let bytes = command.to_bytes().expect("a parsed command encodes");
        let again = jpki_card::apdu::Command::parse(&bytes).expect("an encoded command parses");
        assert_eq!((again.cla, again.ins, again.p1, again.p2, &again.data, again.le), (command.cla, command.ins, command.p1, command.p2, &command.data, command.le));
    }
    let _ = jpki_card::apdu::Response::parse(data);
});
