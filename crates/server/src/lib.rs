//! openjpki's HTTP front door: every HTTP surface and the composition of a running server.
//!
//! - [`config`]: [`ServerConfig`] and the [`Server`] it makes;
//! - [`listen`]: serving connections with the limits a public server needs (timeouts, TLS, requests
//!   run to completion);
//! - [`v1`]: the platform operator's `/v1` API, one module per resource;
//! - [`issuer`]: the sandbox issuer's `/issuer/…` endpoints;
//! - [`oidc`]: the OpenID Connect provider, at the Digital Authentication App's paths;
//! - [`web`]: the web pages;
//! - [`openapi`]: the OpenAPI document of it all;
//! - [`error`] and [`extract`]: the one error answer, and extractors that give it;
//! - [`transport`]: OCSP and status lists over HTTP, and the sandbox asked in-process;
//! - [`jobs`]: background jobs, on the database's periodic-job mechanism.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod extract;
pub mod issuer;
pub mod jobs;
pub mod listen;
pub mod oidc;
pub mod openapi;
pub mod provisions;
pub mod transport;
pub mod v1;
pub mod web;

pub use config::{IacaRoots, SandboxConfig, Server, ServerConfig, ServerError};
