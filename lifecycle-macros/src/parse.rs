//! Step 1: read `#[component(...)]` into plain data. Only syntax is checked here.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, DeriveInput, Ident, LitStr, Path, Token};

/// The four phases whose deadline a component may override.
pub const TIMEOUT_KEYS: [&str; 4] = [
    "start_timeout",
    "stop_intake_timeout",
    "drain_timeout",
    "teardown_timeout",
];

/// Everything the attribute said, as written.
pub struct Parsed<'a> {
    pub input: &'a DeriveInput,
    /// `depends_on` lists (the key may appear more than once; validation decides).
    pub depends_on: Vec<(Ident, Vec<Path>)>,
    /// `(key, value)` for every `*_timeout` key, in source order.
    pub timeouts: Vec<(Ident, LitStr)>,
}

enum Entry {
    DependsOn(Ident, Vec<Path>),
    Timeout(Ident, LitStr),
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if key == "depends_on" {
            input.parse::<Token![=]>()?;
            let content;
            bracketed!(content in input);
            let paths = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
            Ok(Entry::DependsOn(key, paths.into_iter().collect()))
        } else if TIMEOUT_KEYS.iter().any(|k| key == k) {
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("`{key}` takes a duration string such as \"250ms\", \"10s\" or \"2m\""),
                )
            })?;
            Ok(Entry::Timeout(key, value))
        } else {
            Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown key `{key}` in #[component(...)]; expected one of: depends_on, {}",
                    TIMEOUT_KEYS.join(", ")
                ),
            ))
        }
    }
}

/// Parses every `#[component(...)]` attribute on the type. Syntax errors in
/// several attributes are reported together.
pub fn component(input: &DeriveInput) -> syn::Result<Parsed<'_>> {
    let mut parsed = Parsed {
        input,
        depends_on: Vec::new(),
        timeouts: Vec::new(),
    };
    let mut errors: Option<syn::Error> = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("component"))
    {
        let entries = attr.parse_args_with(Punctuated::<Entry, Token![,]>::parse_terminated);
        match entries {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Entry::DependsOn(key, paths) => parsed.depends_on.push((key, paths)),
                        Entry::Timeout(key, value) => parsed.timeouts.push((key, value)),
                    }
                }
            }
            Err(e) => combine(&mut errors, e),
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(parsed),
    }
}

/// Adds `e` to the collected errors.
pub fn combine(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}
