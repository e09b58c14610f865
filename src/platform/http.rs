//! The connector's one I/O seam. Core logic builds [`HttpRequest`]s and reads
//! [`HttpResponse`]s; the component sends them over wasi-http, unit tests over a
//! fake. Nothing else in the crate touches the network.

use crate::error::Result;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    /// Absolute URL: `scheme://authority/path?query`, already percent-encoded.
    pub url: String,
    /// Header names in lower case. `host` is implied by the URL and never listed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long to wait to connect and for the first byte; `None` is the host's default.
    /// Metadata endpoints get a short one: off EC2 or ECS nothing answers there.
    pub timeout: Option<Duration>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Headers in the order received; a name may repeat.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Sends one request and waits for the whole response. Transport failures come
/// back as [`crate::error::Error::Transport`] or [`crate::error::Error::EgressDenied`].
pub trait HttpClient {
    fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse>;
}

#[cfg(test)]
pub mod fake {
    //! A scripted client for unit tests: it records every request and answers
    //! from a queue.
    use super::*;
    use crate::error::Error;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct FakeHttp {
        pub requests: Vec<HttpRequest>,
        pub responses: VecDeque<Result<HttpResponse>>,
    }

    impl FakeHttp {
        pub fn answering(responses: Vec<Result<HttpResponse>>) -> Self {
            FakeHttp {
                requests: Vec::new(),
                responses: responses.into(),
            }
        }

        pub fn json(status: u16, body: &str) -> Result<HttpResponse> {
            Ok(HttpResponse {
                status,
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amzn-requestid".into(), "req-1".into()),
                ],
                body: body.as_bytes().to_vec(),
            })
        }
    }

    impl HttpClient for FakeHttp {
        fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse> {
            self.requests.push(request.clone());
            self.responses
                .pop_front()
                .unwrap_or_else(|| Err(Error::Internal("fake: no response left".into())))
        }
    }
}
