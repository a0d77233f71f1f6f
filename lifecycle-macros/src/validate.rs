//! Step 2: check what was parsed. Every mistake is reported (each at the
//! user's token) and left out, and the rest is kept: the derive still
//! implements what it can, so a mistake here does not also make every
//! dependent report "not a component".

use crate::errors::Errors;
use crate::parse::{edit_distance, Parsed, Phase, RestartEntry, RestartKey};
use quote::ToTokens;
use std::time::Duration;
use syn::{Data, Ident, Lit, LitStr, Path};

/// What to expand: the type, and what of its attribute was right.
pub struct Component<'a> {
    pub ident: &'a Ident,
    pub depends_on: Vec<Path>,
    /// Deadline per overridable phase, indexed like [`Phase::ALL`].
    pub timeouts: [Option<Duration>; 4],
    /// The restart policy, when the attribute gives one.
    pub restart: Option<Restart>,
    /// `#[component(telemetry)]`: started first, stopped last.
    pub telemetry: bool,
}

/// A restart policy as the attribute gives it.
pub enum Restart {
    Never,
    /// `on_failure`, with the tunables the attribute set (`None`: the
    /// runtime's default).
    OnFailure {
        backoff: Option<(Duration, Duration)>,
        jitter: Option<f64>,
        intensity: Option<(u32, Duration)>,
        not_ready_for: Option<Duration>,
    },
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

    let restart = restart(&parsed.restart, &input.ident, errors);

    for &again in parsed.telemetry.iter().skip(1) {
        errors.push(syn::Error::new(again, "`telemetry` is given twice"));
    }

    (!generic).then_some(Component {
        ident: &input.ident,
        depends_on,
        timeouts,
        restart,
        telemetry: !parsed.telemetry.is_empty(),
    })
}

/// The policy from the `restart` and `restart_*` entries. A tunable is
/// refused unless `restart = "on_failure"` is there for it to tune.
fn restart(entries: &[RestartEntry], ident: &Ident, errors: &mut Errors) -> Option<Restart> {
    let mut seen: Vec<RestartKey> = Vec::new();
    let mut policy: Option<Option<bool>> = None; // Some(None): given but malformed
    let (mut backoff, mut jitter, mut intensity, mut not_ready_for) = (None, None, None, None);
    for entry in entries {
        if seen.contains(&entry.key) {
            errors.push(syn::Error::new(
                entry.key_span,
                format!("`{}` is given twice", entry.key.key()),
            ));
            continue;
        }
        seen.push(entry.key);
        let read = match entry.key {
            RestartKey::Policy => {
                let on_failure = str_value(entry).and_then(|text| policy_kind(&text));
                policy = Some(on_failure.as_ref().ok().copied());
                on_failure.map(drop)
            }
            RestartKey::Backoff => str_value(entry)
                .and_then(|text| backoff_range(&text))
                .map(|range| backoff = Some(range)),
            RestartKey::Jitter => jitter_fraction(&entry.value).map(|f| jitter = Some(f)),
            RestartKey::Intensity => str_value(entry)
                .and_then(|text| intensity_limit(&text))
                .map(|limit| intensity = Some(limit)),
            RestartKey::WhenNotReadyFor => str_value(entry)
                .and_then(|text| positive(&text))
                .map(|d| not_ready_for = Some(d)),
        };
        if let Err(why) = read {
            errors.push(restart_error(entry, &why));
        }
    }

    // Tunables without a policy to tune: at each one's key.
    let lacking = match policy {
        None => Some(format!(
            "tunes a restart policy, but `{ident}` has none: add `restart = \"on_failure\"`"
        )),
        Some(Some(false)) => Some(
            "has no effect with `restart = \"never\"`: remove it, or write \
             `restart = \"on_failure\"`"
                .to_owned(),
        ),
        Some(Some(true)) | Some(None) => None,
    };
    if let Some(lacking) = lacking {
        for entry in entries.iter().filter(|e| e.key != RestartKey::Policy) {
            errors.push(syn::Error::new(
                entry.key_span,
                format!("`{}` {lacking}", entry.key.key()),
            ));
        }
    }

    match policy? {
        Some(true) => Some(Restart::OnFailure {
            backoff,
            jitter,
            intensity,
            not_ready_for,
        }),
        Some(false) => Some(Restart::Never),
        None => None,
    }
}

/// A restart value's text; the parser let through only strings, except for
/// the jitter.
fn str_value(entry: &RestartEntry) -> Result<String, String> {
    match &entry.value {
        Lit::Str(s) => Ok(s.value()),
        _ => Err("expected a string".into()),
    }
}

fn restart_error(entry: &RestartEntry, why: &str) -> syn::Error {
    let key = entry.key;
    let shown = match &entry.value {
        Lit::Str(s) => format!("{:?}", s.value()),
        other => other.to_token_stream().to_string(),
    };
    let what = match key {
        RestartKey::Policy => {
            let message = format!(
                "unknown restart policy {shown} for `restart`{why}; write {}",
                key.takes()
            );
            return syn::Error::new(entry.value.span(), message);
        }
        RestartKey::Backoff => "backoff",
        RestartKey::Jitter => "jitter",
        RestartKey::Intensity => "intensity",
        RestartKey::WhenNotReadyFor => "duration",
    };
    let message = format!(
        "malformed {what} {shown} for `{}`: {why}; write {}",
        key.key(),
        key.takes()
    );
    syn::Error::new(entry.value.span(), message)
}

/// `true` for `"on_failure"`, `false` for `"never"`; the error is a "did you
/// mean" (or nothing) to append to "unknown restart policy".
fn policy_kind(text: &str) -> Result<bool, String> {
    match text {
        "on_failure" => Ok(true),
        "never" => Ok(false),
        _ => Err(["on_failure", "never"]
            .into_iter()
            .find(|known| edit_distance(known, &text.to_lowercase().replace('-', "_")) <= 2)
            .map(|known| format!(" (did you mean \"{known}\"?)"))
            .unwrap_or_default()),
    }
}

/// `"100ms..30s"`: the first wait and the longest.
fn backoff_range(text: &str) -> Result<(Duration, Duration), String> {
    let Some((first, longest)) = text.split_once("..") else {
        return Err("expected two durations with `..` between them".into());
    };
    let first = duration(first.trim()).map_err(|why| format!("the first wait: {why}"))?;
    let longest = duration(longest.trim()).map_err(|why| format!("the longest wait: {why}"))?;
    if longest < first {
        return Err("the longest wait is shorter than the first".into());
    }
    Ok((first, longest))
}

/// `"10%"`, or a number literal from 0.0 to 1.0 as the builder takes it.
fn jitter_fraction(value: &Lit) -> Result<f64, String> {
    let (fraction, range) = match value {
        Lit::Str(s) => {
            let text = s.value();
            let Some(percent) = text.trim().strip_suffix('%') else {
                return Err("a percentage needs its `%`".into());
            };
            let percent: f64 = percent
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not a number", percent.trim()))?;
            (percent / 100.0, "0% to 100%")
        }
        Lit::Float(f) => (f.base10_parse().map_err(|e| e.to_string())?, "0.0 to 1.0"),
        Lit::Int(i) => (
            f64::from(i.base10_parse::<u8>().unwrap_or(u8::MAX)),
            "0.0 to 1.0",
        ),
        _ => return Err("expected a string or a number".into()),
    };
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!("it must be from {range}"))
    }
}

/// `"5 in 60s"`: at most this many restarts within the window.
fn intensity_limit(text: &str) -> Result<(u32, Duration), String> {
    let Some((count, window)) = text.trim().split_once(" in ") else {
        return Err("expected `in` between the number of restarts and the window".into());
    };
    let count = count.trim();
    let count: u32 = count
        .parse()
        .map_err(|_| format!("`{count}` is not a number of restarts"))?;
    if count == 0 {
        return Err("it must allow at least 1 (for none, write `restart = \"never\"`)".into());
    }
    let window = positive(window.trim()).map_err(|why| format!("the window: {why}"))?;
    Ok((count, window))
}

/// A duration longer than zero, for a time the runtime waits out.
fn positive(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("it must be longer than zero".into()),
        d => Ok(d),
    }
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

/// A deadline: a [`duration`] longer than zero (a zero deadline cancels
/// every hook at once).
pub fn deadline(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err("a deadline must be longer than zero".into()),
        d => Ok(d),
    }
}

/// A duration in the grammar the runtime's settings use too, `humantime`'s:
/// `250ms`, `10s`, `2m`, sums like `1m30s`, fractions like `1.5s`.
pub fn duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError as E;
    match humantime::parse_duration(text) {
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
    use super::{backoff_range, deadline, intensity_limit, jitter_fraction, policy_kind};
    use std::time::Duration;
    use syn::Lit;

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

    #[test]
    fn restart_values() {
        let ms = Duration::from_millis;
        assert_eq!(policy_kind("on_failure"), Ok(true));
        assert_eq!(policy_kind("never"), Ok(false));
        for (text, range) in [
            ("100ms..30s", (100, 30_000)),
            (" 1.5s .. 2s ", (1_500, 2_000)),
            ("0s..0s", (0, 0)),
        ] {
            assert_eq!(
                backoff_range(text),
                Ok((ms(range.0), ms(range.1))),
                "{text}"
            );
        }
        assert_eq!(intensity_limit("5 in 60s"), Ok((5, ms(60_000))));
        assert_eq!(intensity_limit("30 in 1m 30s"), Ok((30, ms(90_000))));
        for (tokens, fraction) in [
            ("\"10%\"", 0.1),
            ("\"0 %\"", 0.0),
            ("0.25", 0.25),
            ("1", 1.0),
        ] {
            assert_eq!(jitter(tokens), Ok(fraction), "{tokens}");
        }
    }

    #[test]
    fn malformed_restart_values() {
        assert_eq!(policy_kind("always"), Err(String::new()));
        let near = policy_kind("on-failure");
        assert_eq!(near, Err(" (did you mean \"on_failure\"?)".into()));
        type Read = fn(&str) -> Result<(), String>;
        let backoff: Read = |text| backoff_range(text).map(drop);
        let intensity: Read = |text| intensity_limit(text).map(drop);
        let jitter_: Read = |tokens| jitter(tokens).map(drop);
        for (read, text, why) in [
            (
                backoff,
                "100ms",
                "expected two durations with `..` between them",
            ),
            (
                backoff,
                "100ms..30",
                "the longest wait: the unit is missing",
            ),
            (
                backoff,
                "5s..1s",
                "the longest wait is shorter than the first",
            ),
            (
                intensity,
                "5/60s",
                "expected `in` between the number of restarts and the window",
            ),
            (
                intensity,
                "five in 60s",
                "`five` is not a number of restarts",
            ),
            (
                intensity,
                "0 in 60s",
                "it must allow at least 1 (for none, write `restart = \"never\"`)",
            ),
            (
                intensity,
                "5 in 0s",
                "the window: it must be longer than zero",
            ),
            (jitter_, "\"10\"", "a percentage needs its `%`"),
            (jitter_, "\"ten%\"", "`ten` is not a number"),
            (jitter_, "\"150%\"", "it must be from 0% to 100%"),
            (jitter_, "\"NaN%\"", "it must be from 0% to 100%"),
            (jitter_, "1.5", "it must be from 0.0 to 1.0"),
            (jitter_, "10", "it must be from 0.0 to 1.0"),
        ] {
            assert_eq!(read(text), Err(why.to_owned()), "{text}");
        }
    }

    /// The jitter of a value written as these tokens.
    fn jitter(tokens: &str) -> Result<f64, String> {
        jitter_fraction(&syn::parse_str::<Lit>(tokens).unwrap())
    }
}
