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
