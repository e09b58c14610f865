//! The worker's client of the Camunda 8 Orchestration Cluster REST API (v2):
//! job activation (a long poll), completion, failure, BPMN errors, and the
//! document API. It authenticates as the connection says (an OAuth token is
//! fetched with the client-credentials grant, cached until shortly before it
//! expires, and fetched again once on a 401) and sorts every answer into what
//! the job loop acts on: done, gone (404), the cluster being away, or refused.

use super::connection::{Auth, Connection};
use super::job::{ActivatedJob, Reply};
use crate::engine::documents::{plain_id, too_large, CreateError, ReadError, MAX_DOCUMENT_BYTES};
use crate::engine::runtime_log::escape_controls;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// Why a call to the cluster did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// Connection refused, a timeout, 5xx, 429 or 503 backpressure: try again later.
    Unavailable(String),
    /// The job is gone (404) or no longer activated (409): it timed out, was
    /// cancelled, or was completed elsewhere.
    NotFound(String),
    /// Any other refusal (400, 401 after a fresh token, 403, 409): retrying the same call is pointless.
    Rejected(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Unavailable(why) => write!(f, "the cluster is unavailable: {why}"),
            ClusterError::NotFound(why) => write!(f, "not found: {why}"),
            ClusterError::Rejected(why) => write!(f, "refused: {why}"),
        }
    }
}

/// Why `send_authorized` got no answer.
enum Unsent<E> {
    /// The request could not be built (the caller's own error).
    Build(E),
    /// No credentials to send (the OAuth server failed).
    Auth(ClusterError),
    Transport(reqwest::Error),
}

impl<E> Unsent<E> {
    /// The failure in plain words; `transport` says what a transport failure means here.
    fn describe(&self, transport: &str) -> String {
        match self {
            Unsent::Build(_) => "the request could not be built".into(),
            Unsent::Auth(e) => e.to_string(),
            Unsent::Transport(e) => format!("{transport}: {}", reason(e)),
        }
    }
}

/// One activation's request (`POST /v2/jobs/activation`).
#[derive(Debug, Clone)]
pub struct Activation {
    pub job_type: String,
    pub worker: String,
    pub timeout: Duration,
    pub max_jobs: usize,
    pub request_timeout: Duration,
    pub tenant_ids: Vec<String>,
}

struct Token {
    value: String,
    /// When to fetch a new one: shortly before it expires.
    refresh_at: Instant,
}

pub struct CamundaClient {
    http: reqwest::Client,
    connection: Connection,
    token: tokio::sync::Mutex<Option<Token>>,
}

/// The longest an answer about one job may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl CamundaClient {
    pub fn new(connection: Connection) -> anyhow::Result<CamundaClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("textract-host-worker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(CamundaClient {
            http,
            connection,
            token: tokio::sync::Mutex::new(None),
        })
    }

    pub fn address(&self) -> &str {
        &self.connection.rest_address
    }

    /// `POST /v2/jobs/activation`, held by the cluster up to `request_timeout`.
    pub async fn activate(&self, activation: &Activation) -> Result<Vec<ActivatedJob>, ClusterError> {
        let mut body = json!({
            "type": activation.job_type,
            "worker": activation.worker,
            "timeout": millis(activation.timeout),
            "maxJobsToActivate": activation.max_jobs,
            "requestTimeout": millis(activation.request_timeout),
        });
        if !activation.tenant_ids.is_empty() {
            body["tenantIds"] = json!(activation.tenant_ids);
        }
        let wait = activation.request_timeout + Duration::from_secs(10);
        let bytes = self.call(reqwest::Method::POST, "/jobs/activation", Some(&body), wait).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            jobs: Vec<ActivatedJob>,
        }
        serde_json::from_slice::<Answer>(&bytes)
            .map(|a| a.jobs)
            .map_err(|e| ClusterError::Rejected(format!("the activation answer is not what the API documents: {e}")))
    }

    /// Sends the job's outcome: `/completion`, `/failure` or `/error`.
    pub async fn reply(&self, job_key: &str, reply: &Reply) -> Result<(), ClusterError> {
        let (path, body) = match reply {
            Reply::Complete { variables } => ("completion", json!({ "variables": variables })),
            Reply::Fail {
                retries,
                message,
                backoff,
                variables,
            } => {
                let mut body = json!({
                    "retries": retries,
                    "errorMessage": message,
                    "retryBackOff": millis(*backoff),
                });
                if let Some(v) = variables {
                    body["variables"] = v.clone();
                }
                ("failure", body)
            }
            Reply::Error {
                code,
                message,
                variables,
            } => {
                let mut body = json!({ "errorCode": code, "errorMessage": message });
                if let Some(v) = variables {
                    body["variables"] = v.clone();
                }
                ("error", body)
            }
        };
        // The key came from the cluster; it is still only ever one path segment.
        if job_key.is_empty() || !job_key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ClusterError::Rejected("the job key is not a key".into()));
        }
        self.call(reqwest::Method::POST, &format!("/jobs/{job_key}/{path}"), Some(&body), CALL_TIMEOUT)
            .await
            .map(drop)
    }

    /// `GET /v2/documents/{documentId}?storeId=..&contentHash=..`: at most `MAX_DOCUMENT_BYTES`.
    pub async fn read_document(
        &self,
        store_id: Option<&str>,
        document_id: &str,
        content_hash: Option<&str>,
    ) -> Result<Vec<u8>, ReadError> {
        plain_id(document_id)?;
        let mut url = reqwest::Url::parse(&format!("{}/documents", self.connection.rest_address))
            .map_err(|e| ReadError::Unavailable(format!("the cluster address is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ReadError::Unavailable("the cluster address cannot take a path".into()))?
            .push(document_id);
        {
            let mut query = url.query_pairs_mut();
            if let Some(store) = store_id {
                query.append_pair("storeId", store);
            }
            if let Some(hash) = content_hash {
                query.append_pair("contentHash", hash);
            }
        }
        let mut response = self
            .send_authorized(|| Ok::<_, Infallible>(self.http.get(url.clone()).timeout(Duration::from_secs(300))))
            .await
            .map_err(|e| ReadError::Unavailable(e.describe("the document API did not answer")))?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            404 => return Err(ReadError::NotFound),
            401 | 403 => return Err(ReadError::Denied(format!("the document API answered HTTP {status}"))),
            _ => return Err(ReadError::Unavailable(format!("the document API answered HTTP {status}"))),
        }
        if response.content_length().unwrap_or(0) > MAX_DOCUMENT_BYTES {
            return Err(ReadError::Denied(too_large()));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ReadError::Unavailable(format!("the document download broke off: {}", reason(&e))))?
        {
            if (bytes.len() + chunk.len()) as u64 > MAX_DOCUMENT_BYTES {
                return Err(ReadError::Denied(too_large()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// `POST /v2/documents` as `multipart/form-data`: a `file` part (the bytes, with
    /// their file name and content type) and a `metadata` part (`application/json`:
    /// `contentType`, `fileName`, `size`), into the cluster's default store. The
    /// answer (201) is the document's reference, returned as the cluster wrote it.
    pub async fn create_document(
        &self,
        content: Vec<u8>,
        content_type: &str,
        file_name: &str,
    ) -> Result<String, CreateError> {
        if content.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(CreateError::Denied(too_large()));
        }
        let url = format!("{}/documents", self.connection.rest_address);
        let size = content.len() as u64;
        let metadata = json!({"contentType": content_type, "fileName": file_name, "size": size}).to_string();
        // Shared, not copied, by the retry after a 401.
        let content = bytes::Bytes::from(content);
        let build = || {
            let file = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(content.clone()), size)
                .file_name(file_name.to_string())
                .mime_str(content_type)
                .map_err(|_| CreateError::Denied(format!("'{}' is not a content type", escape_controls(content_type))))?;
            let meta = reqwest::multipart::Part::text(metadata.clone())
                .mime_str("application/json")
                .map_err(|e| CreateError::Unavailable(e.to_string()))?;
            let form = reqwest::multipart::Form::new().part("file", file).part("metadata", meta);
            Ok(self.http.post(&url).multipart(form).timeout(Duration::from_secs(300)))
        };
        let response = self.send_authorized(build).await.map_err(|e| match e {
            Unsent::Build(e) => e,
            other => CreateError::Unavailable(other.describe("the document API did not answer")),
        })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| CreateError::Unavailable(format!("the document API's answer broke off: {}", reason(&e))))?;
        let said = || format!("the document API answered {}", problem(status, &body));
        match status {
            200 | 201 => match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(_)) => String::from_utf8(body.to_vec())
                    .map_err(|_| CreateError::Unavailable("the document API's answer is not UTF-8".into())),
                _ => Err(CreateError::Unavailable(format!(
                    "the document API answered HTTP {status} without a document reference"
                ))),
            },
            // No document API here (an older or a document-less cluster).
            404 | 405 | 501 => Err(CreateError::Unsupported(said())),
            429 | 500..=599 => Err(CreateError::Unavailable(said())),
            _ => Err(CreateError::Denied(said())),
        }
    }

    /// One JSON call, with one fresh-token retry on 401; the answer's body on 2xx.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ClusterError> {
        let url = format!("{}{path}", self.connection.rest_address);
        let build = || {
            let request = self.http.request(method.clone(), &url).timeout(timeout);
            Ok::<_, Infallible>(match body {
                Some(body) => request.json(body),
                None => request,
            })
        };
        let response = self.send_authorized(build).await.map_err(|e| match e {
            Unsent::Auth(e) => e,
            Unsent::Transport(e) => ClusterError::Unavailable(reason(&e)),
            Unsent::Build(never) => match never {},
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClusterError::Unavailable(format!("the answer broke off: {}", reason(&e))))?;
        match status {
            200..=299 => Ok(bytes.to_vec()),
            // 404: gone; 409: no longer activated (e.g. an incident). Either way not ours.
            404 | 409 => Err(ClusterError::NotFound(problem(status, &bytes))),
            429 | 500..=599 => Err(ClusterError::Unavailable(problem(status, &bytes))),
            _ => Err(ClusterError::Rejected(problem(status, &bytes))),
        }
    }

    /// Sends the request `build` makes with the connection's `Authorization`;
    /// when the cluster refuses an OAuth token (401), once more with a fresh one.
    /// (A basic-auth pair is not worth sending twice.) Every call goes through here.
    async fn send_authorized<E>(
        &self,
        build: impl Fn() -> Result<reqwest::RequestBuilder, E>,
    ) -> Result<reqwest::Response, Unsent<E>> {
        let mut retried = false;
        loop {
            let mut request = build().map_err(Unsent::Build)?;
            if let Some(auth) = self.authorization().await.map_err(Unsent::Auth)? {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            let response = request.send().await.map_err(Unsent::Transport)?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED
                && !retried
                && matches!(self.connection.auth, Auth::OAuth { .. })
            {
                retried = true;
                self.forget_token().await;
                continue;
            }
            return Ok(response);
        }
    }

    /// The `Authorization` header value for the connection's strategy.
    async fn authorization(&self) -> Result<Option<String>, ClusterError> {
        match &self.connection.auth {
            Auth::None => Ok(None),
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let pair = format!("{username}:{}", password.expose());
                Ok(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )))
            }
            Auth::OAuth { .. } => {
                let mut token = self.token.lock().await;
                if let Some(t) = token.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                    return Ok(Some(format!("Bearer {}", t.value)));
                }
                let fresh = self.fetch_token().await?;
                let header = format!("Bearer {}", fresh.value);
                *token = Some(fresh);
                Ok(Some(header))
            }
        }
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// The client-credentials grant against `CAMUNDA_OAUTH_URL`.
    async fn fetch_token(&self) -> Result<Token, ClusterError> {
        let Auth::OAuth {
            client_id,
            client_secret,
            oauth_url,
            audience,
        } = &self.connection.auth
        else {
            return Err(ClusterError::Rejected("no OAuth client configured".into()));
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose()),
            ("audience", audience.as_str()),
        ];
        let response = self
            .http
            .post(oauth_url)
            .form(&form)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| ClusterError::Unavailable(format!("the OAuth server: {}", reason(&e))))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClusterError::Unavailable(format!("the OAuth server: {}", reason(&e))))?;
        match status {
            200 => {}
            429 | 500..=599 => return Err(ClusterError::Unavailable(format!("the OAuth server answered HTTP {status}"))),
            // The server's body may echo what was sent: only the status is shown.
            _ => return Err(ClusterError::Rejected(format!("the OAuth server refused the client credentials (HTTP {status})"))),
        }
        #[derive(serde::Deserialize)]
        struct Grant {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let grant: Grant = serde_json::from_slice(&bytes)
            .map_err(|_| ClusterError::Rejected("the OAuth server's answer has no access_token".into()))?;
        let lifetime = Duration::from_secs(grant.expires_in.unwrap_or(300));
        // Renew before it runs out: 30 s early, or a tenth early for short-lived tokens.
        let margin = Duration::from_secs(30).min(lifetime / 10);
        Ok(Token {
            value: grant.access_token,
            refresh_at: Instant::now() + lifetime - margin,
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A transport error in plain words, without the URL's query (which could carry ids).
fn reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the body broke off"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    match detail.is_empty() {
        true => kind.to_string(),
        false => format!("{kind} ({})", escape_controls(&detail)),
    }
}

/// An error answer in one line: the status, and the problem's title and detail (RFC 9457).
fn problem(status: u16, body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let text = [field("title"), field("detail")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let text: String = escape_controls(&text).chars().take(300).collect();
    match text.is_empty() {
        true => format!("HTTP {status}"),
        false => format!("HTTP {status}: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::camunda::{AuthMode, CamundaStandIn, StandInConfig};

    #[tokio::test]
    async fn documents_are_created_as_multipart_with_a_fresh_token_after_a_401() {
        let cluster = CamundaStandIn::start(StandInConfig {
            auth: AuthMode::OAuth {
                client_id: "worker".into(),
                client_secret: "s3cret".into(),
                audience: "zeebe-api".into(),
                token_ttl: Duration::from_secs(3600),
            },
            ..StandInConfig::default()
        })
        .unwrap();
        let client = CamundaClient::new(Connection {
            rest_address: cluster.url(),
            auth: Auth::OAuth {
                client_id: "worker".into(),
                client_secret: super::super::connection::Secret::new("s3cret"),
                oauth_url: cluster.oauth_url(),
                audience: "zeebe-api".into(),
            },
        })
        .unwrap();
        let content = br#"{"blocks":[]}"#.to_vec();
        let reference = client
            .create_document(content.clone(), "application/json", "textract-result-1.json")
            .await
            .unwrap();
        let parsed: Value = serde_json::from_str(&reference).unwrap();
        let id = parsed["documentId"].as_str().unwrap();
        assert_eq!(cluster.document(id).unwrap(), content);
        // The cluster's answer, as it wrote it.
        assert_eq!(parsed, cluster.document_reference(id).unwrap());
        assert_eq!(parsed["storeId"], "in-memory");
        assert_eq!(
            parsed["contentHash"],
            textract_connector::platform::documents::sha256_hex(&content)
        );
        assert_eq!(parsed["metadata"]["contentType"], "application/json");
        assert_eq!(parsed["metadata"]["fileName"], "textract-result-1.json");
        assert_eq!(parsed["metadata"]["size"], 13);

        // An expired token: one 401, one new token, and the upload goes through.
        cluster.expire_tokens_now();
        let again = client.create_document(content.clone(), "application/json", "r.json").await.unwrap();
        assert_ne!(again, reference, "a new document");
        assert_eq!(cluster.token_requests(), 2);
        let violations = cluster.violations();
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].status, Some(401));
        assert_eq!(cluster.document_ids().len(), 2);
    }

    #[tokio::test]
    async fn a_refused_or_absent_document_api_says_so() {
        let cluster = CamundaStandIn::start(StandInConfig::default()).unwrap();
        let client = CamundaClient::new(Connection {
            rest_address: cluster.url(),
            auth: Auth::None,
        })
        .unwrap();
        cluster.fail_next(1, 503);
        let e = client.create_document(b"{}".to_vec(), "application/json", "r.json").await.unwrap_err();
        assert!(matches!(&e, CreateError::Unavailable(why) if why.contains("HTTP 503")), "{e:?}");

        // A cluster without the document API (an address whose path serves nothing).
        let client = CamundaClient::new(Connection {
            rest_address: format!("http://{}/v1", cluster.addr()),
            auth: Auth::None,
        })
        .unwrap();
        let e = client.create_document(b"{}".to_vec(), "application/json", "r.json").await.unwrap_err();
        assert!(matches!(&e, CreateError::Unsupported(why) if why.contains("HTTP 404")), "{e:?}");
    }
}
