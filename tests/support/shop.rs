//! Talking to the shop example from a test thread: a blocking HTTP/1.1
//! request with a deadline, orders, and the readiness probe.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// An order the shop accepts.
pub const ORDER: &str =
    r#"{"items":[{"sku":"tea-sencha","quantity":2},{"sku":"mug-stoneware","quantity":1}]}"#;

/// One request on its own connection (`Connection: close`), answered within
/// `timeout` or `Err`. Returns the status code and the body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Ok((status, body))
}

/// Whether `/health/ready` at `addr` answers 200, and its body.
pub fn ready(addr: SocketAddr) -> (bool, String) {
    match request(addr, "GET", "/health/ready", "", Duration::from_secs(2)) {
        Ok((status, body)) => (status == 200, body),
        Err(error) => (false, error),
    }
}

/// The address after `key=` in a log line (`addr=127.0.0.1:4000`).
pub fn addr_in(line: &str, key: &str) -> SocketAddr {
    line.split(&format!("{key}="))
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}
