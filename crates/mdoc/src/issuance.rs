//! Issuing an mdoc (ISO/IEC 18013-5 §9.1.2): each element gets a fresh random salt and a digest ID,
//! the MSO collects the digests, and the document signer signs the MSO once.

use std::collections::BTreeMap;

use jpki_crypto::{Digest, EcKey};

use crate::document::{IssuedItem, IssuerSigned, IssuerSignedItem};
use crate::mso::{MobileSecurityObject, ValidityInfo};
use crate::status::StatusReference;
use crate::{cbor, cose, MdocError, Value};

/// Salt length per element; §9.1.2.5 asks for at least 16 bytes.
const RANDOM_LEN: usize = 32;

/// The issuer's document signer: its key and certificate chain (leaf first, without the IACA root).
pub struct DocumentSigner {
    pub key: EcKey,
    pub chain: Vec<Vec<u8>>,
}

/// One data element to issue.
#[derive(Debug, Clone)]
pub struct Element {
    pub namespace: String,
    pub identifier: String,
    pub value: Value,
}

impl Element {
    pub fn new(namespace: &str, identifier: &str, value: Value) -> Self {
        Element { namespace: namespace.to_owned(), identifier: identifier.to_owned(), value }
    }
}

/// What the MSO says besides the digests.
pub struct IssueParams<'a> {
    pub doc_type: &'a str,
    pub device_key: &'a [u8],
    pub validity: ValidityInfo,
    pub status: Option<StatusReference>,
}

/// A random permutation of `0..n`: digest IDs that reveal neither the order nor the meaning of elements.
fn shuffled_ids(n: usize) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..n as u64).collect();
    for i in (1..ids.len()).rev() {
        let r = u64::from_le_bytes(jpki_crypto::random_bytes::<8>());
        ids.swap(i, (r % (i as u64 + 1)) as usize);
    }
    ids
}

pub fn issue(signer: &DocumentSigner, params: IssueParams<'_>, elements: Vec<Element>) -> Result<IssuerSigned, MdocError> {
    let mut by_namespace: Vec<(String, Vec<Element>)> = Vec::new();
    for e in elements {
        match by_namespace.iter_mut().find(|(ns, _)| *ns == e.namespace) {
            Some((_, list)) => list.push(e),
            None => by_namespace.push((e.namespace.clone(), vec![e])),
        }
    }
    let mut value_digests = BTreeMap::new();
    let mut name_spaces = Vec::new();
    for (ns, elements) in by_namespace {
        let ids = shuffled_ids(elements.len());
        let items: Vec<IssuedItem> = elements
            .into_iter()
            .zip(ids)
            .map(|(e, digest_id)| {
                IssuedItem::new(IssuerSignedItem {
                    digest_id,
                    random: jpki_crypto::random_bytes::<RANDOM_LEN>().to_vec(),
                    element_identifier: e.identifier,
                    element_value: e.value,
                })
            })
            .collect();
        let digests = items.iter().map(|i| (i.item.digest_id, i.digest(Digest::Sha256))).collect();
        value_digests.insert(ns.clone(), digests);
        name_spaces.push((ns, items));
    }
    let mso = MobileSecurityObject {
        digest_algorithm: Digest::Sha256,
        value_digests,
        device_key: params.device_key.to_vec(),
        doc_type: params.doc_type.to_owned(),
        validity: params.validity,
        status: params.status,
    };
    let payload = cbor::encode(&cbor::embed(&mso.to_value()));
    let issuer_auth = cose::sign1(&signer.key, &payload, false, &signer.chain)?;
    Ok(IssuerSigned { name_spaces, issuer_auth })
}

/// The same IssuerSigned with only the elements `keep` accepts, bytes untouched (selective disclosure).
pub fn disclose(issued: &IssuerSigned, mut keep: impl FnMut(&str, &str) -> bool) -> IssuerSigned {
    let name_spaces = issued
        .name_spaces
        .iter()
        .map(|(ns, items)| (ns.clone(), items.iter().filter(|i| keep(ns, &i.item.element_identifier)).cloned().collect::<Vec<_>>()))
        .filter(|(_, items)| !items.is_empty())
        .collect();
    IssuerSigned { name_spaces, issuer_auth: issued.issuer_auth.clone() }
}
