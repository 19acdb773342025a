//! Output: human-readable lines by default, one JSON document with `--json`.

use serde::Serialize;

use crate::context::Context;

/// Prints `value` as JSON under `--json`, else the `human` lines.
pub fn emit<T: Serialize>(ctx: &Context, value: &T, human: impl FnOnce() -> String) {
    if ctx.json {
        stdout(&format!("{}\n", serde_json::to_string_pretty(value).expect("output serializes")));
    } else {
        stdout(&format!("{}\n", human()));
    }
}

/// Writes to standard output; a reader that went away (`jpki … | head`) is not an error.
pub fn stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A time as a person in Japan reads it: RFC 3339 to the second, in JST (+09:00).
pub fn time(t: time::OffsetDateTime) -> String {
    let jst = t.to_offset(time::macros::offset!(+9)).replace_nanosecond(0).unwrap_or(t);
    jst.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_seconds_in_jst() {
        let t = time::macros::datetime!(2026-12-01 22:57:33.123456789 UTC);
        assert_eq!(super::time(t), "2026-12-02T07:57:33+09:00");
    }
}
