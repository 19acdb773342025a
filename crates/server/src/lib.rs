//! openjpki's HTTP front door. For now: serving connections with the limits a public server needs
//! ([`listen`]) and the web pages ([`web`]); the API surfaces move here next.
#![forbid(unsafe_code)]

pub mod listen;
pub mod web;
