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
pub mod egress;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
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
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("http") { 80 } else { 443 });
        if !self.policy.allows(&host, port) {
            lock(&self.journal).denied.push(format!("{} {uri}", parts.method));
            return Err(HttpError::HttpRequestDenied);
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
                let forwarded = http::Request::from_parts(parts, full_body(bytes));
                let (response, io) = wasmtime_wasi_http::default_send_request(forwarded, options).await?;
                let driver = tokio::spawn(io);
                let (parts, body) = response.into_parts();
                let limited = http_body_util::Limited::new(body, self.limits.max_response_bytes)
                    .collect()
                    .await;
                driver.abort();
                let body = match limited {
                    Ok(collected) => collected.to_bytes().to_vec(),
                    Err(_) => return Err(self.response_too_large()),
                };
                let headers = header_pairs(&parts.headers);
                if let Mode::Record(recorded) = &self.mode {
                    lock(recorded).push(cassette::record(&seen, parts.status.as_u16(), &headers, &body));
                }
                (parts.status.as_u16(), headers, body)
            }
        };

        if body.len() > self.limits.max_response_bytes {
            return Err(self.response_too_large());
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

    fn response_too_large(&self) -> HttpError {
        let limit = self.limits.max_response_bytes;
        lock(&self.journal).limit_exceeded.get_or_insert_with(|| {
            GuestError::limit(
                "ResponseSizeLimitExceeded",
                format!("A response body was larger than the limit of {limit} bytes; the execution was stopped"),
            )
        });
        HttpError::HttpResponseBodySize(Some(limit as u64))
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
        Box::new(self.clone().handle(request, options))
    }
}
