//! The component's side of the seams: [`HttpClient`] over
//! `wasi:http/outgoing-handler`, and [`Platform`] over wasi's clocks,
//! `wasi:random` and stderr. Blocking, with no async runtime: the connector
//! makes one call at a time.

use crate::error::{Error, Result};
use crate::platform::http::{HttpClient, HttpRequest, HttpResponse};
use crate::platform::Platform;
use std::io::Write as _;
use std::time::{Duration, SystemTime};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
use wasip2::io::streams::StreamError;

pub struct WasiHttp;

pub struct WasiPlatform;

impl Platform for WasiPlatform {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }

    fn sleep(&mut self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::subscribe_duration(nanos).block();
    }

    fn random_u64(&mut self) -> u64 {
        wasip2::random::random::get_random_u64()
    }

    fn progress(&mut self, line: &str) {
        // Progress is best effort: a closed stderr must not fail the task. Values
        // in the line (job ids, status messages) come from the network: escaped.
        let _ = writeln!(std::io::stderr(), "{}", super::printable(line));
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn read_file(&self, path: &str) -> std::result::Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| e.kind().to_string())
    }

    fn operator_allows(&self, host: &str, port: u16) -> bool {
        crate::bindings::textract::connector::runtime::operator_allows(host, port)
    }

    fn memory_limit(&self) -> Option<u64> {
        Some(crate::bindings::textract::connector::runtime::memory_limit())
    }
}

/// The most bytes one read of a response body asks for. The host hands over
/// what it has, up to this, in one allocation; large reads mean few copies of a
/// 1 MB body (the guest's memory limit still bounds what a body may take).
const READ_CHUNK: u64 = 4 * 1024 * 1024;

impl HttpClient for WasiHttp {
    fn send(&mut self, req: &HttpRequest) -> Result<HttpResponse> {
        let (scheme, rest) = req
            .url
            .split_once("://")
            .ok_or_else(|| rejected(&req.url, "not an absolute URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let host = authority.to_string();

        let entries: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
            .collect();
        let fields =
            Fields::from_list(&entries).map_err(|e| rejected(authority, &format!("a header was refused ({e:?})")))?;
        let request = OutgoingRequest::new(fields);
        let method = match req.method {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "HEAD" => Method::Head,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_string()),
        };
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            Scheme::Https
        };
        let setup_failed = |what: &str| rejected(authority, &format!("the request's {what} was refused"));
        request.set_method(&method).map_err(|_| setup_failed("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|_| setup_failed("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|_| setup_failed("authority"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|_| setup_failed("path"))?;
        let body = request.body().map_err(|_| setup_failed("body"))?;

        // Hand the request over first, then stream the body while the host reads it:
        // writing a large body before `handle` would stall on the host's buffer.
        let options = match req.timeout {
            None => None,
            Some(limit) => {
                let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
                let options = RequestOptions::new();
                // A host may not support a timeout; the request still goes out.
                let _ = options.set_connect_timeout(Some(nanos));
                let _ = options.set_first_byte_timeout(Some(nanos));
                Some(options)
            }
        };
        let future = outgoing_handler::handle(request, options).map_err(|e| transport(&host, e))?;
        let written =
            write_body(&body, &req.body).and_then(|()| OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}")));

        let incoming = loop {
            match future.get() {
                Some(result) => break result,
                None => future.subscribe().block(),
            }
        };
        // When the host refuses or fails the request, the body stream breaks too;
        // the response's error code says why, so it wins over the write error.
        if let (Err(write_error), Ok(Ok(_)) | Err(_)) = (&written, &incoming) {
            return Err(Error::Transport {
                code: "ConnectionError".into(),
                message: format!("Sending the request body to {host} failed: {write_error}"),
            });
        }
        let response = incoming
            .map_err(|_| Error::Internal("response taken twice".into()))?
            .map_err(|e| transport(&host, e))?;

        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming_body = response.consume().map_err(|_| setup_failed("response body"))?;
        let mut bytes = Vec::new();
        {
            let stream = incoming_body.stream().map_err(|_| setup_failed("response stream"))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    // The first chunk is kept as it came (often the whole body): no copy.
                    Ok(chunk) if bytes.is_empty() => bytes = chunk,
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(Error::Transport {
                            code: "ConnectionError".into(),
                            message: format!("Reading the response from {host} failed: {}", host_detail(&e.to_debug_string())),
                        })
                    }
                }
            }
        }
        drop(incoming_body);
        Ok(HttpResponse {
            status,
            headers,
            body: bytes,
        })
    }
}

fn write_body(body: &OutgoingBody, mut data: &[u8]) -> std::result::Result<(), String> {
    let stream = body.write().map_err(|_| "no body stream".to_string())?;
    while !data.is_empty() {
        let permitted = stream.check_write().map_err(|e| format!("{e:?}"))?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = (permitted as usize).min(data.len());
        let (now, later) = data.split_at(n);
        stream.write(now).map_err(|e| format!("{e:?}"))?;
        data = later;
    }
    stream.blocking_flush().map_err(|e| format!("{e:?}"))?;
    Ok(())
}

/// A request the runtime will not take (a header, authority or path with
/// characters HTTP cannot carry): built from the task's values or a service's
/// answer, so the input's to fix, and never the connector's defect.
fn rejected(target: &str, why: &str) -> Error {
    Error::InvalidInput {
        code: "RequestRejected",
        message: format!(
            "The call to {} could not be made: {why}",
            super::printable(&target.chars().take(200).collect::<String>())
        ),
    }
}

/// The part of a host's error text that goes into a tenant's message: its first
/// line, at most 200 characters, control characters escaped. The rest is the
/// host's business: with backtraces enabled, Wasmtime's debug text of a stream
/// error carries the host's whole stack (its paths, crates and versions).
fn host_detail(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim_end();
    super::printable(&line.chars().take(200).collect::<String>()).into_owned()
}

/// A wasi-http error as a connector error: a denied host is a policy refusal,
/// everything else a transport failure that a retry may fix.
fn transport(host: &str, e: ErrorCode) -> Error {
    if matches!(e, ErrorCode::HttpRequestDenied) {
        return Error::EgressDenied { host: host.to_string() };
    }
    let debug = format!("{e:?}");
    let name = debug.trim_start_matches("ErrorCode::");
    let code: String = name.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    Error::Transport {
        code: if code.is_empty() {
            "ConnectionError".into()
        } else {
            code
        },
        message: format!("Could not complete the call to {host}: {}", host_detail(name)),
    }
}
