//! The OpenID Connect provider end to end against `jpki serve --sandbox`, as an RP sees it: discovery,
//! the authorization request and its page, the sandbox test-person picker, the token endpoint with
//! `private_key_jwt` and `client_secret_basic`, userinfo with the 4 info, refresh-token rotation,
//! logout, metering; and each refusal with the error RFC 6749 or OpenID Connect gives it. On SQLite
//! and, when configured, PostgreSQL.

mod common;

use base64::Engine;
use common::{Sandbox, Server, ADMIN_TOKEN};
use serde_json::{json, Value};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7636 Appendix B: BASE64URL(SHA256(VERIFIER)).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const AUTH: &str = "/api/realms/main/protocol/openid-connect/auth";
const TOKEN: &str = "/api/realms/main/protocol/openid-connect/token";
const USERINFO: &str = "/api/realms/main/protocol/openid-connect/userinfo";

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The query parameters of a URL.
fn query_of(url: &str) -> std::collections::BTreeMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let mut bytes = Vec::new();
            let raw = v.replace('+', " ");
            let mut it = raw.bytes();
            while let Some(b) = it.next() {
                if b == b'%' {
                    let hex: String = [it.next().unwrap(), it.next().unwrap()].iter().map(|&c| char::from(c)).collect();
                    bytes.push(u8::from_str_radix(&hex, 16).unwrap());
                } else {
                    bytes.push(b);
                }
            }
            (k.to_owned(), String::from_utf8(bytes).unwrap())
        })
        .collect()
}

struct Rp {
    client_id: String,
    key: jpki_crypto::EcKey,
    token_endpoint: String,
}

impl Rp {
    /// Registers a `private_key_jwt` client of the tenant with a fresh P-256 key.
    fn register(server: &Server, api_key: &str, name: &str, scope: &str) -> Rp {
        let key = jpki_crypto::EcKey::generate_p256().unwrap();
        let point = key.public_point();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({ "kty": "EC", "crv": "P-256", "kid": "rp-key-1", "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) });
        let registration = json!({ "client_name": name, "redirect_uris": [REDIRECT], "scope": scope, "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [jwk] } });
        let (status, client) = server.post_json("/v1/oidc/clients", Some(api_key), &registration.to_string());
        assert_eq!(status, 201, "{client}");
        let token_endpoint = format!("http://{}{TOKEN}", server.addr);
        Rp { client_id: client["client_id"].as_str().unwrap().to_owned(), key, token_endpoint }
    }

    /// A fresh client assertion (RFC 7523 §3), or one with `claims` changed.
    fn assertion_with(&self, change: impl FnOnce(&mut Value)) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let jti = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jpki_crypto::random_bytes::<16>());
        let mut claims = json!({ "iss": self.client_id, "sub": self.client_id, "aud": self.token_endpoint, "jti": jti, "iat": now, "exp": now + 60 });
        change(&mut claims);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("rp-key-1".into());
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(self.key.pkcs8_der())).unwrap()
    }

    fn assertion(&self) -> String {
        self.assertion_with(|_| {})
    }
}

/// `jwt` with one character of its signature changed (not the last, whose low bits base64 may ignore).
fn tampered(jwt: &str) -> String {
    let at = jwt.rfind('.').unwrap() + 5;
    let swapped = if &jwt[at..=at] == "A" { "B" } else { "A" };
    format!("{}{swapped}{}", &jwt[..at], &jwt[at + 1..])
}

fn token_request(server: &Server, fields: &[(&str, &str)], basic: Option<&str>) -> (u16, Vec<(String, String)>, Value) {
    let auth = basic.map(|b| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(b)));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let (status, fields, body) = server.exchange("POST", TOKEN, &headers, form(fields).as_bytes());
    (status, fields, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn redeem(server: &Server, rp: &Rp, code: &str, verifier: &str) -> (u16, Value) {
    let assertion = rp.assertion();
    let (status, _, body) = token_request(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ],
        None,
    );
    (status, body)
}

/// An authorization request's query, with `changes` applied (a `None` value leaves the parameter out).
fn authorize_query(client_id: &str, scope: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(client_id)),
        ("redirect_uri", Some(REDIRECT)),
        ("scope", Some(scope)),
        ("state", Some("state-1")),
        ("nonce", Some("nonce-1")),
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
    ];
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        pairs.push((name, *value));
    }
    form(&pairs.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))).collect::<Vec<_>>())
}

/// A transaction's page, as the browser reaches it: its path, its cookie, its form token and its HTML.
struct Page {
    path: String,
    cookie: String,
    csrf: String,
    html: String,
    csp: String,
}

fn open_page(server: &Server, query: &str) -> Page {
    let (status, fields, body) = server.exchange("GET", &format!("{AUTH}?{query}"), &[("Accept-Language", "ja")], b"");
    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&body));
    let location = header(&fields, "location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{AUTH}/authz_")) && location.ends_with("?lang=ja"), "{location}");
    let set_cookie = header(&fields, "set-cookie").unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let path = location.split('?').next().unwrap().to_owned();
    let (status, fields, body) = server.exchange("GET", &location, &[("Cookie", &cookie)], b"");
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{html}");
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    Page { path, cookie, csrf, html, csp: header(&fields, "content-security-policy").unwrap().to_owned() }
}

fn post_form(server: &Server, path: &str, cookie: Option<&str>, body: &str) -> (u16, Option<String>, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    let (status, fields, body) = server.exchange("POST", path, &headers, body.as_bytes());
    (status, header(&fields, "location").map(str::to_owned), String::from_utf8_lossy(&body).into_owned())
}

/// Answers the page as `person` with `outcome`; the redirect's query.
fn pick(server: &Server, page: &Page, person: &str, outcome: &str) -> std::collections::BTreeMap<String, String> {
    let (status, location, body) =
        post_form(server, &format!("{}/sandbox", page.path), Some(&page.cookie), &form(&[("csrf", &page.csrf), ("person", person), ("outcome", outcome)]));
    assert_eq!(status, 303, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    query_of(&location)
}

#[test]
fn an_rp_logs_in_users_through_the_provider() {
    common::on_every_database("an_rp_logs_in_users_through_the_provider", run);
}

fn run(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("認証　花子", "1985-04-01");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let issuer = format!("http://{}/api/realms/main", server.addr);

    // Discovery names the endpoints at the Digital Authentication App's relative paths.
    let (status, discovery) = server.get_json("/api/realms/main/.well-known/openid-configuration", None);
    assert_eq!(status, 200, "{label}");
    assert_eq!(discovery["issuer"], json!(issuer), "{label}");
    assert_eq!(discovery["token_endpoint"], json!(format!("{issuer}/protocol/openid-connect/token")), "{label}");
    assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]), "{label}");
    assert_eq!(discovery["authorization_response_iss_parameter_supported"], json!(true), "{label}");

    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"RP"}"#);
    let api_key = tenant["api_key"].as_str().unwrap();
    let rp = Rp::register(&server, api_key, "テスト RP", "openid name address birthdate gender");
    let scope = "openid name address birthdate gender";

    // The page: the client, what it asks for, the sandbox picker, a policy posting only to itself and
    // the RP.
    let page = open_page(&server, &authorize_query(&rp.client_id, scope, &[]));
    assert!(page.html.contains("テスト RP") && page.html.contains("認証　花子") && page.html.contains("氏名"), "{label}: {}", page.html);
    assert!(page.csp.contains("form-action 'self' http://127.0.0.1:9") && !page.csp.contains("script-src"), "{label}: {}", page.csp);

    // Answers that do not come from the page are refused, and leave the transaction pending.
    let answer = form(&[("csrf", &page.csrf), ("person", &person), ("outcome", "normal")]);
    let (status, _, body) = post_form(&server, &format!("{}/sandbox", page.path), None, &answer);
    assert_eq!(status, 403, "{label}: no cookie: {body}");
    let forged = form(&[("csrf", "forged"), ("person", &person), ("outcome", "normal")]);
    let (status, _, _) = post_form(&server, &format!("{}/sandbox", page.path), Some(&page.cookie), &forged);
    assert_eq!(status, 403, "{label}: a forged form token");

    // The picker answers as the person: a code, the state, and the issuer (RFC 9207).
    let answer = pick(&server, &page, &person, "normal");
    assert_eq!((answer["state"].as_str(), answer["iss"].as_str()), ("state-1", issuer.as_str()), "{label}: {answer:?}");
    let code = answer["code"].clone();
    let (status, _, _) =
        post_form(&server, &format!("{}/sandbox", page.path), Some(&page.cookie), &form(&[("csrf", &page.csrf), ("person", &person), ("outcome", "normal")]));
    assert_eq!(status, 410, "{label}: a transaction is answered once");

    // A wrong PKCE verifier uses the code up and gets nothing.
    let (status, refused) = redeem(&server, &rp, &code, "wrong-verifier-wrong-verifier-wrong-verifier-1234");
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{label}: {refused}");
    assert!(refused["error_description"].as_str().unwrap().contains("code_verifier"), "{label}: {refused}");
    let (status, refused) = redeem(&server, &rp, &code, VERIFIER);
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{label}: the code was used: {refused}");

    // A second login: tokens, the ID token verified with the published keys.
    let page = open_page(&server, &authorize_query(&rp.client_id, scope, &[]));
    let code = pick(&server, &page, &person, "normal")["code"].clone();
    let (status, tokens) = redeem(&server, &rp, &code, VERIFIER);
    assert_eq!(status, 200, "{label}: {tokens}");
    let (_, jwks) = server.get_json("/api/realms/main/protocol/openid-connect/certs", None);
    let published: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[&rp.client_id]);
    validation.set_issuer(&[&issuer]);
    let claims =
        jsonwebtoken::decode::<Value>(id_token, &jsonwebtoken::DecodingKey::from_jwk(published.find(&kid).unwrap()).unwrap(), &validation).unwrap().claims;
    assert_eq!((&claims["nonce"], &claims["acr"], &claims["amr"]), (&json!("nonce-1"), &json!("aal3"), &json!(["sandbox"])), "{label}: {claims}");
    assert!(claims["auth_time"].as_i64().is_some() && claims["sub"].as_str().is_some_and(|s| s.len() == 43), "{label}: {claims}");

    // Userinfo: the 4 info the scopes asked for, from the verified signature certificate.
    let access = tokens["access_token"].as_str().unwrap();
    let (status, info) = server.get_json(USERINFO, Some(access));
    assert_eq!(status, 200, "{label}: {info}");
    assert_eq!(info["sub"], claims["sub"], "{label}");
    assert_eq!((&info["name"], &info["birthdate"], &info["gender"]), (&json!("認証　花子"), &json!("1985-04-01"), &json!("female")), "{label}: {info}");
    assert_eq!(info["address"]["formatted"], json!("東京都千代田区霞が関２－１－２"), "{label}: {info}");

    // A refresh rotates the refresh token; the replaced one used again revokes the login's tokens.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = |token: &str| {
        let assertion = rp.assertion();
        token_request(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", &assertion),
            ],
            None,
        )
    };
    let (status, fields, renewed) = refreshed(refresh);
    assert_eq!(status, 200, "{label}: {renewed}");
    assert_eq!(header(&fields, "cache-control"), Some("no-store"), "{label}");
    assert_ne!(renewed["refresh_token"].as_str(), Some(refresh), "{label}");
    let (status, _, again) = refreshed(refresh);
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")), "{label}: {again}");
    let (status, _, _) = refreshed(renewed["refresh_token"].as_str().unwrap());
    assert_eq!(status, 400, "{label}: after a reuse, the new refresh token is revoked too");
    let (status, _) = server.get_json(USERINFO, renewed["access_token"].as_str());
    assert_eq!(status, 401, "{label}: and the new access token");

    // A client assertion is used once, names the token endpoint, and is signed by the client's key.
    let assertion = rp.assertion();
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let code = pick(&server, &page, &person, "normal")["code"].clone();
    let grant = |assertion: &str| {
        token_request(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ],
            None,
        )
    };
    for (bad, why) in [
        (rp.assertion_with(|c| c["aud"] = json!("https://elsewhere.example/token")), "aud"),
        (rp.assertion_with(|c| c["exp"] = json!(1_000_000_000)), "expired"),
        (rp.assertion_with(|c| c["exp"] = json!(4_000_000_000u64)), "too long"),
        (rp.assertion_with(|c| c.as_object_mut().unwrap().remove("jti").map(|_| ()).unwrap()), "jti"),
        (tampered(&assertion), "signature"),
    ] {
        let (status, _, body) = grant(&bad);
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{label}: {why}: {body}");
        assert!(body["error_description"].as_str().unwrap().contains(why), "{label}: {why}: {body}");
    }
    let (status, _, body) = grant(&assertion);
    assert_eq!(status, 200, "{label}: {body}");
    let (status, _, body) = grant(&assertion);
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{label}: a replayed assertion: {body}");
    assert!(body["error_description"].as_str().unwrap().contains("jti"), "{label}: {body}");

    // Errors about the client or its redirect URI are shown, never sent; the others go to the RP.
    for (changes, why) in [
        (vec![("client_id", Some("nobody"))], "not registered"),
        (vec![("redirect_uri", Some("http://127.0.0.1:9/other"))], "not registered"),
        (vec![("redirect_uri", None)], "redirect_uri is required"),
    ] {
        let (status, _, body) = server.exchange("GET", &format!("{AUTH}?{}", authorize_query(&rp.client_id, "openid", &changes)), &[], b"");
        let html = String::from_utf8(body).unwrap();
        assert_eq!(status, 400, "{label}: {why}: {html}");
        assert!(html.contains(why), "{label}: {why}: {html}");
    }
    for (changes, error, why) in [
        (vec![("nonce", None)], "invalid_request", "nonce is required"),
        (vec![("code_challenge_method", Some("plain"))], "invalid_request", "only S256"),
        (vec![("code_challenge", None)], "invalid_request", "code_challenge is required"),
        (vec![("response_type", Some("token"))], "unsupported_response_type", "only code"),
        (vec![("scope", Some("openid sign"))], "invalid_scope", "may ask only"),
    ] {
        let (status, fields, _) = server.exchange("GET", &format!("{AUTH}?{}", authorize_query(&rp.client_id, "openid", &changes)), &[], b"");
        assert_eq!(status, 303, "{label}: {why}");
        let sent = query_of(header(&fields, "location").unwrap());
        assert_eq!((sent["error"].as_str(), sent["state"].as_str(), sent["iss"].as_str()), (error, "state-1", issuer.as_str()), "{label}: {sent:?}");
        assert!(sent["error_description"].contains(why), "{label}: {sent:?}");
    }

    // Declining, and the picker's error outcome: access_denied at the RP, nothing issued.
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let (status, location, _) = post_form(&server, &format!("{}/decline", page.path), Some(&page.cookie), &form(&[("csrf", &page.csrf)]));
    assert_eq!(status, 303, "{label}");
    assert_eq!(query_of(&location.unwrap())["error"], "access_denied", "{label}");
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let sent = pick(&server, &page, &person, "error");
    assert_eq!((sent["error"].as_str(), sent.get("code")), ("access_denied", None), "{label}: {sent:?}");

    // After a move the signature certificate is revoked: the 4 info cannot be given, and the login
    // ends in access_denied saying why.
    sb.ok(&["sandbox", "event", "move", "--person", &person, "--address", "大阪府大阪市北区梅田１"]);
    let page = open_page(&server, &authorize_query(&rp.client_id, scope, &[]));
    let sent = pick(&server, &page, &person, "normal");
    assert_eq!(sent["error"], "access_denied", "{label}: {sent:?}");
    assert!(sent["error_description"].contains("signature certificate is not valid (revoked)"), "{label}: {sent:?}");

    // A card reported lost: its certificates are on hold and the person is no longer offered.
    sb.ok(&["sandbox", "event", "lost", "--person", &person, "--device", "card"]);
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    assert!(!page.html.contains("認証　花子"), "{label}: a person without a card in use is not offered");
    let (status, location, _) =
        post_form(&server, &format!("{}/sandbox", page.path), Some(&page.cookie), &form(&[("csrf", &page.csrf), ("person", &person), ("outcome", "normal")]));
    assert_eq!(status, 303, "{label}");
    let sent = query_of(&location.unwrap());
    assert_eq!(sent["error"], "access_denied", "{label}: {sent:?}");
    assert!(sent["error_description"].contains("no authentication certificate"), "{label}: {sent:?}");

    // The tenant's usage counts the logins' certificate checks like the JSON API's, failed ones too:
    // four authentication-certificate checks (three logins, and the one whose 4 info were refused),
    // three signature-certificate ones (two logins with the 4 info, and the revoked one).
    let (_, usage) = server.get_json("/v1/usage", Some(api_key));
    let count =
        |kind: &str| -> i64 { usage["usage"].as_array().unwrap().iter().filter(|u| u["cert_kind"] == kind).map(|u| u["count"].as_i64().unwrap()).sum() };
    assert_eq!((count("authentication"), count("signature")), (4, 3), "{label}: {usage}");
    sb.ok(&["audit", "verify"]);
}

#[test]
fn a_client_with_a_secret_and_rp_initiated_logout() {
    common::on_every_database("a_client_with_a_secret_and_rp_initiated_logout", run_secret);
}

fn run_secret(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("秘密　太郎", "1990-10-10");
    sb.issue_card(&person, "card");
    let server = sb.serve();
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"RP"}"#);
    let registration = json!({ "client_name": "Secret RP", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic" });
    let (_, client) = server.post_json("/v1/oidc/clients", tenant["api_key"].as_str(), &registration.to_string());
    let (id, secret) = (client["client_id"].as_str().unwrap(), client["client_secret"].as_str().unwrap());

    let page = open_page(&server, &authorize_query(id, "openid", &[]));
    let code = pick(&server, &page, &person, "normal")["code"].clone();
    let fields = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)];
    let (status, headers, body) = token_request(&server, &fields, Some(&format!("{id}:wrong")));
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{label}: {body}");
    assert!(header(&headers, "www-authenticate").is_some_and(|h| h.starts_with("Basic")), "{label}: {headers:?}");
    let (status, _, body) = token_request(&server, &fields, None);
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{label}: no client authentication: {body}");
    let (status, _, tokens) = token_request(&server, &fields, Some(&format!("{id}:{secret}")));
    assert_eq!(status, 200, "{label}: {tokens}");
    let (status, _, body) = token_request(&server, &[("grant_type", "password"), ("username", "x")], Some(&format!("{id}:{secret}")));
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")), "{label}: {body}");

    // Logout with the ID token as hint: the login's tokens are revoked, the browser sent back.
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(server.get_json(USERINFO, Some(access)).0, 200, "{label}");
    let query = form(&[("id_token_hint", tokens["id_token"].as_str().unwrap()), ("post_logout_redirect_uri", REDIRECT), ("state", "bye")]);
    let (status, headers, _) = server.exchange("GET", &format!("/api/realms/main/protocol/openid-connect/logout?{query}"), &[], b"");
    assert_eq!(status, 303, "{label}");
    assert_eq!(header(&headers, "location"), Some(format!("{REDIRECT}?state=bye").as_str()), "{label}");
    let (status, headers, _) = server.exchange("GET", USERINFO, &[("Authorization", &format!("Bearer {access}"))], b"");
    assert_eq!(status, 401, "{label}");
    assert!(header(&headers, "www-authenticate").is_some_and(|h| h.contains("invalid_token")), "{label}: {headers:?}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, _, _) = token_request(&server, &[("grant_type", "refresh_token"), ("refresh_token", refresh)], Some(&format!("{id}:{secret}")));
    assert_eq!(status, 400, "{label}: the refresh token is revoked");
    let (status, _, body) =
        server.exchange("GET", "/api/realms/main/protocol/openid-connect/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", &[], b"");
    assert_eq!(status, 400, "{label}: {}", String::from_utf8_lossy(&body));
}

/// The companion app's view of a transaction's page: the QR code, its payload, and the page reloading
/// itself; the payload.
fn app_view(server: &Server, page: &Page) -> String {
    let (status, fields, body) = server.exchange("GET", &format!("{}/app?lang=en", page.path), &[("Cookie", &page.cookie)], b"");
    // The template escapes as HTML does; the attribute and text values read back.
    let html = String::from_utf8(body).unwrap().replace("&#x2f;", "/").replace("&#x27;", "'").replace("&amp;", "&");
    assert_eq!(status, 200, "{html}");
    assert_eq!(header(&fields, "refresh"), Some("2"), "the view polls");
    assert!(html.contains(&format!("src=\"{}/qr.svg\"", page.path)), "{html}");
    let (status, fields, svg) = server.exchange("GET", &format!("{}/qr.svg", page.path), &[("Cookie", &page.cookie)], b"");
    assert_eq!((status, header(&fields, "content-type")), (200, Some("image/svg+xml")));
    assert!(String::from_utf8_lossy(&svg).contains("<svg"), "the QR code is an SVG");
    assert_eq!(server.exchange("GET", &format!("{}/qr.svg", page.path), &[], b"").0, 403, "only the browser that began it gets the QR code");
    let payload = html.split("readonly rows=\"3\">").nth(1).unwrap().split("</textarea>").next().unwrap().to_owned();
    assert!(payload.contains("/protocol/openid-connect/app#transaction="), "{payload}");
    payload
}

/// The page, polled after the app answered: the redirect's query.
fn polled(server: &Server, page: &Page) -> std::collections::BTreeMap<String, String> {
    let (status, fields, body) = server.exchange("GET", &format!("{}/app", page.path), &[("Cookie", &page.cookie)], b"");
    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&body));
    let location = header(&fields, "location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    query_of(location)
}

fn approve<'a>(payload: &'a str, source: &'a [&'a str], pins: &'a [&'a str]) -> Vec<&'a str> {
    [&["app", "approve", payload][..], source, pins].concat()
}

#[test]
fn a_card_and_a_phone_answer_through_the_companion_app_and_sign() {
    common::on_every_database("a_card_and_a_phone_answer_through_the_companion_app_and_sign", run_app);
}

fn run_app(sb: &Sandbox) {
    let label = sb.label();
    sb.ok(&["sandbox", "init"]);
    let person = sb.add_person("署名　次郎", "1975-07-07");
    sb.issue_card(&person, "card");
    sb.ok(&common::phone_issue("card", "phone", "1234"));
    let server = sb.serve();
    let issuer = format!("http://{}/api/realms/main", server.addr);
    let (_, tenant) = server.post_json("/v1/admin/tenants", Some(ADMIN_TOKEN), r#"{"name":"RP"}"#);
    let api_key = tenant["api_key"].as_str().unwrap();
    let rp = Rp::register(&server, api_key, "署名 RP", "openid name address birthdate gender sign");
    let card: &[&str] = &["--card", "card"];
    let card_pins: &[&str] = &["--approve", "--pin", "1234", "--sign-pin", "ABC123"];

    // A login with the card through the app: the page's QR payload, the PINs, the page moving on.
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid name birthdate", &[]));
    assert!(page.html.contains("/app?lang=ja"), "{label}: the page offers the app: {}", page.html);
    let payload = app_view(&server, &page);
    let (status, _, body) = server.exchange("GET", &format!("{}/app", page.path), &[("Cookie", &page.cookie)], b"");
    assert_eq!(status, 200, "{label}: waiting: {}", String::from_utf8_lossy(&body));
    // Wrong keys and PINs get nothing, and leave the transaction answerable.
    let forged = payload.replace("key=", "key=x");
    let err = sb.fails(&approve(&forged, card, card_pins));
    assert!(err.contains("scan it again"), "{label}: {err}");
    let err = sb.fails(&approve(&payload, card, &["--approve", "--pin", "9999", "--sign-pin", "ABC123"]));
    assert!(err.to_lowercase().contains("pin"), "{label}: {err}");
    let err = sb.fails(&approve(&payload, card, &["--pin", "1234"]));
    assert!(err.contains("--approve or --decline"), "{label}: no terminal to ask on: {err}");
    let out = sb.ok(&approve(&payload, card, card_pins));
    assert!(out.contains("approved"), "{label}: {out}");
    let err = sb.fails(&approve(&payload, card, card_pins));
    assert!(err.contains("already answered"), "{label}: answered once: {err}");
    let sent = polled(&server, &page);
    assert_eq!((sent["state"].as_str(), sent["iss"].as_str()), ("state-1", issuer.as_str()), "{label}: {sent:?}");
    let (status, tokens) = redeem(&server, &rp, &sent["code"], VERIFIER);
    assert_eq!(status, 200, "{label}: {tokens}");
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(tokens["id_token"].as_str().unwrap()).unwrap().claims;
    assert_eq!(claims["amr"], json!(["hwk", "pin", "sc"]), "{label}: {claims}");
    let (_, info) = server.get_json(USERINFO, tokens["access_token"].as_str());
    assert_eq!((&info["name"], &info["birthdate"], info.get("address")), (&json!("署名　次郎"), &json!("1975-07-07"), None), "{label}: {info}");

    // The phone: its smartphone JPKI keys; only the authentication PIN for a login without the 4 info.
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let payload = app_view(&server, &page);
    sb.ok(&approve(&payload, &["--phone", "phone"], &["--approve", "--pin", "4321"]));
    let (status, tokens) = redeem(&server, &rp, &polled(&server, &page)["code"], VERIFIER);
    assert_eq!(status, 200, "{label}: {tokens}");
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(tokens["id_token"].as_str().unwrap()).unwrap().claims;
    assert_eq!(claims["amr"], json!(["hwk", "pin"]), "{label}: {claims}");

    // Declined in the app: access_denied at the RP.
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    sb.ok(&approve(&app_view(&server, &page), card, &["--decline"]));
    let sent = polled(&server, &page);
    assert_eq!((sent["error"].as_str(), sent.get("code")), ("access_denied", None), "{label}: {sent:?}");

    // A sign transaction: a client-credentials token creates it over the document's SHA-256.
    let client_auth = |extra: &[(&str, &str)]| {
        let assertion = rp.assertion();
        let mut fields = vec![("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", assertion.as_str())];
        fields.extend_from_slice(extra);
        token_request(&server, &fields, None).2
    };
    let client_token = client_auth(&[("grant_type", "client_credentials")]);
    assert_eq!(client_token["scope"], json!("sign"), "{label}: {client_token}");
    let client_token = client_token["access_token"].as_str().unwrap().to_owned();
    let document = "口座開設申込書 2026-12-04\n";
    std::fs::write(sb.path("document.txt"), document).unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(jpki_crypto::sha256(document.as_bytes()));
    let create = |body: Value, token: Option<&str>| server.post_json("/api/sign-transactions", token, &body.to_string());
    let (status, created) = create(json!({ "purpose": "口座開設申込書への署名", "hash": hash }), Some(&client_token));
    assert_eq!(status, 201, "{label}: {created}");
    let sign_id = created["sign_transaction_id"].as_str().unwrap().to_owned();
    assert_eq!(sign_id.len(), 36, "{label}: a UUID: {sign_id}");
    for (body, why) in [
        (json!({ "purpose": "x", "hash": "AAAA" }), "3 bytes"),
        (json!({ "purpose": "x", "hash": hash, "digest_info": hash }), "exactly one"),
        (json!({ "purpose": "x", "digest_info": hash }), "not DER"),
        (json!({ "purpose": "", "hash": hash }), "purpose"),
    ] {
        let (status, refused) = create(body, Some(&client_token));
        assert_eq!(status, 400, "{label}: {why}: {refused}");
        assert!(refused.to_string().contains(why), "{label}: {why}: {refused}");
    }
    let (status, refused) = create(json!({ "purpose": "x", "hash": hash }), tokens["access_token"].as_str());
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_token")), "{label}: a user's token does not create one: {refused}");

    // The picker cannot sign; unknown transactions are refused at the RP.
    let sign_query = |id: &str| authorize_query(&rp.client_id, "openid sign", &[("sign_transaction_id", Some(id))]);
    let (status, fields, _) = server.exchange("GET", &format!("{AUTH}?{}", sign_query("00000000-0000-4000-8000-000000000000")), &[], b"");
    assert_eq!(status, 303, "{label}");
    let sent = query_of(header(&fields, "location").unwrap());
    assert!(sent["error"] == "invalid_request" && sent["error_description"].contains("names no sign transaction"), "{label}: {sent:?}");
    let page = open_page(&server, &sign_query(&sign_id));
    assert!(page.html.contains("口座開設申込書への署名") && !page.html.contains("name=\"person\""), "{label}: {}", page.html);
    let (status, fields, _) = server.exchange("GET", &format!("{AUTH}?{}", sign_query(&sign_id)), &[], b"");
    assert_eq!(status, 303, "{label}");
    assert!(query_of(header(&fields, "location").unwrap())["error_description"].contains("names no sign transaction"), "{label}: sent once");

    // The user signs with the card; the RP fetches the signature with the login's access token.
    sb.ok(&approve(&app_view(&server, &page), card, card_pins));
    let (status, tokens) = redeem(&server, &rp, &polled(&server, &page)["code"], VERIFIER);
    assert_eq!(status, 200, "{label}: {tokens}");
    let result_path = format!("/api/sign-transactions/{sign_id}/result");
    assert_eq!(server.get_json(&result_path, None).0, 401, "{label}");
    let (status, refused) = server.get_json(&result_path, Some(&client_token));
    assert_eq!(status, 401, "{label}: a client token is not the user's: {refused}");
    let (status, result) = server.get_json(&result_path, tokens["access_token"].as_str());
    assert_eq!(status, 200, "{label}: {result}");
    assert_eq!(result["verification"]["valid"], json!(true), "{label}: {result}");
    assert!(result["verification"]["revocation"].is_object(), "{label}: {result}");
    let decode = |field: &str| base64::engine::general_purpose::STANDARD.decode(result[field].as_str().unwrap()).unwrap();
    std::fs::write(sb.path("sig.bin"), decode("signature")).unwrap();
    std::fs::write(sb.path("cert.der"), decode("certificate")).unwrap();
    std::fs::write(sb.path("sig.p7s"), decode("cms")).unwrap();
    if common::openssl_available("sign transactions verified by openssl") {
        let p = |f: &str| sb.path(f).to_str().unwrap().to_owned();
        let pubkey = common::openssl(&["x509", "-inform", "DER", "-in", &p("cert.der"), "-pubkey", "-noout"]);
        std::fs::write(sb.path("pub.pem"), pubkey).unwrap();
        let out = common::openssl(&["dgst", "-sha256", "-verify", &p("pub.pem"), "-signature", &p("sig.bin"), &p("document.txt")]);
        assert!(out.contains("Verified OK"), "{label}: {out}");
        let ca = sb.data().join("trust/sign-ca.pem");
        let out = common::openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &p("sig.p7s"),
            "-content",
            &p("document.txt"),
            "-CAfile",
            ca.to_str().unwrap(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ]);
        assert!(out.contains("Verification successful"), "{label}: {out}");
    }
    let other_login = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    sb.ok(&approve(&app_view(&server, &other_login), card, card_pins));
    let (_, other) = redeem(&server, &rp, &polled(&server, &other_login)["code"], VERIFIER);
    let (status, refused) = server.get_json(&result_path, other["access_token"].as_str());
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_request")), "{label}: another login's token: {refused}");

    // Metered: each app login's checks, and the signature.
    let (_, usage) = server.get_json("/v1/usage", Some(api_key));
    let count =
        |kind: &str| -> i64 { usage["usage"].as_array().unwrap().iter().filter(|u| u["cert_kind"] == kind).map(|u| u["count"].as_i64().unwrap()).sum() };
    assert_eq!((count("authentication"), count("signature")), (4, 2), "{label}: {usage}");

    // An answer with a certificate that is not one: 422, and the RP is told access_denied.
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let fragment = query_of(&app_view(&server, &page).replace('#', "?"));
    let garbage = base64::engine::general_purpose::STANDARD.encode(b"not a certificate");
    let answer = json!({ "transaction": fragment["transaction"], "key": fragment["key"], "decision": "approve",
        "authentication_certificate": garbage, "authentication_signature": garbage });
    let (status, refused) = server.post_json("/api/realms/main/protocol/openid-connect/app/answer", None, &answer.to_string());
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("login_failed")), "{label}: {refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("malformed"), "{label}: {refused}");
    assert_eq!(polled(&server, &page)["error"], "access_denied", "{label}");

    // A card reported lost: its authentication certificate is on hold, the app's answer is refused
    // and the RP told access_denied with the reason.
    sb.ok(&["sandbox", "event", "lost", "--person", &person, "--device", "card"]);
    let page = open_page(&server, &authorize_query(&rp.client_id, "openid", &[]));
    let err = sb.fails(&approve(&app_view(&server, &page), card, card_pins));
    assert!(err.contains("authentication certificate is not valid"), "{label}: {err}");
    let sent = polled(&server, &page);
    assert_eq!((sent["error"].as_str(), sent.get("code")), ("access_denied", None), "{label}: {sent:?}");
    assert!(sent["error_description"].contains("authentication certificate is not valid"), "{label}: {sent:?}");
    sb.ok(&["audit", "verify"]);
}
