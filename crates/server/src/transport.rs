//! How verification reaches revocation information: OCSP (RFC 6960 Appendix A.1) and status lists
//! (draft-ietf-oauth-status-list §8.1) over HTTP(S) with a timeout and a size limit, and the sandbox
//! issuer asked in-process. The `verify` crate takes these through its traits and does no I/O itself.

use std::sync::Arc;
use std::time::Duration;

use jpki_issuer::mdoc_pki::STATUS_LIST_PATH;
use jpki_issuer::ocsp::OcspResponder;
use jpki_issuer::Issuer;
use jpki_verify::presentation::StatusListSource;
use jpki_verify::revocation::{OcspTransport, TransportError};

/// Largest OCSP response read (one for hundreds of certificates fits easily).
const MAX_OCSP_RESPONSE: u64 = 1 << 20;
/// Largest status list token read (a list of millions of records, compressed).
const MAX_STATUS_LIST: u64 = 16 << 20;

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(true).build().new_agent()
}

/// OCSP over HTTP POST, each request bounded by `timeout` as a whole.
pub struct HttpOcsp {
    agent: ureq::Agent,
}

impl HttpOcsp {
    pub fn new(timeout: Duration) -> HttpOcsp {
        HttpOcsp { agent: agent(timeout) }
    }
}

impl OcspTransport for HttpOcsp {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut response = self.agent.post(url).header("Content-Type", "application/ocsp-request").send(request).map_err(|e| TransportError::new(url, e))?;
        response.body_mut().with_config().limit(MAX_OCSP_RESPONSE).read_to_vec().map_err(|e| TransportError::new(url, e))
    }
}

/// Status list tokens over HTTP(S) GET (`Accept: application/statuslist+cwt`).
pub struct HttpStatusLists {
    agent: ureq::Agent,
}

impl HttpStatusLists {
    pub fn new(timeout: Duration) -> HttpStatusLists {
        HttpStatusLists { agent: agent(timeout) }
    }
}

impl StatusListSource for HttpStatusLists {
    fn fetch(&self, uri: &str) -> Result<Vec<u8>, TransportError> {
        let mut response = self.agent.get(uri).header("Accept", "application/statuslist+cwt").call().map_err(|e| TransportError::new(uri, e))?;
        response.body_mut().with_config().limit(MAX_STATUS_LIST).read_to_vec().map_err(|e| TransportError::new(uri, e))
    }
}

/// The sandbox's OCSP responder asked in-process (sandbox server, tests, benchmarks): the same request
/// and response bytes as over HTTP, without the socket. `post` blocks on `runtime`, so it must be called
/// from outside the runtime's own threads (a blocking task, or a plain thread).
pub struct InProcessOcsp {
    pub runtime: tokio::runtime::Handle,
    pub responder: Arc<OcspResponder>,
}

impl OcspTransport for InProcessOcsp {
    fn post(&self, _url: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.runtime.block_on(self.responder.respond(request, None)).to_vec())
    }
}

/// The sandbox issuer's status list asked in-process: the current list, as `GET /issuer/status/mnc`
/// serves it. `fetch` blocks on `runtime` (see [`InProcessOcsp`]).
pub struct InProcessStatusList {
    pub runtime: tokio::runtime::Handle,
    pub issuer: Issuer,
}

impl StatusListSource for InProcessStatusList {
    fn fetch(&self, uri: &str) -> Result<Vec<u8>, TransportError> {
        // The record naming `uri` was signed by this issuer's document signer (checked before its status
        // is asked), under whichever public URL it was issued with.
        if !uri.ends_with(STATUS_LIST_PATH) {
            return Err(TransportError::new(uri, format_args!("not this issuer's status list (…{STATUS_LIST_PATH})")));
        }
        self.runtime.block_on(self.issuer.status_list_token_for(uri)).map_err(|e| TransportError::new(uri, e))
    }
}

/// The largest CRL downloaded: J-LIS's signature CA list is about 1.3 GB at 20 million entries.
const MAX_CRL: u64 = 8 << 30;
/// How long one CRL download may take as a whole, and how long until it connects.
const CRL_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(3600);
const CRL_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a CRL is read from: a file, or an HTTP(S) URL (streamed, never held whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlLocation {
    File(std::path::PathBuf),
    Url(String),
}

impl std::fmt::Display for CrlLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrlLocation::File(path) => write!(f, "{}", path.display()),
            CrlLocation::Url(url) => f.write_str(url),
        }
    }
}

/// The CRL files at `path`: the file itself, or a directory's `*.crl` files in name order (a CA
/// publishing per distribution point, as J-LIS's signature CA does, fills a directory with them).
pub fn crl_files(path: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("cannot read the directory {}: {e}", path.display()))?;
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "crl") && p.is_file()).collect();
    if files.is_empty() {
        return Err(format!("the directory {} holds no .crl file", path.display()));
    }
    files.sort();
    Ok(files)
}

impl CrlLocation {
    /// The CRLs as an ingestion reads them: a file opened (a directory's files listed now, each opened
    /// in turn), or a URL connected to (with a timeout), when its turn comes; a download is streamed,
    /// never held whole, and stops at [`MAX_CRL`].
    pub fn sources(&self) -> Vec<jpki_platform::revocation_lists::CrlSource> {
        use jpki_platform::revocation_lists::CrlSource;
        match self {
            CrlLocation::File(path) => match crl_files(path) {
                Ok(files) => files.into_iter().map(|file| CrlSource { name: file.display().to_string(), open: Box::new(move || open_file(&file)) }).collect(),
                Err(e) => vec![CrlSource { name: path.display().to_string(), open: Box::new(move || Err(e)) }],
            },
            CrlLocation::Url(url) => {
                let location = url.clone();
                let open: jpki_platform::revocation_lists::Opener = Box::new(move || {
                    let agent = ureq::Agent::config_builder()
                        .timeout_global(Some(CRL_DOWNLOAD_TIMEOUT))
                        .timeout_connect(Some(CRL_CONNECT_TIMEOUT))
                        .http_status_as_error(true)
                        .build()
                        .new_agent();
                    let response = agent.get(&location).header("Accept", "application/pkix-crl").call().map_err(|e| e.to_string())?;
                    Ok(Box::new(response.into_body().into_with_config().limit(MAX_CRL).reader()) as Box<dyn std::io::Read + Send>)
                });
                vec![CrlSource { name: url.clone(), open }]
            }
        }
    }
}

fn open_file(path: &std::path::Path) -> Result<Box<dyn std::io::Read + Send>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(Box::new(file))
}
