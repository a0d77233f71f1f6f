//! Health probes: `GET /health/live` and `GET /health/ready`, answered from
//! the application's [`Health`].

use crate::context::health::Health;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};

/// Where the probes answer. The defaults are `/health/live` and `/health/ready`.
///
/// - *live*: `200` until the process exits (failing liveness mid-drain
///   would get the process restarted and abort the work it is finishing).
/// - *ready*: `200` only when every component has started, shutdown has not
///   begun and every component's [`Service::ready`](crate::Service::ready)
///   check passes; otherwise `503` with a short JSON body naming what is not
///   ready, like
///   `{"ready":false,"not_ready":[{"component":"application","reason":"shutting down"}]}`.
///
/// ```
/// use lifecycle::http::Probes;
///
/// let probes = Probes::new().live("/livez").ready("/readyz");
/// assert_eq!(probes.ready_path(), "/readyz");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probes {
    live: String,
    ready: String,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            live: "/health/live".to_owned(),
            ready: "/health/ready".to_owned(),
        }
    }
}

/// Which probe a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Live,
    Ready,
}

impl Probes {
    /// The default paths.
    pub fn new() -> Self {
        Probes::default()
    }

    /// Serves liveness at `path`.
    pub fn live(mut self, path: impl Into<String>) -> Self {
        self.live = path.into();
        self
    }

    /// Serves readiness at `path`.
    pub fn ready(mut self, path: impl Into<String>) -> Self {
        self.ready = path.into();
        self
    }

    /// The liveness path.
    pub fn live_path(&self) -> &str {
        &self.live
    }

    /// The readiness path.
    pub fn ready_path(&self) -> &str {
        &self.ready
    }

    pub(crate) fn matches(&self, path: &str) -> Option<Probe> {
        if path == self.live {
            Some(Probe::Live)
        } else if path == self.ready {
            Some(Probe::Ready)
        } else {
            None
        }
    }
}

/// Answers `probe` for `method`.
pub(crate) async fn answer(probe: Probe, method: &Method, health: &Health) -> Response<Bytes> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            "{\"error\":\"use GET\"}".to_owned(),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match probe {
        Probe::Live if health.is_live() => json(StatusCode::OK, "{\"live\":true}".to_owned()),
        Probe::Live => json(
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"live\":false}".to_owned(),
        ),
        Probe::Ready => {
            let readiness = health.readiness().await;
            if readiness.ready {
                json(StatusCode::OK, "{\"ready\":true}".to_owned())
            } else {
                let mut body = String::from("{\"ready\":false,\"not_ready\":[");
                for (i, (component, reason)) in readiness.not_ready.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str("{\"component\":");
                    crate::json::string(&mut body, component);
                    body.push_str(",\"reason\":");
                    crate::json::string(&mut body, reason);
                    body.push('}');
                }
                body.push_str("]}");
                json(StatusCode::SERVICE_UNAVAILABLE, body)
            }
        }
    }
}

fn json(status: StatusCode, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Appends `value` as a JSON string literal.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_configured_paths_only() {
        let probes = Probes::new().ready("/readyz");
        assert_eq!(probes.matches("/readyz"), Some(Probe::Ready));
        assert_eq!(probes.matches("/health/live"), Some(Probe::Live));
        assert_eq!(probes.matches("/health/ready"), None);
    }
}
