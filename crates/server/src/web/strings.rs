//! What the pages say, in each language they are served in: one table per language, the same keys.

use serde::Serialize;

/// A language the pages are served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 tag.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The language's name in itself, for the language switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ja => "日本語",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| code.eq_ignore_ascii_case(l.code()) || code.to_ascii_lowercase().starts_with(&format!("{}-", l.code())))
    }

    /// The language a request asks for: `?lang=` first, then the preferred of `Accept-Language`
    /// (RFC 9110 §12.5.4, by q-value), English when neither names one of ours.
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_code) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for range in accept_language.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let Some(lang) = parts.next().and_then(Lang::from_code) else { continue };
            let q = parts.find_map(|p| p.strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    pub fn strings(self) -> &'static Strings {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

#[derive(Serialize)]
pub struct Strings {
    pub language_nav: &'static str,
    pub intro: &'static str,
    pub endpoints: &'static str,
    pub openapi: &'static str,
    pub health: &'static str,
    pub metrics: &'static str,
    pub sandbox: &'static str,
    pub sandbox_notice: &'static str,
    pub sandbox_explained: &'static str,
    pub crls: &'static str,
    pub ocsp: &'static str,
    pub latest: &'static str,
    pub status_list: &'static str,
    pub authorize_title: &'static str,
    pub authorize_asks_before: &'static str,
    pub authorize_asks_after: &'static str,
    pub authorize_scopes: &'static str,
    pub scope_openid: &'static str,
    pub scope_name: &'static str,
    pub scope_address: &'static str,
    pub scope_birthdate: &'static str,
    pub scope_gender: &'static str,
    pub scope_sign: &'static str,
    pub authorize_four_info: &'static str,
    pub authorize_expires: &'static str,
    pub picker_title: &'static str,
    pub picker_explained: &'static str,
    pub picker_person: &'static str,
    pub picker_outcome: &'static str,
    pub picker_normal: &'static str,
    pub picker_error: &'static str,
    pub picker_submit: &'static str,
    pub picker_nobody: &'static str,
    pub decline: &'static str,
    pub sign_purpose: &'static str,
    pub app_title: &'static str,
    pub app_lead: &'static str,
    pub app_start: &'static str,
    pub app_step_scan: &'static str,
    pub app_step_pin: &'static str,
    pub app_step_pins_signature: &'static str,
    pub app_step_wait: &'static str,
    pub app_qr_alt: &'static str,
    pub app_payload: &'static str,
    pub app_waiting: &'static str,
    pub error_title: &'static str,
    pub error_lead: &'static str,
    pub signed_out_title: &'static str,
    pub signed_out_lead: &'static str,
}

const EN: Strings = Strings {
    language_nav: "Language",
    intro: "An open-source platform for Japan's My Number Card (JPKI): it verifies signatures made with the card's or a smartphone's signature certificate, logins with the authentication certificate, and presentations of the card-substitute record, for the relying parties (tenants) of a platform operator.",
    endpoints: "Endpoints",
    openapi: "the API, as an OpenAPI 3.1 document; tenants authenticate with their API key",
    health: "health",
    metrics: "Prometheus metrics",
    sandbox: "Sandbox issuer",
    sandbox_notice: "This server runs the sandbox:",
    sandbox_explained: "a simulated J-LIS whose certificates are for testing only.",
    crls: "the CAs' published CRLs, listed (auth.crl, and the signature CA's per municipality, DER)",
    ocsp: "the OCSP responder (RFC 6960)",
    latest: "the latest 4 information for platform operators, with the holder's consent",
    status_list: "the card-substitute records' status list",
    authorize_title: "Log in with your My Number Card",
    authorize_asks_before: "",
    authorize_asks_after: " asks to confirm who you are.",
    authorize_scopes: "What it asks for",
    scope_openid: "an identifier of you for this service (not your My Number)",
    scope_name: "your name",
    scope_address: "your address",
    scope_birthdate: "your date of birth",
    scope_gender: "your sex",
    scope_sign: "your signature on a document",
    authorize_four_info: "Your name, address, date of birth and sex are read from your signature certificate: you approve them with its password.",
    authorize_expires: "This request expires at",
    picker_title: "Sandbox: answer as a test person",
    picker_explained: "Instead of a card, choose one of the sandbox's test persons and the outcome the service should receive. This choice does not exist on a production server.",
    picker_person: "Test person",
    picker_outcome: "Outcome",
    picker_normal: "Normal: log in as this person",
    picker_error: "Error: the login fails",
    picker_submit: "Answer as this person",
    picker_nobody: "The sandbox has no test person with a card yet: issue one with jpki sandbox.",
    decline: "Decline",
    sign_purpose: "Document to sign:",
    app_title: "Use your card or phone",
    app_lead: "The companion app (jpki app) reads your My Number Card or your phone's JPKI and answers this request.",
    app_start: "Show the QR code for the app",
    app_step_scan: "Scan the QR code with the companion app, or give it the text below.",
    app_step_pin: "Check what is asked and enter your user authentication PIN (4 digits) in the app.",
    app_step_pins_signature: "Check what is asked and enter your user authentication PIN and your signature password in the app.",
    app_step_wait: "This page moves on by itself once you have answered.",
    app_qr_alt: "QR code for the companion app (its text is below)",
    app_payload: "The QR code's text",
    app_waiting: "Waiting for your answer in the app; this page reloads every two seconds. The request expires at",
    error_title: "The login cannot continue",
    error_lead: "The service sent a request this server cannot take. Go back to the service and try again; if it happens again, tell the service.",
    signed_out_title: "You are signed out",
    signed_out_lead: "The service's tokens for this login are revoked. You can close this page.",
};

const JA: Strings = Strings {
    language_nav: "言語",
    intro: "openjpki は、マイナンバーカード（公的個人認証サービス）のオープンソース実装です。カードまたはスマートフォンの署名用電子証明書による電子署名、利用者証明用電子証明書によるログイン、カード代替電磁的記録の提示を、プラットフォーム事業者の利用者（テナント）のために検証します。",
    endpoints: "エンドポイント",
    openapi: "API（OpenAPI 3.1 の文書）。テナントは API キーで認証します",
    health: "稼働確認",
    metrics: "Prometheus 形式のメトリクス",
    sandbox: "サンドボックス発行者",
    sandbox_notice: "このサーバーはサンドボックスです。",
    sandbox_explained: "J-LIS を模したもので、その証明書は試験専用です。",
    crls: "認証局が公開する失効リスト（CRL、DER）の一覧（auth.crl と、署名用は市区町村ごと）",
    ocsp: "OCSP レスポンダ（RFC 6960）",
    latest: "プラットフォーム事業者への最新の基本4情報の提供（本人の同意による）",
    status_list: "カード代替電磁的記録のステータスリスト",
    authorize_title: "マイナンバーカードでログイン",
    authorize_asks_before: "「",
    authorize_asks_after: "」が本人確認を求めています。",
    authorize_scopes: "求められている情報",
    scope_openid: "このサービスでのあなたの識別子（マイナンバーではありません）",
    scope_name: "氏名",
    scope_address: "住所",
    scope_birthdate: "生年月日",
    scope_gender: "性別",
    scope_sign: "文書への電子署名",
    authorize_four_info: "氏名・住所・生年月日・性別は署名用電子証明書から読み取ります。署名用電子証明書のパスワードで承認してください。",
    authorize_expires: "この要求の有効期限",
    picker_title: "サンドボックス：テスト用の人物として応答",
    picker_explained: "カードの代わりに、サンドボックスのテスト用の人物と、サービスに返す結果を選びます。本番のサーバーにはこの選択肢はありません。",
    picker_person: "テスト用の人物",
    picker_outcome: "結果",
    picker_normal: "正常：この人物としてログインする",
    picker_error: "異常：ログインに失敗する",
    picker_submit: "この人物として応答する",
    picker_nobody: "カードを持つテスト用の人物がまだいません。jpki sandbox で発行してください。",
    decline: "拒否する",
    sign_purpose: "署名する文書：",
    app_title: "カードまたはスマートフォンで応答",
    app_lead: "専用アプリ（jpki app）がマイナンバーカードまたはスマートフォンの電子証明書を読み取り、この要求に応答します。",
    app_start: "アプリ用の QR コードを表示する",
    app_step_scan: "専用アプリで QR コードを読み取るか、下の文字列をアプリに渡してください。",
    app_step_pin: "求められている内容を確認し、アプリで利用者証明用電子証明書の暗証番号（数字4桁）を入力してください。",
    app_step_pins_signature: "求められている内容を確認し、アプリで利用者証明用の暗証番号と署名用電子証明書のパスワードを入力してください。",
    app_step_wait: "応答すると、このページは自動的に次へ進みます。",
    app_qr_alt: "専用アプリ用の QR コード（内容の文字列は下にあります）",
    app_payload: "QR コードの文字列",
    app_waiting: "アプリでの応答を待っています。このページは2秒ごとに再読み込みされます。要求の有効期限：",
    error_title: "ログインを続けられません",
    error_lead: "サービスから、このサーバーが受け付けられない要求が送られました。サービスに戻ってやり直してください。繰り返し起きる場合はサービスにお知らせください。",
    signed_out_title: "ログアウトしました",
    signed_out_lead: "このログインでサービスに発行したトークンは失効しました。このページは閉じてかまいません。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_is_the_query_or_the_preferred_accepted_one() {
        assert_eq!(Lang::negotiate(Some("ja"), Some("en")), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("fr"), Some("ja-JP,en;q=0.5")), Lang::Ja, "an unknown ?lang= falls back to the header");
        assert_eq!(Lang::negotiate(None, Some("en;q=0.4, ja;q=0.8")), Lang::Ja);
        assert_eq!(Lang::negotiate(None, Some("fr, en-GB;q=0.9, ja;q=0.1")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("ja;q=0, en;q=0.1")), Lang::En, "q=0 means not acceptable");
        assert_eq!(Lang::negotiate(None, Some("zh, *")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }
}
