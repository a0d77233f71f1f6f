//! Step 2: check what was parsed. Every mistake is reported (each at the
//! user's token) and left out, and the rest is kept: the derive still
//! implements what it can, so a mistake here does not also make every
//! dependent report "not a component".

use crate::errors::Errors;
use crate::parse::{Parsed, Phase};
use quote::ToTokens;
use std::time::Duration;
use syn::{Data, Ident, LitStr, Path};

/// What to expand: the type, and what of its attribute was right.
pub struct Component<'a> {
    pub ident: &'a Ident,
    pub depends_on: Vec<Path>,
    /// Deadline per overridable phase, indexed like [`Phase::ALL`].
    pub timeouts: [Option<Duration>; 4],
}

/// `None` when nothing can be implemented (a generic type).
pub fn component<'a>(parsed: Parsed<'a>, errors: &mut Errors) -> Option<Component<'a>> {
    let input = parsed.input;

    if let Data::Union(u) = &input.data {
        errors.push(syn::Error::new(
            u.union_token.span,
            "a component must be a struct or an enum, not a union",
        ));
    }
    let generic = if let Some(param) = input.generics.params.first() {
        errors.push(syn::Error::new_spanned(
            param,
            "a component cannot be generic: each component is registered once, as one concrete type; \
             wrap a concrete instantiation in its own struct instead",
        ));
        true
    } else if let Some(clause) = &input.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            clause,
            "a component cannot have a where clause",
        ));
        true
    } else {
        false
    };

    let mut depends_on: Vec<Path> = Vec::new();
    for (i, list) in parsed.depends_on.iter().enumerate() {
        if i > 0 {
            errors.push(syn::Error::new(
                list.key,
                "`depends_on` is given twice; list every dependency once, in one list",
            ));
        }
        for path in &list.paths {
            if is_self(path, &input.ident) {
                errors.push(syn::Error::new_spanned(
                    path,
                    format!(
                        "dependency cycle: {0} -> {0} (a component cannot depend on itself)",
                        input.ident
                    ),
                ));
            } else if depends_on.iter().any(|seen| same(seen, path)) {
                errors.push(syn::Error::new_spanned(
                    path,
                    format!("`{}` is listed twice in `depends_on`", text(path)),
                ));
            } else {
                depends_on.push(path.clone());
            }
        }
    }

    let mut timeouts = [None; 4];
    for timeout in &parsed.timeouts {
        let slot = &mut timeouts[timeout.phase as usize];
        if slot.is_some() {
            errors.push(syn::Error::new(
                timeout.key,
                format!("`{}` is given twice", timeout.phase.key()),
            ));
            continue;
        }
        match deadline(&timeout.value.value()) {
            Ok(deadline) => *slot = Some(deadline),
            Err(why) => errors.push(duration_error(timeout.phase, &timeout.value, &why)),
        }
    }

    (!generic).then_some(Component {
        ident: &input.ident,
        depends_on,
        timeouts,
    })
}

fn duration_error(phase: Phase, value: &LitStr, why: &str) -> syn::Error {
    syn::Error::new(
        value.span(),
        format!(
            "malformed duration {:?} for `{}`: {why}; write a number with a unit, \
             such as \"250ms\", \"10s\", \"2m\" or \"1m30s\"",
            value.value(),
            phase.key()
        ),
    )
}

/// A deadline in the grammar the runtime's settings use too, `humantime`'s:
/// `250ms`, `10s`, `2m`, sums like `1m30s`, fractions like `1.5s`. Zero is
/// refused: a zero deadline cancels every hook at once.
pub fn deadline(text: &str) -> Result<Duration, String> {
    use humantime::DurationError as E;
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("a deadline must be longer than zero".into()),
        Ok(d) => Ok(d),
        Err(E::Empty) => Err("it is empty".into()),
        Err(E::InvalidCharacter(at)) => match text[at..].chars().next() {
            Some(c) => Err(format!("`{c}` is not allowed")),
            None => Err("it ends too early".into()),
        },
        Err(E::NumberExpected(_)) => Err("expected a number".into()),
        Err(E::UnknownUnit { unit, .. }) if unit.is_empty() => Err("the unit is missing".into()),
        Err(E::UnknownUnit { unit, .. }) => Err(format!("unknown unit `{unit}`")),
        Err(E::NumberOverflow) => Err("it is too large".into()),
    }
}

/// `Self`, or the component's own name written as a single-segment path.
fn is_self(path: &Path, ident: &Ident) -> bool {
    path.is_ident("Self") || path.is_ident(ident)
}

fn same(a: &Path, b: &Path) -> bool {
    text(a) == text(b)
}

fn text(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::deadline;
    use std::time::Duration;

    #[test]
    fn deadlines() {
        // The grammar is humantime's, tested there and in the runtime's
        // settings; here, only that it is the one in use.
        assert_eq!(deadline("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(deadline("1.5s"), Ok(Duration::from_millis(1_500)));
    }

    #[test]
    fn malformed_deadlines() {
        let why = |t| deadline(t).unwrap_err();
        assert_eq!(why(""), "it is empty");
        assert_eq!(why("10"), "the unit is missing");
        assert_eq!(why("1,5s"), "`,` is not allowed");
        assert_eq!(why("s"), "expected a number");
        assert_eq!(why("5 parsecs"), "unknown unit `parsecs`");
        assert_eq!(why("0s"), "a deadline must be longer than zero");
        assert_eq!(why("99999999999999999999s"), "it is too large");
    }
}
