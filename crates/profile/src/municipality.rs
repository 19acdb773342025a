//! The prefecture and municipality (都道府県, 市区町村) of an address as the 4 info write it.
//!
//! J-LIS partitions the signature CA's CRL by the holder's municipality and names the municipality in
//! the signature certificate's subject (../shared/reference/relying-party-apis.md: a distribution point
//! `…, OU=CRL Distribution Points, OU=<prefecture>, CN=<city>`, and `Kiyose-shi` in a test card's
//! subject). J-LIS writes the names romanized; romanizing place names needs a gazetteer, so the sandbox
//! writes them as the address does.
//!
//! The municipality is read without a gazetteer: after the prefecture, a district (郡) and its town or
//! village, or else the text up to the first 市, 区, 町 or 村 that is not the name's first character. A
//! designated city's ward is not part of it (大阪市北区 → 大阪市). Names that hold one of those
//! characters before their end are listed in [`INNER_SUFFIX`].

/// The 47 prefectures (都道府県).
const PREFECTURES: [&str; 47] = [
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県",
    "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県",
    "鹿児島県", "沖縄県",
];

/// Municipalities whose names hold 市, 区, 町, 村 or 郡 before their last character, which the rule
/// above would cut short.
const INNER_SUFFIX: [&str; 12] =
    ["四日市市", "廿日市市", "野々市市", "大町市", "十日町市", "東村山市", "武蔵村山市", "羽村市", "田村市", "上市町", "大和郡山市", "大町町"];

const SUFFIXES: [char; 4] = ['市', '区', '町', '村'];

/// A prefecture and a municipality within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub prefecture: &'static str,
    pub city: String,
}

impl Municipality {
    /// The municipality of `address`, or `None` when it does not start with a prefecture followed by one.
    pub fn of_address(address: &str) -> Option<Municipality> {
        let address = address.trim_start();
        let prefecture = PREFECTURES.into_iter().find(|p| address.starts_with(p))?;
        let rest = &address[prefecture.len()..];
        let city = match district(rest) {
            Some(district) => format!("{district}{}", town(&rest[district.len()..], &['町', '村'])?),
            None => town(rest, &SUFFIXES)?.to_owned(),
        };
        Some(Municipality { prefecture, city })
    }
}

/// A district (郡) opening `rest`, when it comes before any city or ward.
fn district(rest: &str) -> Option<&str> {
    let (at, _) = rest.char_indices().skip(1).take(5).find(|&(_, c)| c == '郡')?;
    let before = &rest[..at];
    (!before.contains(['市', '区']) && !INNER_SUFFIX.iter().any(|n| rest.starts_with(n))).then(|| &rest[..at + '郡'.len_utf8()])
}

/// The municipality opening `rest`: a listed name, or the text through the first of `suffixes` after
/// the first character.
fn town<'a>(rest: &'a str, suffixes: &[char]) -> Option<&'a str> {
    if let Some(name) = INNER_SUFFIX.iter().find(|n| rest.starts_with(*n)) {
        return Some(&rest[..name.len()]);
    }
    let (at, c) = rest.char_indices().skip(1).find(|(_, c)| suffixes.contains(c))?;
    Some(&rest[..at + c.len_utf8()])
}

#[cfg(test)]
mod tests {
    use super::Municipality;

    fn of(address: &str) -> Option<(&'static str, String)> {
        Municipality::of_address(address).map(|m| (m.prefecture, m.city))
    }

    #[test]
    fn real_address_forms() {
        for (address, prefecture, city) in [
            ("東京都清瀬市中清戸５丁目", "東京都", "清瀬市"),
            ("東京都千代田区紀尾井町１－３", "東京都", "千代田区"),
            ("東京都新宿区市谷本村町５－１", "東京都", "新宿区"),
            ("大阪府大阪市北区梅田１", "大阪府", "大阪市"),
            ("北海道札幌市中央区北一条西２", "北海道", "札幌市"),
            ("京都府京都市中京区寺町通御池上る上本能寺前町４８８", "京都府", "京都市"),
            ("千葉県市川市八幡１－１－１", "千葉県", "市川市"),
            ("東京都町田市森野２－２－２２", "東京都", "町田市"),
            ("福島県郡山市朝日１－２３－７", "福島県", "郡山市"),
            ("新潟県村上市三之町１－１", "新潟県", "村上市"),
            ("三重県四日市市諏訪町１－５", "三重県", "四日市市"),
            ("広島県廿日市市下平良１－１１－１", "広島県", "廿日市市"),
            ("東京都東村山市本町１－２－３", "東京都", "東村山市"),
            ("東京都羽村市緑ヶ丘５－２－１", "東京都", "羽村市"),
            ("奈良県大和郡山市北郡山町２４８－４", "奈良県", "大和郡山市"),
            ("東京都西多摩郡瑞穂町大字箱根ケ崎２３３５", "東京都", "西多摩郡瑞穂町"),
            ("山形県西村山郡河北町谷地戊８１", "山形県", "西村山郡河北町"),
            ("佐賀県杵島郡大町町大字大町５０１７", "佐賀県", "杵島郡大町町"),
            ("富山県中新川郡上市町法音寺１", "富山県", "中新川郡上市町"),
            ("宮城県柴田郡村田町大字村田字迫６", "宮城県", "柴田郡村田町"),
            ("鹿児島県鹿児島市山下町１１－１", "鹿児島県", "鹿児島市"),
            ("沖縄県島尻郡座間味村字座間味１０９", "沖縄県", "島尻郡座間味村"),
        ] {
            assert_eq!(of(address), Some((prefecture, city.to_owned())), "{address}");
        }
    }

    #[test]
    fn addresses_without_one() {
        for address in ["", "東京都", "清瀬市中清戸", "Tokyo", "東京都清瀬", "北海道郡"] {
            assert_eq!(of(address), None, "{address}");
        }
    }
}
