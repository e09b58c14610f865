//! The wasi-http send hook: every request the guest makes passes through here.
//! The egress policy is checked first; then the request is answered from a
//! cassette (replay), forwarded and written down (record), or forwarded (live).
//!
//! Two kinds of failure are kept apart, as in Wasmtime's own wasi-http tests:
//! what the guest sees is always an ordinary wasi-http error, while harness
//! problems (a cassette miss, a failed signature assertion) go into the
//! [`Journal`] and fail the run after the guest returns.

use crate::limits::Limits;
use crate::outcome::GuestError;
use cassette::{Cassette, Interaction, SeenRequest};
use egress::EgressPolicy;

pub mod cassette;
pub mod connect;
pub mod egress;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// What happened on the wire during one execution.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    /// Every request the guest sent that the policy let through, in order.
    pub sent: Vec<SeenRequest>,
    /// Requests refused by the egress policy (`METHOD url`).
    pub denied: Vec<String>,
    /// The rule that refused each of them, in the same order.
    pub denied_why: Vec<String>,
    /// Time spent answering requests (replay lookups, building responses).
    pub http_time: std::time::Duration,
    /// Harness-level failures: the run fails even if the guest coped.
    pub problems: Vec<String>,
    /// A per-execution limit the traffic passed: it decides the execution's outcome.
    pub limit_exceeded: Option<GuestError>,
}

/// Serves requests from a cassette, first unused match wins.
#[derive(Debug)]
pub struct Replayer {
    cassette: Cassette,
    base: PathBuf,
    used: Vec<bool>,
}

impl Replayer {
    pub fn new(cassette: Cassette, base: PathBuf) -> Self {
        let used = vec![false; cassette.interactions.len()];
        Replayer { cassette, base, used }
    }

    /// The matching interaction's index, or a readable account of the miss.
    fn find(&mut self, seen: &SeenRequest) -> Result<usize, String> {
        let mut closest: Option<(usize, Vec<String>)> = None;
        for (i, interaction) in self.cassette.interactions.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let diffs = cassette::differences(&interaction.request, seen, &self.base);
            if diffs.is_empty() {
                self.used[i] = true;
                return Ok(i);
            }
            if closest.as_ref().is_none_or(|(_, d)| diffs.len() < d.len()) {
                closest = Some((i, diffs));
            }
        }
        Err(match closest {
            None => format!(
                "cassette miss: {} — every recorded interaction is already used",
                seen.summary()
            ),
            Some((i, diffs)) => format!(
                "cassette miss: {} — the closest unused interaction (#{}) differs:\n    {}",
                seen.summary(),
                i + 1,
                diffs.join("\n    ")
            ),
        })
    }

    /// Interactions that were never requested.
    pub fn unused(&self) -> Vec<String> {
        self.cassette
            .interactions
            .iter()
            .zip(&self.used)
            .enumerate()
            .filter(|(_, (_, used))| !**used)
            .map(|(i, (interaction, _))| {
                format!(
                    "interaction #{} ({} {}) was never requested",
                    i + 1,
                    interaction.request.method,
                    interaction.request.url
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub enum Mode {
    Replay(Arc<Mutex<Replayer>>),
    Record(Arc<Mutex<Vec<Interaction>>>),
    Live,
}

/// The hook installed in each execution's store.
#[derive(Clone)]
pub struct Transport {
    pub policy: Arc<EgressPolicy>,
    pub mode: Mode,
    pub journal: Arc<Mutex<Journal>>,
    pub limits: Limits,
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
/// A response to hand the guest: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);
type Reply = Result<(http::Response<WasiBody>, IoFuture), HttpError>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not hide what was recorded: take the data anyway.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Transport {
    async fn handle(self, request: http::Request<WasiBody>, options: Option<RequestOptions>) -> Reply {
        let (parts, body) = request.into_parts();
        let uri = parts.uri.clone();
        let host = uri.host().unwrap_or_default().to_string();
        let tls = uri.scheme_str() != Some("http");
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let Some(admission) = self.policy.admission(&host, port) else {
            return Err(self.deny(&parts.method, &uri, "not an allowed host"));
        };
        // Any spelling of an IP address is checked as the address it is.
        let literal = egress::parse_ip(&host);
        if let Some(ip) = literal {
            if !self.policy.address_allowed(ip, admission) {
                return Err(self.deny(&parts.method, &uri, "not an allowed address"));
            }
        }
        {
            let mut journal = lock(&self.journal);
            if journal.sent.len() >= self.limits.max_requests {
                journal.limit_exceeded.get_or_insert_with(|| {
                    GuestError::limit(
                        "RequestLimitExceeded",
                        format!(
                            "The execution made more than its limit of {} outgoing requests and was stopped",
                            self.limits.max_requests
                        ),
                    )
                });
                return Err(HttpError::ConnectionLimitReached);
            }
        }
        let bytes = body.collect().await?.to_bytes();
        let seen = SeenRequest {
            method: parts.method.to_string(),
            url: uri.to_string(),
            headers: header_pairs(&parts.headers),
            body: bytes.to_vec(),
        };
        lock(&self.journal).sent.push(seen.clone());
        let limit = self.response_limit();

        let (status, headers, body) = match &self.mode {
            Mode::Replay(replayer) => match self.replay(replayer, &seen) {
                Ok(answer) => answer,
                Err(problem) => {
                    lock(&self.journal).problems.push(problem);
                    return Err(HttpError::InternalError(Some(
                        "no recorded response for this request".into(),
                    )));
                }
            },
            Mode::Record(_) | Mode::Live => {
                // Resolve once, check every address, connect to one that passed:
                // a name that resolves to a refused address is refused (DNS rebinding).
                let candidates: Vec<SocketAddr> = match literal {
                    Some(ip) => vec![SocketAddr::new(egress::canonical_ip(ip), port)],
                    None => tokio::net::lookup_host((host.as_str(), port))
                        .await
                        .map_err(HttpError::Connect)?
                        .collect(),
                };
                let Some(addr) = candidates
                    .into_iter()
                    .find(|a| self.policy.address_allowed(a.ip(), admission))
                else {
                    return Err(self.deny(&parts.method, &uri, "resolves only to addresses the policy refuses"));
                };
                let forwarded = http::Request::from_parts(parts, full_body(bytes));
                let response = connect::send(forwarded, addr, &host, tls, options).await?;
                let (parts, incoming) = response.into_parts();
                let journal = self.journal.clone();
                let metered = connect::Metered {
                    inner: incoming,
                    seen: 0,
                    limit: limit as u64,
                    on_limit: Some(move || Transport::note_too_large(&journal, limit)),
                };
                let Mode::Record(recorded) = &self.mode else {
                    // Live: the body streams to the guest as it arrives.
                    let response = http::Response::from_parts(parts, metered.boxed_unsync());
                    return Ok((response, Box::new(async { Ok(()) }) as IoFuture));
                };
                // Record: the cassette needs the whole body (an operator's tool).
                let body = metered.collect().await?.to_bytes().to_vec();
                let headers = header_pairs(&parts.headers);
                lock(recorded).push(cassette::record(&seen, parts.status.as_u16(), &headers, &body));
                (parts.status.as_u16(), headers, body)
            }
        };

        if body.len() > limit {
            Transport::note_too_large(&self.journal, limit);
            return Err(HttpError::HttpResponseBodySize(Some(limit as u64)));
        }
        let mut builder = http::Response::builder().status(status);
        for (k, v) in &headers {
            builder = builder.header(k, v);
        }
        let response = builder
            .body(full_body(Bytes::from(body)))
            .map_err(|e| HttpError::InternalError(Some(format!("bad recorded response: {e}"))))?;
        Ok((response, Box::new(async { Ok(()) }) as IoFuture))
    }

    /// The largest response body an execution may receive: `--max-response-bytes`,
    /// and never more than its memory could hold.
    fn response_limit(&self) -> usize {
        self.limits.max_response_bytes.min(self.limits.max_memory)
    }

    fn deny(&self, method: &http::Method, uri: &http::Uri, why: &str) -> HttpError {
        let mut journal = lock(&self.journal);
        journal.denied.push(format!("{method} {uri}"));
        journal.denied_why.push(why.to_string());
        HttpError::HttpRequestDenied
    }

    fn note_too_large(journal: &Mutex<Journal>, limit: usize) {
        lock(journal).limit_exceeded.get_or_insert_with(|| {
            GuestError::limit(
                "ResponseSizeLimitExceeded",
                format!("A response body was larger than the limit of {limit} bytes; the execution was stopped"),
            )
        });
    }

    fn replay(&self, replayer: &Mutex<Replayer>, seen: &SeenRequest) -> Result<Answer, String> {
        let mut replayer = lock(replayer);
        let index = replayer.find(seen)?;
        let interaction = &replayer.cassette.interactions[index];
        let signed = cassette::signed_differences(&interaction.request, seen);
        if !signed.is_empty() {
            return Err(format!("{}: {}", seen.summary(), signed.join("; ")));
        }
        let response = &interaction.response;
        let mut headers = Vec::new();
        for (k, v) in &response.headers {
            match v {
                serde_json::Value::Array(values) => headers.extend(
                    values
                        .iter()
                        .filter_map(|x| x.as_str())
                        .map(|x| (k.clone(), x.to_string())),
                ),
                other => headers.push((k.clone(), other.as_str().unwrap_or_default().to_string())),
            }
        }
        let body = response.body.bytes(&replayer.base).map_err(|e| format!("{e:#}"))?;
        Ok((response.status, headers, body))
    }
}

/// Header names and values as text, in order, names lower-case (as `http` keeps them).
fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn full_body(bytes: Bytes) -> WasiBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

impl WasiHttpHooks for Transport {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Reply> + Send> {
        let transport = self.clone();
        Box::new(async move {
            let started = std::time::Instant::now();
            let journal = transport.journal.clone();
            let reply = transport.handle(request, options).await;
            lock(&journal).http_time += started.elapsed();
            reply
        })
    }
}

#[cfg(test)]
mod tests {
    //! The live sender against local servers: what is refused after DNS, what a
    //! body cut short or too large becomes.
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A one-shot HTTP server that answers every connection with `reply`.
    fn serve(reply: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(reply);
            }
        });
        port
    }

    fn transport(policy: EgressPolicy, limits: Limits) -> Transport {
        Transport {
            policy: Arc::new(policy),
            mode: Mode::Live,
            journal: Arc::new(Mutex::new(Journal::default())),
            limits,
        }
    }

    fn get(url: &str) -> http::Request<WasiBody> {
        http::Request::get(url).body(full_body(Bytes::new())).unwrap()
    }

    async fn body_of(reply: Reply) -> Result<Vec<u8>, HttpError> {
        let (response, _) = reply?;
        Ok(response.into_body().collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_unless_named_exactly() {
        let port = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        // Admitted by name as an implied entry is: localhost resolves to loopback.
        let mut policy = EgressPolicy::default();
        policy.imply(&format!("localhost:{port}"));
        let t = transport(policy, Limits::default());
        let reply = t.clone().handle(get(&format!("http://localhost:{port}/")), None).await;
        assert!(matches!(reply, Err(HttpError::HttpRequestDenied)));
        assert_eq!(
            lock(&t.journal).denied_why,
            ["resolves only to addresses the policy refuses"]
        );
        // Spelled as a number, the address is still loopback.
        let reply = t.clone().handle(get(&format!("http://2130706433:{port}/")), None).await;
        assert!(matches!(reply, Err(HttpError::HttpRequestDenied)));

        let mut policy = EgressPolicy::default();
        policy.allow(&format!("localhost:{port}"));
        let t = transport(policy, Limits::default());
        let reply = t.clone().handle(get(&format!("http://localhost:{port}/")), None).await;
        assert_eq!(body_of(reply).await.unwrap(), b"ok");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_a_stream_error_not_a_limit() {
        let port = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
        let mut policy = EgressPolicy::default();
        policy.allow(&format!("127.0.0.1:{port}"));
        let t = transport(policy, Limits::default());
        let reply = t.clone().handle(get(&format!("http://127.0.0.1:{port}/")), None).await;
        assert!(body_of(reply).await.is_err());
        assert!(
            lock(&t.journal).limit_exceeded.is_none(),
            "a cut body is not a size limit"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_stops_the_execution_without_being_buffered() {
        let port = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123");
        let mut policy = EgressPolicy::default();
        policy.allow(&format!("127.0.0.1:{port}"));
        let limits = Limits {
            max_response_bytes: 1024,
            max_memory: 32,
            ..Limits::default()
        };
        let t = transport(policy, limits);
        let reply = t.clone().handle(get(&format!("http://127.0.0.1:{port}/")), None).await;
        assert!(matches!(
            body_of(reply).await,
            Err(HttpError::HttpResponseBodySize(Some(32)))
        ));
        let code = lock(&t.journal).limit_exceeded.as_ref().map(|e| e.code.clone());
        assert_eq!(code.as_deref(), Some("ResponseSizeLimitExceeded"));
    }
}
