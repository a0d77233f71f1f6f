//! Turns a JSON shutdown report (`LIFECYCLE_REPORT_JSON=report.json`) into a
//! Mermaid gantt chart of the shutdown: one section per phase, one bar per
//! component's hook. Paste the output into a ```` ```mermaid ```` block.
//!
//! ```sh
//! LIFECYCLE_REPORT_JSON=report.json cargo run --example ops   # Ctrl+C when you like
//! cargo run --example gantt -- report.json > shutdown.mmd
//! ```
//!
//! Reads stdin when no path is given. The chart is the one
//! `Report::to_mermaid_gantt` draws in process.

use serde_json::Value;
use std::io::Read;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut text = String::new();
    match std::env::args().nth(1) {
        Some(path) => text = std::fs::read_to_string(path)?,
        None => {
            std::io::stdin().read_to_string(&mut text)?;
        }
    }
    let report: Value = serde_json::from_str(&text)?;
    print!("{}", gantt(&report).ok_or("not a lifecycle JSON report")?);
    Ok(())
}

fn gantt(report: &Value) -> Option<String> {
    let mut out = String::from("gantt\n");
    let reason = match report["reason"].as_str() {
        Some(reason) => format!("shutdown after {reason}"),
        None => "shutdown".to_owned(),
    };
    let verdict = if report["clean"].as_bool()? {
        "clean"
    } else {
        "not clean"
    };
    let took = elapsed(millis(&report["shutdown_duration_ms"])?);
    out.push_str(&format!(
        "    title {}\n",
        text(&format!("{reason}, {verdict}, took {took}"))
    ));
    out.push_str("    dateFormat x\n    axisFormat %S.%L s\n");
    let records = report["records"].as_array()?;
    for phase in ["stop_intake", "drain", "teardown"] {
        let rows: Vec<&Value> = records
            .iter()
            .filter(|r| r["stage"] == "shutdown" && r["phase"] == phase)
            .collect();
        if rows.is_empty() {
            continue;
        }
        out.push_str(&format!("    section {phase}\n"));
        for r in rows {
            let (began, duration) = (millis(&r["began_ms"])?, millis(&r["duration_ms"])?);
            let start = began.as_millis();
            let end = (began + duration).as_millis().max(start + 1);
            let component = r["component"].as_str()?;
            let (tag, label) = match r["outcome"].as_str()? {
                "completed" => ("done", format!("{component} {}", elapsed(duration))),
                _ => (
                    "crit",
                    format!(
                        "{component} {} {}",
                        r["message"].as_str()?,
                        elapsed(duration)
                    ),
                ),
            };
            out.push_str(&format!("    {} :{tag}, {start}, {end}\n", text(&label)));
        }
    }
    Some(out)
}

/// The report's milliseconds (with microsecond decimals) as a duration.
fn millis(value: &Value) -> Option<Duration> {
    Some(Duration::from_micros(
        (value.as_f64()? * 1000.0).round() as u64
    ))
}

/// `0.041ms`, `12.3ms`, `2.503s`, as in the report table.
fn elapsed(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.3}ms", d.as_secs_f64() * 1e3)
    } else if d < Duration::from_secs(1) {
        format!("{:.1}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// Text Mermaid's gantt syntax can hold: no `:`, `#` or `;`, one line.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ':' | ';' => ',',
            '#' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}
