//! The My Number Card as smart-card software sees it.
//!
//! - [`apdu`]: ISO/IEC 7816-4 command and response APDUs, short and extended, and the status words the
//!   card answers with.
#![forbid(unsafe_code)]

pub mod apdu;
