//! openjpki's HTTP front door. For now: serving connections with the limits a public server needs
//! ([`listen`]); the HTTP surfaces themselves move here next.
#![forbid(unsafe_code)]

pub mod listen;
