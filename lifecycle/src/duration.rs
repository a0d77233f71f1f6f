//! Durations as people read them: a deadline the way it is configured
//! (`10s`, `1m30s`), a measured time the way a report shows it (`1.234ms`).

use std::fmt;
use std::time::Duration;

/// Writes a deadline back the way it is configured, to the millisecond
/// (microseconds only below one): `250ms`, `10s`, `1m30s`.
pub(crate) fn format_deadline(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return format!("{}µs", d.as_micros());
    }
    let (h, m, s, ms) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000,
    );
    let mut out = String::new();
    for (value, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

/// A measured time the way the report shows it: `0.042ms`, `12.3ms`, `1.234s`.
pub(crate) struct Elapsed(pub(crate) Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_millis(1) {
            write!(f, "{:.3}ms", d.as_secs_f64() * 1e3)
        } else if d < Duration::from_secs(1) {
            write!(f, "{:.1}ms", d.as_secs_f64() * 1e3)
        } else {
            write!(f, "{:.3}s", d.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_format_back() {
        assert_eq!(format_deadline(Duration::from_millis(250)), "250ms");
        assert_eq!(format_deadline(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_deadline(Duration::from_millis(10_500)), "10s500ms");
        assert_eq!(format_deadline(Duration::from_secs(30)), "30s");
    }
}
