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
