//! Output: human-readable lines by default, one JSON document with `--json`.

use serde::Serialize;

use crate::context::Context;

/// Prints `value` as JSON under `--json`, else the `human` lines.
pub fn emit<T: Serialize>(ctx: &Context, value: &T, human: impl FnOnce() -> String) {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(value).expect("output serializes"));
    } else {
        println!("{}", human());
    }
}
