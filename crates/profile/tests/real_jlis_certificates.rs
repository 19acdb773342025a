//! The profile must read J-LIS's real certificates, not only openjpki's own.

use jpki_profile::{CertKind, JpkiCertificate};
use x509_cert::der::{DecodePem, Encode};

/// Reads the certificate both ways (decoded by x509-cert, and borrowed from its DER) and checks they agree.
fn decode(pem: &str) -> JpkiCertificate {
    let cert = x509_cert::Certificate::from_pem(pem).expect("PEM certificate");
    let decoded = JpkiCertificate::from_certificate(&cert).expect("JPKI profile");
    let borrowed = JpkiCertificate::from_der(&cert.to_der().unwrap()).expect("JPKI profile from DER");
    assert_eq!(format!("{decoded:?}"), format!("{borrowed:?}"));
    decoded
}

#[test]
fn jlis_root_certificates_decode_with_their_roles() {
    let cases = [
        (include_str!("../../../trust-anchors/jlis/sign_ca_2015.pem"), CertKind::SignatureCa, "01", "2015-10-20"),
        (include_str!("../../../trust-anchors/jlis/sign_ca_2023.pem"), CertKind::SignatureCa, "067c6a21", "2023-07-16"),
        (include_str!("../../../trust-anchors/jlis/auth_ca_2015.pem"), CertKind::AuthenticationCa, "01", "2015-10-20"),
        (include_str!("../../../trust-anchors/jlis/auth_ca_2023.pem"), CertKind::AuthenticationCa, "06d18006", "2023-07-16"),
    ];
    for (pem, kind, serial, from) in cases {
        let c = decode(pem);
        assert_eq!(c.kind, kind, "{}", c.subject);
        assert_eq!(c.serial, serial);
        assert!(c.not_before.to_string().starts_with(from), "{}", c.not_before);
        assert!(c.device.is_none() && c.four_info.is_none());
        assert!(c.subject.to_string().contains("O=JPKI"));
        // Our fast name rendering says what x509-cert's Display says.
        let cert = x509_cert::Certificate::from_pem(pem).unwrap();
        assert_eq!(c.subject.to_string(), cert.tbs_certificate.subject.to_string());
        assert_eq!(c.issuer.to_string(), cert.tbs_certificate.issuer.to_string());
        assert_eq!(c.subject.der(), cert.tbs_certificate.subject.to_der().unwrap());
    }
}
