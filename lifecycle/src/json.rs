//! Just enough JSON writing for the report and the graph, so the default build
//! needs no serializer: objects, arrays, strings with correct escaping,
//! numbers, booleans and null.

use std::fmt::Write;
use std::time::Duration;

/// A value that can be written as JSON.
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// An integer.
    Int(u128),
    /// Milliseconds with microsecond precision: `12.345`.
    Millis(Duration),
    Str(&'a str),
    /// Already-written JSON (a nested object or array).
    Raw(String),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Millis(d) => {
                let micros = d.as_micros();
                let _ = write!(out, "{}.{:03}", micros / 1000, micros % 1000);
            }
            Value::Str(s) => string(out, s),
            Value::Raw(raw) => out.push_str(raw),
        }
    }
}

/// Writes `s` as a JSON string: quotes, backslashes and control characters
/// escaped; everything else (UTF-8 included) as is.
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{"key": value, ...}` from fields in order.
pub(crate) fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Value<'a>)>) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        string(&mut out, key);
        out.push_str(": ");
        value.write(&mut out);
    }
    out.push('}');
    out
}

/// `[a, b, ...]`, one item per line when `multiline`.
pub(crate) fn array<'a>(items: impl IntoIterator<Item = Value<'a>>, multiline: bool) -> String {
    let mut out = String::from("[");
    let mut empty = true;
    for (i, item) in items.into_iter().enumerate() {
        empty = false;
        if i > 0 {
            out.push(',');
        }
        out.push_str(if multiline {
            "\n    "
        } else if i > 0 {
            " "
        } else {
            ""
        });
        item.write(&mut out);
    }
    if multiline && !empty {
        out.push_str("\n  ");
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string(&mut out, "a \"quoted\" \\ path\nnew\tline \u{1} é ✓");
        assert_eq!(out, r#""a \"quoted\" \\ path\nnew\tline \u0001 é ✓""#);
    }

    #[test]
    fn objects_and_arrays() {
        let o = object([
            ("n", Value::Int(3)),
            ("ms", Value::Millis(Duration::from_micros(12_345))),
            ("none", Value::from(None::<&str>)),
            (
                "list",
                Value::Raw(array([Value::Bool(true), Value::Str("x")], false)),
            ),
        ]);
        assert_eq!(
            o,
            r#"{"n": 3, "ms": 12.345, "none": null, "list": [true, "x"]}"#
        );
    }
}
