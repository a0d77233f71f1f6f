//! The deployment files agree with the framework: `deploy/kubernetes/orders.yaml`
//! and `deploy/systemd/orders.service` are read, the `orders` example is run
//! with their environment and `LIFECYCLE_PRINT_GRAPH=json` (so its deadlines
//! and budget come from the code, not from literals copied here), and every
//! number is checked against them.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `orders` example's graph, deadlines and budget under `env`, as it
/// prints them without starting anything.
fn orders_graph(env: &HashMap<String, String>) -> Value {
    let mut command = Command::new(lifecycle_suite::example_path("orders"));
    command.env("LIFECYCLE_PRINT_GRAPH", "json");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run the orders example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "orders refused this configuration:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn ms(value: &Value) -> Duration {
    Duration::from_millis(
        value
            .as_u64()
            .unwrap_or_else(|| panic!("not milliseconds: {value}")),
    )
}

fn secs(value: &Value) -> Duration {
    Duration::from_secs(
        value
            .as_u64()
            .unwrap_or_else(|| panic!("not seconds: {value}")),
    )
}

/// The longest start-up can take: each start level, one after the other, up
/// to its longest start deadline.
fn start_budget(graph: &Value) -> Duration {
    let mut levels: HashMap<u64, Duration> = HashMap::new();
    for c in graph["components"].as_array().unwrap() {
        let level = levels
            .entry(c["start_level"].as_u64().unwrap())
            .or_default();
        *level = (*level).max(ms(&c["deadlines_ms"]["start"]));
    }
    levels.values().sum()
}

fn component<'a>(graph: &'a Value, name: &str) -> &'a Value {
    graph["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name} in {graph:#}"))
}

#[test]
fn kubernetes_deployment_matches_the_budget() {
    let deployment = yaml::parse(&read("deploy/kubernetes/orders.yaml"));
    assert_eq!(deployment["kind"], "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "orders");
    let env: HashMap<String, String> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let graph = orders_graph(&env);
    let budget = &graph["budget"];

    // The grace period lifecycle checks against is Kubernetes' own.
    let grace = secs(&pod["terminationGracePeriodSeconds"]);
    assert_eq!(
        ms(&budget["grace_period_ms"]),
        grace,
        "LIFECYCLE_GRACE_PERIOD != terminationGracePeriodSeconds"
    );
    assert_eq!(
        grace,
        lifecycle::DEFAULT_GRACE_PERIOD,
        "the framework's default, Kubernetes' default"
    );
    assert_eq!(budget["fits"], true, "{budget}");
    assert!(
        ms(&budget["total_ms"]) + Duration::from_secs(2) <= grace,
        "leave the process time to exit after teardown: {budget}"
    );
    assert_eq!(
        env.get("LIFECYCLE_STRICT_BUDGET").map(String::as_str),
        Some("1")
    );

    // The withdrawal delay fits in the Api's stop-intake deadline, with room
    // to close the listener (the server cuts the delay to 90% of what is left).
    let withdrawal = Duration::from_millis(env["ORDERS_WITHDRAWAL_MS"].parse().unwrap());
    let stop_intake = ms(&component(&graph, "Api")["deadlines_ms"]["stop_intake"]);
    assert!(
        withdrawal + (stop_intake / 10).max(Duration::from_secs(1)) <= stop_intake,
        "withdrawal {withdrawal:?} vs stop_intake {stop_intake:?}"
    );
    assert_eq!(
        ms(&budget["stop_intake_ms"]),
        stop_intake,
        "the Api's stop intake is the longest"
    );

    // Readiness notices the failure within the withdrawal delay.
    let probes = lifecycle::http::Probes::new();
    let readiness = &container["readinessProbe"];
    assert_eq!(readiness["httpGet"]["path"], probes.ready_path());
    let noticed =
        secs(&readiness["periodSeconds"]) * readiness["failureThreshold"].as_u64().unwrap() as u32;
    assert!(
        noticed <= withdrawal,
        "readiness notices after {noticed:?}, withdrawal is {withdrawal:?}"
    );

    // Liveness stays true through shutdown; it tolerates a stall as long as
    // the grace period, no shorter (a restart would cut a slow drain).
    let liveness = &container["livenessProbe"];
    assert_eq!(liveness["httpGet"]["path"], probes.live_path());
    let tolerated =
        secs(&liveness["periodSeconds"]) * liveness["failureThreshold"].as_u64().unwrap() as u32;
    assert!(
        tolerated >= grace,
        "liveness restarts after {tolerated:?} < grace {grace:?}"
    );

    // The start-up probe allows the whole start budget.
    let startup = &container["startupProbe"];
    let allowed =
        secs(&startup["periodSeconds"]) * startup["failureThreshold"].as_u64().unwrap() as u32;
    assert!(
        allowed >= start_budget(&graph),
        "startupProbe {allowed:?} < start budget {:?}",
        start_budget(&graph)
    );

    // Probes and traffic reach the port the server listens on.
    let port = port(&env["ORDERS_ADDR"]);
    assert_eq!(container["ports"][0]["containerPort"], json!(port));
    assert_eq!(readiness["httpGet"]["port"], container["ports"][0]["name"]);
}

/// A systemd unit's settings (the last of each key) and its `Environment=`.
fn unit(path: &str) -> (HashMap<String, String>, HashMap<String, String>) {
    let mut keys = HashMap::new();
    let mut env = HashMap::new();
    for line in read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '[']))
    {
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a setting: {line}"));
        if key == "Environment" {
            let (k, v) = value.split_once('=').unwrap();
            env.insert(k.to_owned(), v.to_owned());
        } else {
            keys.insert(key.to_owned(), value.to_owned());
        }
    }
    (keys, env)
}

/// The port of an `IP:PORT` address.
fn port(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn systemd_unit_matches_the_budget() {
    let (keys, env) = unit("deploy/systemd/orders.service");
    let seconds = |key: &str| {
        Duration::from_secs(
            keys[key]
                .parse()
                .unwrap_or_else(|_| panic!("{key}: seconds")),
        )
    };
    // The pid file's directory is the unit's RuntimeDirectory, which systemd
    // creates (checked below); the run here has none, and a pid file whose
    // directory is missing is refused at start-up.
    let mut run_env = env.clone();
    run_env.remove("LIFECYCLE_PID_FILE");
    let graph = orders_graph(&run_env);
    let budget = &graph["budget"];

    assert_eq!(
        keys["Type"], "notify",
        "READY=1 comes from the `systemd` feature"
    );
    assert_eq!(keys["KillSignal"], "SIGTERM");
    let stop = seconds("TimeoutStopSec");
    assert_eq!(
        ms(&budget["grace_period_ms"]),
        stop,
        "LIFECYCLE_GRACE_PERIOD != TimeoutStopSec"
    );
    assert_eq!(budget["fits"], true, "{budget}");
    assert!(
        ms(&budget["total_ms"]) + Duration::from_secs(2) <= stop,
        "{budget}"
    );
    assert!(seconds("TimeoutStartSec") >= start_budget(&graph));
    // Pings every WatchdogSec/2: at least a second apart, and a hang is
    // caught before a stop would time out.
    let watchdog = seconds("WatchdogSec");
    assert!(
        watchdog >= Duration::from_secs(2) && watchdog <= stop,
        "WatchdogSec={watchdog:?}"
    );
    assert_eq!(
        env["ORDERS_WITHDRAWAL_MS"], "0",
        "no load balancer to withdraw from"
    );

    // In-place upgrade: reload sends SIGUSR2 to the main process, and the
    // old process's MAINPID= is heard (from the main process).
    assert_eq!(keys["ExecReload"], "/bin/kill -USR2 $MAINPID");
    assert!(
        ["main", "all"].contains(&keys["NotifyAccess"].as_str()),
        "MAINPID= from the old process must be heard"
    );
    let pid_file = Path::new(&env["LIFECYCLE_PID_FILE"]);
    assert_eq!(
        pid_file.parent(),
        Some(Path::new("/run").join(&keys["RuntimeDirectory"]).as_path()),
        "the pid file lives in the unit's runtime directory"
    );
}

#[test]
fn systemd_socket_unit_feeds_the_service() {
    let (socket, _) = unit("deploy/systemd/orders.socket");
    let (service, env) = unit("deploy/systemd/orders.service");
    assert_eq!(socket["Service"], "orders.service");
    // The same port with or without the socket unit.
    assert_eq!(port(&socket["ListenStream"]), port(&env["ORDERS_ADDR"]));
    // The Server takes a passed socket by its name, else the first one; the
    // name is also the one an in-place upgrade hands the socket over under.
    assert_eq!(socket["FileDescriptorName"], "http");
    assert!(socket["Backlog"].parse::<u32>().unwrap() >= 128);
    assert_eq!(service["Type"], "notify");
}

/// Just enough YAML for the manifests: block maps and lists, scalars, quoted
/// strings, `# comments`. Anything else is a test failure, not a guess.
mod yaml {
    use serde_json::{Map, Value};

    pub fn parse(text: &str) -> Value {
        let mut lines: Vec<(usize, String)> = text
            .lines()
            .map(strip_comment)
            .filter(|l| !l.trim().is_empty() && l.trim() != "---")
            .map(|l| (l.len() - l.trim_start().len(), l.trim().to_owned()))
            .collect();
        let mut i = 0;
        let value = block(&mut lines, &mut i, 0);
        assert_eq!(i, lines.len(), "unparsed YAML from {:?}", lines.get(i));
        value
    }

    fn strip_comment(line: &str) -> &str {
        let mut quoted = None;
        for (i, c) in line.char_indices() {
            match (c, quoted) {
                ('"' | '\'', None) => quoted = Some(c),
                (q, Some(open)) if q == open => quoted = None,
                ('#', None) if i == 0 || line[..i].ends_with(' ') => return &line[..i],
                _ => {}
            }
        }
        line
    }

    fn block(lines: &mut [(usize, String)], i: &mut usize, indent: usize) -> Value {
        if lines[*i].1.starts_with('-') {
            let mut items = Vec::new();
            while *i < lines.len() && lines[*i].0 == indent && lines[*i].1.starts_with('-') {
                let rest = lines[*i].1[1..].trim_start().to_owned();
                if rest.is_empty() {
                    *i += 1;
                    let child = lines[*i].0;
                    items.push(block(lines, i, child));
                } else if rest.contains(": ") || rest.ends_with(':') {
                    // `- key: value` starts a map indented past the dash.
                    let inner = indent + (lines[*i].1.len() - rest.len());
                    lines[*i] = (inner, rest);
                    items.push(block(lines, i, inner));
                } else {
                    items.push(scalar(&rest));
                    *i += 1;
                }
            }
            return Value::Array(items);
        }
        let mut map = Map::new();
        while *i < lines.len() && lines[*i].0 == indent && !lines[*i].1.starts_with('-') {
            let line = lines[*i].1.clone();
            let (key, value) = match line.split_once(": ") {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (
                    line.strip_suffix(':')
                        .unwrap_or_else(|| panic!("not YAML: {line}")),
                    "",
                ),
            };
            *i += 1;
            let value = if !value.is_empty() {
                assert!(
                    !value.starts_with(['{', '[', '|', '>', '&', '*']),
                    "unsupported YAML: {line}"
                );
                scalar(value)
            } else if *i < lines.len()
                && (lines[*i].0 > indent || (lines[*i].0 == indent && lines[*i].1.starts_with('-')))
            {
                let child = lines[*i].0;
                block(lines, i, child)
            } else {
                Value::Null
            };
            map.insert(key.to_owned(), value);
        }
        Value::Object(map)
    }

    fn scalar(text: &str) -> Value {
        if let Some(s) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            return Value::String(s.to_owned());
        }
        if let Some(s) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            return Value::String(s.to_owned());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Value::from(n);
        }
        match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        }
    }

    #[test]
    fn parses_the_subset() {
        let v = parse("a: 1\nb:\n  - name: x # note\n    value: \"#2\"\n  - y\nc:\n  d: true\n");
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": [{"name": "x", "value": "#2"}, "y"], "c": {"d": true}})
        );
    }
}
