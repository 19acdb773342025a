//! The OpenID Connect provider's decoders on arbitrary bytes: the form parameters of the token and
//! authorization endpoints, the authorization request's checks, the client's credentials (HTTP Basic
//! header or client assertion) and the client assertion's JWT checks. Refused with an OAuth error,
//! never a panic.
#![no_main]
use jpki_platform::oidc::authorization;
use jpki_platform::oidc::client_auth::{verify_assertion, Credentials};
use jpki_platform::oidc::clients::{AuthMethod, Client};
use jpki_platform::oidc::params::Params;
use jpki_platform::oidc::scope::Scopes;
use libfuzzer_sys::fuzz_target;

fn client() -> Client {
    Client {
        client_id: "rp1".into(),
        client_name: "RP".into(),
        redirect_uris: vec!["https://rp.example/cb".into()],
        scope: Scopes::parse("openid name address birthdate gender", "x").unwrap(),
        token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
        jwks: Some(serde_json::json!({ "keys": [{ "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] })),
        client_id_issued_at: 0,
        tenant_id: "t".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let client = client();
    if let Ok(params) = Params::parse(text) {
        let _ = authorization::client_id(&params);
        let _ = authorization::check(&params, &client);
        let _ = Credentials::from_request(None, &params);
        let _ = Credentials::from_request(Some(text), &params);
    }
    let _ = Credentials::from_request(Some(&format!("Basic {text}")), &Params::default());
    let _ = verify_assertion(&client, text, &["https://op.example/token"], time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
    let _ = authorization::AcrValues::parse(text);
});
