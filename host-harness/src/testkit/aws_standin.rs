//! A local stand-in for AWS in the worker's tests and bench: an HTTP server on
//! 127.0.0.1 that answers every request with one configured response (a
//! Textract body, an AWS error), optionally after a delay, and records what it
//! was sent. It checks nothing about signatures; moto does that in its tier.

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the stand-in answers.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// Extra response headers (a recording's `Date` and request id, say).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Duration,
}

impl Answer {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// `x-amz-target`, e.g. `Textract.AnalyzeDocument`.
    pub target: Option<String>,
    pub authorization: bool,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
}

pub struct AwsStandIn {
    port: u16,
    answer: Arc<Mutex<Answer>>,
    state: Arc<Mutex<State>>,
    _runtime: Option<tokio::runtime::Runtime>,
}

impl AwsStandIn {
    /// Serves on its own runtime in a background thread: usable from sync tests
    /// that run worker processes.
    pub fn start(answer: Answer) -> Result<AwsStandIn> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the AWS stand-in's runtime")?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("binding the AWS stand-in")?;
        let port = listener.local_addr()?.port();
        let answer = Arc::new(Mutex::new(answer));
        let state = Arc::new(Mutex::new(State::default()));
        let (a, s) = (answer.clone(), state.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (a, s) = (a.clone(), s.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| serve(request, a.clone(), s.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(AwsStandIn {
            port,
            answer,
            state,
            _runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint override the inputs use.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, for `--allow-host`.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn set_answer(&self, answer: Answer) {
        if let Ok(mut a) = self.answer.lock() {
            *a = answer;
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().map(|s| s.seen.clone()).unwrap_or_default()
    }
}

async fn serve(
    request: hyper::Request<hyper::body::Incoming>,
    answer: Arc<Mutex<Answer>>,
    state: Arc<Mutex<State>>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        target: header("x-amz-target"),
        authorization: parts.headers.contains_key("authorization"),
        body,
    };
    if let Ok(mut s) = state.lock() {
        s.seen.push(seen);
    }
    let answer = answer.lock().map(|a| a.clone()).unwrap_or_else(|p| p.into_inner().clone());
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = hyper::Response::new(Full::new(Bytes::from(answer.body.clone())));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::OK);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    for (name, value) in &answer.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
