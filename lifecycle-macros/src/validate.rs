//! Step 2: check what was parsed. Every mistake is collected and reported at
//! once, each spanned at the user's token.

use crate::parse::{combine, Parsed, TIMEOUT_KEYS};
use quote::ToTokens;
use syn::{Data, Ident, LitStr, Path};

/// A component ready to expand: nothing here can be wrong any more.
pub struct Component<'a> {
    pub ident: &'a Ident,
    pub depends_on: Vec<Path>,
    /// Milliseconds per overridable phase, in the order of [`TIMEOUT_KEYS`].
    pub timeouts: [Option<u64>; 4],
}

pub fn component(parsed: Parsed<'_>) -> syn::Result<Component<'_>> {
    let input = parsed.input;
    let mut errors = None;

    if let Data::Union(u) = &input.data {
        combine(
            &mut errors,
            syn::Error::new(
                u.union_token.span,
                "a component must be a struct or an enum, not a union",
            ),
        );
    }
    if let Some(param) = input.generics.params.first() {
        combine(
            &mut errors,
            syn::Error::new_spanned(
                param,
                "a component cannot be generic: each component is registered once, as one concrete type; \
                 wrap a concrete instantiation in its own struct instead",
            ),
        );
    } else if let Some(clause) = &input.generics.where_clause {
        combine(
            &mut errors,
            syn::Error::new_spanned(clause, "a component cannot have a where clause"),
        );
    }

    let mut depends_on: Vec<Path> = Vec::new();
    let mut seen_list: Option<&Ident> = None;
    for (key, paths) in &parsed.depends_on {
        if seen_list.is_some() {
            combine(
                &mut errors,
                syn::Error::new(
                    key.span(),
                    "`depends_on` is given twice; list every dependency once, in one list",
                ),
            );
        }
        seen_list = Some(key);
        for path in paths {
            if is_self(path, &input.ident) {
                combine(
                    &mut errors,
                    syn::Error::new_spanned(
                        path,
                        format!("component `{}` cannot depend on itself", input.ident),
                    ),
                );
                continue;
            }
            let text = path_text(path);
            if depends_on.iter().any(|seen| path_text(seen) == text) {
                combine(
                    &mut errors,
                    syn::Error::new_spanned(
                        path,
                        format!("`{text}` is listed twice in `depends_on`"),
                    ),
                );
                continue;
            }
            depends_on.push(path.clone());
        }
    }

    let mut timeouts = [None; 4];
    for (key, value) in &parsed.timeouts {
        let slot = TIMEOUT_KEYS.iter().position(|k| key == k).unwrap_or(0);
        if timeouts[slot].is_some() {
            combine(
                &mut errors,
                syn::Error::new(key.span(), format!("`{key}` is given twice")),
            );
            continue;
        }
        match parse_duration(&value.value()) {
            Ok(ms) => timeouts[slot] = Some(ms),
            Err(why) => combine(&mut errors, duration_error(key, value, why)),
        }
    }

    match errors {
        Some(e) => Err(e),
        None => Ok(Component {
            ident: &input.ident,
            depends_on,
            timeouts,
        }),
    }
}

fn duration_error(key: &Ident, value: &LitStr, why: &str) -> syn::Error {
    syn::Error::new(
        value.span(),
        format!(
            "malformed duration {:?} for `{key}`: {why}; write a whole number with a unit, \
             such as \"250ms\", \"10s\", \"2m\" or \"1m30s\"",
            value.value()
        ),
    )
}

/// `Self`, or the component's own name written as a single-segment path.
fn is_self(path: &Path, ident: &Ident) -> bool {
    path.is_ident("Self") || path.is_ident(ident)
}

fn path_text(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Parses `"250ms"`, `"10s"`, `"2m"`, `"1h"` and sums like `"1m30s"` into
/// milliseconds. Zero is refused: a zero deadline cancels every hook at once.
/// `lifecycle/src/settings.rs` parses environment overrides with a twin of
/// this function (a proc-macro crate cannot export it); change both together.
pub fn parse_duration(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty");
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err("expected a number");
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large")?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err("the unit is missing"),
            _ => return Err("unknown unit (use ms, s, m or h)"),
        };
        rest = &rest[unit_len..];
        let part = number
            .checked_mul(factor)
            .ok_or("the duration is too large")?;
        total = total.checked_add(part).ok_or("the duration is too large")?;
    }
    if total == 0 {
        return Err("a deadline must be longer than zero");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("10s"), Ok(10_000));
        assert_eq!(parse_duration("2m"), Ok(120_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration(" 5s "), Ok(5_000));
    }

    #[test]
    fn malformed_durations() {
        assert_eq!(parse_duration(""), Err("it is empty"));
        assert_eq!(parse_duration("10"), Err("the unit is missing"));
        assert_eq!(parse_duration("10 s"), Err("the unit is missing"));
        assert_eq!(parse_duration("s"), Err("expected a number"));
        assert_eq!(
            parse_duration("3d"),
            Err("unknown unit (use ms, s, m or h)")
        );
        assert_eq!(
            parse_duration("0s"),
            Err("a deadline must be longer than zero")
        );
        assert_eq!(
            parse_duration("99999999999999999999s"),
            Err("the number is too large")
        );
        assert_eq!(
            parse_duration("18446744073709552s"),
            Err("the duration is too large")
        );
    }
}
