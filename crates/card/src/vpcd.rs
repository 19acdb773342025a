//! The bridge between the emulator and vsmartcard's virtual reader driver (vpcd), which pcscd loads:
//! the card connects to the driver's TCP port and pcscd then lists a reader with the card in it.
//!
//! Every message is a 2-byte big-endian length and a payload. A 1-byte payload is a control code
//! from the reader — `00` power off, `01` power on, `02` reset, `04` "send the ATR" — and any longer
//! payload a command APDU; the card answers the ATR and every APDU with one length-prefixed message
//! (../shared/reference/jpki-card.md §16; vsmartcard's `vpcd.c`).

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::emulator::Emulator;

/// The port Debian's vpcd reader listens on for its first slot.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:35963";

const POWER_OFF: u8 = 0x00;
const POWER_ON: u8 = 0x01;
const RESET: u8 = 0x02;
const GET_ATR: u8 = 0x04;

/// Keeps the card inserted in the vpcd reader at `address` until `shutdown` completes, reconnecting
/// whenever the driver goes away (pcscd restarting) and coming back when it returns.
pub async fn serve(emulator: &mut Emulator, address: &str, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut waiting_logged = false;
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            connected = TcpStream::connect(address) => connected,
        };
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                if !waiting_logged {
                    tracing::warn!("waiting for the vpcd reader at {address} ({e}); is pcscd running with vsmartcard-vpcd?");
                    waiting_logged = true;
                }
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        waiting_logged = false;
        tracing::info!("card inserted in the vpcd reader at {address}");
        let outcome = tokio::select! {
            _ = &mut shutdown => None,
            result = session(emulator, &mut stream) => Some(result),
        };
        emulator.power_off();
        match outcome {
            None => {
                let _ = stream.shutdown().await;
                return;
            }
            Some(Err(e)) => tracing::warn!("the vpcd reader went away ({e}); reconnecting"),
            Some(Ok(())) => tracing::warn!("the vpcd reader closed the connection; reconnecting"),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quick_ack(stream: &TcpStream) {
    let _ = stream.set_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quick_ack(_: &TcpStream) {}

/// Answers the reader until it disconnects.
async fn session(emulator: &mut Emulator, stream: &mut TcpStream) -> std::io::Result<()> {
    loop {
        let mut length = [0u8; 2];
        match stream.read_exact(&mut length).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        // vpcd writes the length and the payload separately without TCP_NODELAY: acknowledging at once
        // keeps Nagle's algorithm on its side from holding the payload for our delayed ACK (~40 ms).
        quick_ack(stream);
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut payload).await?;
        quick_ack(stream);
        let reply = match payload.as_slice() {
            [POWER_OFF] => {
                emulator.power_off();
                None
            }
            [POWER_ON] | [RESET] => {
                if let Err(e) = emulator.power_on() {
                    tracing::error!("power-on: cannot load the card: {e}");
                }
                None
            }
            [GET_ATR] => Some(emulator.atr().to_vec()),
            [other] => {
                tracing::debug!("ignoring unknown vpcd control code {other:02X}");
                None
            }
            [] => None,
            apdu => Some(emulator.transmit(apdu)),
        };
        if let Some(reply) = reply {
            let mut message = (reply.len() as u16).to_be_bytes().to_vec();
            message.extend(reply);
            stream.write_all(&message).await?;
        }
    }
}
