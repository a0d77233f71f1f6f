//! Step 1: read `#[component(...)]` into plain data. Only syntax is checked
//! here; a key that cannot be read is reported and skipped, and the rest of
//! the attribute is still read.

use crate::errors::Errors;
use proc_macro2::{Span, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, DeriveInput, Ident, Lit, LitStr, Path, Token};

/// The attribute's keys, as tokens.
mod kw {
    syn::custom_keyword!(depends_on);
    syn::custom_keyword!(telemetry);
}

/// Reads the next token if it is one of `keys` (by `name`): the key and
/// its span.
fn parse_key<K: Copy>(
    input: ParseStream,
    keys: impl IntoIterator<Item = K>,
    name: fn(K) -> &'static str,
) -> syn::Result<Option<(K, Span)>> {
    let Ok(next) = input.fork().parse::<Ident>() else {
        return Ok(None);
    };
    let Some(key) = keys.into_iter().find(|&k| next == name(k)) else {
        return Ok(None);
    };
    let ident: Ident = input.parse()?;
    Ok(Some((key, ident.span())))
}

/// The phases whose deadline a component may set, in the order of
/// `lifecycle::Timeouts`' fields.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Start,
    StopIntake,
    Drain,
    Teardown,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Start,
        Phase::StopIntake,
        Phase::Drain,
        Phase::Teardown,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Phase::Start => "start_timeout",
            Phase::StopIntake => "stop_intake_timeout",
            Phase::Drain => "drain_timeout",
            Phase::Teardown => "teardown_timeout",
        }
    }
}

/// The restart policy's keys: `restart` itself and one per tunable, each
/// named after the `lifecycle::Restart` method it stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RestartKey {
    Policy,
    Backoff,
    Jitter,
    Intensity,
    WhenNotReadyFor,
}

impl RestartKey {
    pub const ALL: [RestartKey; 5] = [
        RestartKey::Policy,
        RestartKey::Backoff,
        RestartKey::Jitter,
        RestartKey::Intensity,
        RestartKey::WhenNotReadyFor,
    ];

    pub fn key(self) -> &'static str {
        match self {
            RestartKey::Policy => "restart",
            RestartKey::Backoff => "restart_backoff",
            RestartKey::Jitter => "restart_jitter",
            RestartKey::Intensity => "restart_intensity",
            RestartKey::WhenNotReadyFor => "restart_when_not_ready_for",
        }
    }

    /// What the key takes, with an example: the end of every message about
    /// its value.
    pub fn takes(self) -> &'static str {
        match self {
            RestartKey::Policy => "\"on_failure\" or \"never\"",
            RestartKey::Backoff => "the first and the longest wait, such as \"100ms..30s\"",
            RestartKey::Jitter => "a percentage such as \"10%\", or a fraction such as 0.1",
            RestartKey::Intensity => "a number of restarts within a window, such as \"5 in 60s\"",
            RestartKey::WhenNotReadyFor => {
                "a number with a unit, such as \"250ms\", \"10s\", \"2m\" or \"1m30s\""
            }
        }
    }

    /// Whether the value is a literal of a kind this key takes: a string,
    /// or for the jitter also a number.
    fn accepts(self, value: &Lit) -> bool {
        match value {
            Lit::Str(_) => true,
            Lit::Float(_) | Lit::Int(_) => self == RestartKey::Jitter,
            _ => false,
        }
    }
}

/// One `restart = ".."` or `restart_* = ..` entry.
pub struct RestartEntry {
    pub key: RestartKey,
    pub key_span: Span,
    pub value: Lit,
}

/// One `depends_on = [..]` list.
pub struct DependsOn {
    pub key: Span,
    pub paths: Vec<Path>,
}

/// One `*_timeout = ".."` entry.
pub struct Timeout {
    pub phase: Phase,
    pub key: Span,
    pub value: LitStr,
}

/// Everything the attribute said, as written.
pub struct Parsed<'a> {
    pub input: &'a DeriveInput,
    /// `depends_on` lists (the key may appear more than once; validation decides).
    pub depends_on: Vec<DependsOn>,
    /// Every timeout entry, in source order.
    pub timeouts: Vec<Timeout>,
    /// Every restart entry, in source order.
    pub restart: Vec<RestartEntry>,
    /// Every `telemetry` flag, by its span (once is right; validation decides).
    pub telemetry: Vec<Span>,
}

enum Entry {
    DependsOn(DependsOn),
    Timeout(Timeout),
    Restart(RestartEntry),
    Telemetry(Span),
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(kw::depends_on) {
            let key: kw::depends_on = input.parse()?;
            input.parse::<Token![=]>()?;
            let content;
            bracketed!(content in input);
            let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
            return Ok(Entry::DependsOn(DependsOn {
                key: key.span,
                paths: paths.into_iter().collect(),
            }));
        }
        if input.peek(kw::telemetry) {
            let key: kw::telemetry = input.parse()?;
            if input.peek(Token![=]) {
                return Err(syn::Error::new(
                    input.span(),
                    "`telemetry` takes no value: write `#[component(telemetry)]`",
                ));
            }
            return Ok(Entry::Telemetry(key.span));
        }
        if let Some((phase, key)) = parse_key(input, Phase::ALL, Phase::key)? {
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!(
                        "`{}` takes a duration string such as \"250ms\", \"10s\" or \"2m\"",
                        phase.key()
                    ),
                )
            })?;
            return Ok(Entry::Timeout(Timeout { phase, key, value }));
        }
        if let Some((key, key_span)) = parse_key(input, RestartKey::ALL, RestartKey::key)? {
            input.parse::<Token![=]>()?;
            let takes = |span| {
                let string = if key == RestartKey::Jitter {
                    ""
                } else {
                    "a string: "
                };
                syn::Error::new(
                    span,
                    format!("`{}` takes {string}{}", key.key(), key.takes()),
                )
            };
            // At the whole value, a group like `(5, 60s)` included.
            let at = input
                .fork()
                .parse::<TokenTree>()
                .map_or(input.span(), |t| t.span());
            let value: Lit = input.parse().map_err(|_| takes(at))?;
            if !key.accepts(&value) {
                return Err(takes(at));
            }
            return Ok(Entry::Restart(RestartEntry {
                key,
                key_span,
                value,
            }));
        }
        let key: Ident = input.parse()?;
        Err(unknown_key(&key))
    }
}

fn unknown_key(key: &Ident) -> syn::Error {
    let keys = ["depends_on", "telemetry"]
        .into_iter()
        .chain(Phase::ALL.map(Phase::key))
        .chain(RestartKey::ALL.map(RestartKey::key));
    let text = key.to_string();
    let message = match keys.clone().find(|k| edit_distance(k, &text) <= 2) {
        Some(close) => {
            format!("unknown key `{key}` in #[component(...)]; did you mean `{close}`?")
        }
        None => format!(
            "unknown key `{key}` in #[component(...)]; expected one of: {}",
            keys.collect::<Vec<_>>().join(", ")
        ),
    };
    syn::Error::new(key.span(), message)
}

/// Levenshtein distance, for "did you mean".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Reads one attribute's entries. An entry that cannot be read is reported
/// and skipped up to the next comma, so the others still count.
fn entries(input: ParseStream, errors: &mut Errors) -> syn::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    while !input.is_empty() {
        match input.parse::<Entry>() {
            Ok(entry) => entries.push(entry),
            Err(e) => {
                errors.push(e);
                while !input.is_empty() && !input.peek(Token![,]) {
                    input.parse::<TokenTree>()?;
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

/// Parses every `#[component(...)]` attribute on the type.
pub fn component<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Parsed<'a> {
    let mut parsed = Parsed {
        input,
        depends_on: Vec::new(),
        timeouts: Vec::new(),
        restart: Vec::new(),
        telemetry: Vec::new(),
    };
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("component"))
    {
        match attr.parse_args_with(|input: ParseStream| entries(input, errors)) {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Entry::DependsOn(list) => parsed.depends_on.push(list),
                        Entry::Timeout(timeout) => parsed.timeouts.push(timeout),
                        Entry::Restart(entry) => parsed.restart.push(entry),
                        Entry::Telemetry(span) => parsed.telemetry.push(span),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("drain_timeout", "drain_timeout"), 0);
        assert_eq!(edit_distance("drain_timeout", "drain_timout"), 1);
        assert_eq!(edit_distance("depends_on", "depend_on"), 1);
        assert_eq!(edit_distance("start_timeout", "shutdown_timeout"), 6);
    }
}
