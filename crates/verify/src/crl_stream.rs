//! A CRL (RFC 5280 §5.1) read as a stream: the header, then one revoked certificate at a time, then the
//! extensions and the signature, with the TBSCertList hashed as it passes. J-LIS's lists reach tens of
//! millions of entries (over a gigabyte); reading one holds a single entry in memory.
//!
//! The framing (tag and definite length) is read here because `der::Length` stops at 256 MiB; every
//! element inside it (names, times, entries, extensions) is decoded by `der`/`x509-cert`.
//!
//! ```text
//! CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
//!                                signatureValue BIT STRING }
//! TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name,
//!                            thisUpdate Time, nextUpdate Time OPTIONAL,
//!                            revokedCertificates SEQUENCE OF SEQUENCE {…} OPTIONAL,
//!                            crlExtensions [0] EXPLICIT Extensions OPTIONAL }
//! ```

use std::io::Read;

use der::referenced::OwnedToRef;
use der::Decode;
use jpki_crypto::DigestContext;
use jpki_profile::revocation_list::{self, RevokedSerial};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::crl::RevokedCert;
use x509_cert::ext::Extension;
use x509_cert::name::Name;

use crate::trust::TrustStore;

/// The largest element other than the list of entries (a name, the extensions): far above any real one.
const MAX_ELEMENT: u64 = 1 << 20;
/// The largest single revoked-certificate entry.
const MAX_ENTRY: u64 = 64 << 10;

/// Why a CRL could not be read or is not to be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlStreamError {
    #[error("cannot read the CRL: {0}")]
    Io(String),
    #[error("the CRL ends early, at byte {0} (truncated)")]
    Truncated(u64),
    #[error("the CRL is malformed at byte {at}: {reason}")]
    Malformed { at: u64, reason: String },
    #[error("the CRL is a delta CRL; only full CRLs are taken")]
    Delta,
    #[error("the CRL's signature does not verify with a trust anchor named {0}")]
    Signature(String),
}

/// A DER tag and definite length.
struct Header {
    tag: u8,
    len: u64,
}

/// The bytes of the CRL as they are read, counted, and hashed while inside the TBSCertList.
struct Source<R> {
    inner: R,
    position: u64,
    peeked: Option<u8>,
    digest: Option<DigestContext>,
}

impl<R: Read> Source<R> {
    fn malformed(&self, reason: impl Into<String>) -> CrlStreamError {
        CrlStreamError::Malformed { at: self.position, reason: reason.into() }
    }

    /// Where an element of `len` content bytes that starts here ends.
    fn end(&self, len: u64) -> Result<u64, CrlStreamError> {
        self.position.checked_add(len).ok_or_else(|| self.malformed("a length past any file"))
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), CrlStreamError> {
        let mut start = 0;
        if let (Some(b), Some(first)) = (self.peeked, buf.first_mut()) {
            *first = b;
            self.peeked = None;
            start = 1;
        }
        self.inner.read_exact(&mut buf[start..]).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CrlStreamError::Truncated(self.position),
            _ => CrlStreamError::Io(e.to_string()),
        })?;
        if let Some(digest) = &mut self.digest {
            digest.update(buf);
        }
        self.position += buf.len() as u64;
        Ok(())
    }

    /// The next byte without consuming it; `None` at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, CrlStreamError> {
        if self.peeked.is_none() {
            let mut b = [0u8];
            loop {
                match self.inner.read(&mut b) {
                    Ok(0) => return Ok(None),
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CrlStreamError::Io(e.to_string())),
                }
            }
            self.peeked = Some(b[0]);
        }
        Ok(self.peeked)
    }

    /// A tag (low tag numbers only, as every tag of a CRL is) and a definite length (X.690 §8.1.3).
    fn header(&mut self, out: &mut Vec<u8>) -> Result<Header, CrlStreamError> {
        let mut first = [0u8; 2];
        self.fill(&mut first)?;
        out.extend_from_slice(&first);
        let [tag, len_byte] = first;
        if tag & 0x1f == 0x1f {
            return Err(self.malformed("a high tag number, which no CRL element has"));
        }
        let len = match len_byte {
            0x80 => return Err(self.malformed("an indefinite length, which DER forbids")),
            short if short < 0x80 => u64::from(short),
            long => {
                let count = usize::from(long & 0x7f);
                if count > 8 {
                    return Err(self.malformed(format!("a length of {count} octets")));
                }
                let mut bytes = [0u8; 8];
                self.fill(&mut bytes[8 - count..])?;
                out.extend_from_slice(&bytes[8 - count..]);
                let len = u64::from_be_bytes(bytes);
                if len < 0x80 || bytes[8 - count] == 0 {
                    return Err(self.malformed("a length not in its shortest form, which DER requires"));
                }
                len
            }
        };
        Ok(Header { tag, len })
    }

    /// One whole element (tag, length and content) of at most `max` content bytes.
    fn element(&mut self, max: u64, out: &mut Vec<u8>) -> Result<Header, CrlStreamError> {
        out.clear();
        let header = self.header(out)?;
        if header.len > max {
            return Err(self.malformed(format!("an element of {} bytes, above the {max} taken", header.len)));
        }
        let start = out.len();
        out.resize(start + header.len as usize, 0);
        self.fill(&mut out[start..])?;
        Ok(header)
    }
}

/// What a CRL says before its entries.
#[derive(Debug, Clone)]
pub struct CrlHead {
    /// The issuer's name, DER (as it is matched against trust anchors' subjects).
    pub issuer_der: Vec<u8>,
    pub issuer: String,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
}

/// What a CRL says after its entries: the extensions that matter to a relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlTail {
    /// The cRLNumber, lower-case hex.
    pub number: Option<String>,
    /// Which of the CA's certificates it covers (its issuingDistributionPoint).
    pub scope: jpki_profile::revocation_list::CrlScope,
}

/// A CRL being read: [`CrlReader::open`], [`CrlReader::next_entry`] until `None`, then
/// [`CrlReader::finish`], which checks the signature.
pub struct CrlReader<R> {
    source: Source<R>,
    head: CrlHead,
    algorithm: AlgorithmIdentifierOwned,
    tbs_end: u64,
    entries_end: u64,
    outer_end: u64,
    buf: Vec<u8>,
    entries: u64,
}

impl<R: Read> CrlReader<R> {
    /// Reads up to the first entry.
    pub fn open(inner: R) -> Result<CrlReader<R>, CrlStreamError> {
        let mut source = Source { inner, position: 0, peeked: None, digest: None };
        let mut buf = Vec::new();
        let outer = source.header(&mut buf)?;
        if outer.tag != 0x30 {
            return Err(source.malformed("not a CertificateList (a SEQUENCE)"));
        }
        let outer_end = source.end(outer.len)?;
        // The TBSCertList's bytes are hashed from its tag on; the algorithm that hashes them is known
        // only from its `signature` field, so the bytes before that are kept until then.
        let mut signed = Vec::new();
        let tbs = source.header(&mut signed)?;
        if tbs.tag != 0x30 {
            return Err(source.malformed("the TBSCertList is not a SEQUENCE"));
        }
        let tbs_end = source.end(tbs.len)?;
        if tbs_end > outer_end {
            return Err(source.malformed("the TBSCertList runs past the CertificateList"));
        }
        let mut element = source.element(MAX_ELEMENT, &mut buf)?;
        if element.tag == 0x02 {
            if buf[2..] != [1] {
                return Err(source.malformed("the version is not v2"));
            }
            signed.extend_from_slice(&buf);
            element = source.element(MAX_ELEMENT, &mut buf)?;
        }
        if element.tag != 0x30 {
            return Err(source.malformed("the signature algorithm is not a SEQUENCE"));
        }
        signed.extend_from_slice(&buf);
        let algorithm = AlgorithmIdentifierOwned::from_der(&buf).map_err(|e| source.malformed(format!("the signature algorithm: {e}")))?;
        let scheme = crate::algorithms::rsa_scheme(algorithm.owned_to_ref(), None).map_err(|e| source.malformed(e.to_string()))?;
        let mut digest = DigestContext::new(scheme.digest().algorithm());
        digest.update(&signed);
        source.digest = Some(digest);

        source.element(MAX_ELEMENT, &mut buf)?;
        let issuer = Name::from_der(&buf).map_err(|e| source.malformed(format!("the issuer: {e}")))?;
        let issuer_der = buf.clone();
        let time = |source: &mut Source<R>, buf: &mut Vec<u8>| -> Result<OffsetDateTime, CrlStreamError> {
            source.element(64, buf)?;
            let t = x509_cert::time::Time::from_der(buf).map_err(|e| source.malformed(format!("a time: {e}")))?;
            revocation_list::time(&t).map_err(|e| source.malformed(e.to_string()))
        };
        let this_update = time(&mut source, &mut buf)?;
        let next_update = match source.peek()? {
            Some(0x17 | 0x18) => Some(time(&mut source, &mut buf)?),
            _ => None,
        };
        let mut entries_end = source.position;
        if source.position < tbs_end && source.peek()? == Some(0x30) {
            buf.clear();
            let list = source.header(&mut buf)?;
            entries_end = source.end(list.len)?;
            if entries_end > tbs_end {
                return Err(source.malformed("revokedCertificates runs past the TBSCertList"));
            }
        }
        let head = CrlHead { issuer_der, issuer: jpki_profile::cert_profile::name_string(&issuer), this_update, next_update };
        Ok(CrlReader { source, head, algorithm, tbs_end, entries_end, outer_end, buf, entries: 0 })
    }

    pub fn head(&self) -> &CrlHead {
        &self.head
    }

    /// The bytes read so far.
    pub fn position(&self) -> u64 {
        self.source.position
    }

    /// The next revoked certificate, or `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<RevokedSerial>, CrlStreamError> {
        if self.source.position >= self.entries_end {
            return Ok(None);
        }
        let header = self.source.element(MAX_ENTRY, &mut self.buf)?;
        if header.tag != 0x30 || self.source.position > self.entries_end {
            return Err(self.source.malformed("a revoked-certificate entry is not a SEQUENCE within the list"));
        }
        let entry = RevokedCert::from_der(&self.buf).map_err(|e| self.source.malformed(format!("entry {}: {e}", self.entries + 1)))?;
        self.entries += 1;
        revocation_list::revoked_serial(&entry).map(Some).map_err(|e| self.source.malformed(format!("entry {}: {e}", self.entries)))
    }

    /// Reads the extensions and the signature after the last entry, and checks the signature with the
    /// trust anchors named as the issuer; a CRL that any check refuses is an error.
    pub fn finish(mut self, trust: &TrustStore) -> Result<(CrlHead, CrlTail), CrlStreamError> {
        while self.next_entry()?.is_some() {}
        let mut extensions: Option<Vec<Extension>> = None;
        if self.source.position < self.tbs_end {
            let header = self.source.element(MAX_ELEMENT, &mut self.buf)?;
            if header.tag != 0xa0 {
                return Err(self.source.malformed(format!("an unexpected element (tag {:#04x}) in the TBSCertList", header.tag)));
            }
            let content_start = self.buf.len() - header.len as usize;
            extensions = Some(Vec::<Extension>::from_der(&self.buf[content_start..]).map_err(|e| self.source.malformed(format!("the extensions: {e}")))?);
        }
        if self.source.position != self.tbs_end {
            return Err(self.source.malformed("the TBSCertList's length does not match its contents"));
        }
        let digest = self.source.digest.take().expect("hashing since open").finish();
        self.source.element(MAX_ELEMENT, &mut self.buf)?;
        let outer_algorithm = AlgorithmIdentifierOwned::from_der(&self.buf).map_err(|e| self.source.malformed(format!("the signature algorithm: {e}")))?;
        if outer_algorithm != self.algorithm {
            return Err(self.source.malformed("the two signature algorithms differ (RFC 5280 §5.1.1.2)"));
        }
        self.source.element(MAX_ELEMENT, &mut self.buf)?;
        let bits = der::asn1::BitString::from_der(&self.buf).map_err(|e| self.source.malformed(format!("the signature: {e}")))?;
        if self.source.position != self.outer_end {
            return Err(self.source.malformed("the CertificateList's length does not match its contents"));
        }
        if self.source.peek()?.is_some() {
            return Err(self.source.malformed("bytes after the CRL"));
        }
        if revocation_list::is_delta(&extensions) {
            return Err(CrlStreamError::Delta);
        }
        let tail = CrlTail {
            number: revocation_list::crl_number(&extensions).map_err(|e| self.source.malformed(e.to_string()))?,
            scope: revocation_list::CrlScope::of_crl(&extensions).map_err(|e| self.source.malformed(e.to_string()))?,
        };
        let scheme = crate::algorithms::rsa_scheme(self.algorithm.owned_to_ref(), None).map_err(|e| self.source.malformed(e.to_string()))?;
        let signature = bits.as_bytes().ok_or_else(|| self.source.malformed("the signature is not whole bytes"))?;
        let signed = trust.named(&self.head.issuer_der).any(|anchor| jpki_crypto::verify_rsa_digest(scheme, &anchor.public_key, digest.as_ref(), signature));
        if !signed {
            return Err(CrlStreamError::Signature(self.head.issuer.clone()));
        }
        Ok((self.head, tail))
    }
}

/// Reads a whole CRL in memory (a small one), checked as [`CrlReader::finish`] checks it.
pub fn read_all(der: &[u8], trust: &TrustStore) -> Result<(CrlHead, CrlTail, Vec<RevokedSerial>), CrlStreamError> {
    let mut reader = CrlReader::open(der)?;
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        entries.push(entry);
    }
    let (head, tail) = reader.finish(trust)?;
    Ok((head, tail, entries))
}
