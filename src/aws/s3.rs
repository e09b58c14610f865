//! Amazon S3 over its REST API: PutObject, HeadObject, GetObject and
//! DeleteObject, signed with S3's SigV4 rules (the key encoded once, never
//! normalised; `x-amz-content-sha256` always sent and signed). Virtual-hosted
//! addressing is the default; path style is used with an endpoint override or
//! when the bucket name is not DNS-safe.

use crate::aws::credentials::Credentials;
use crate::aws::endpoint::Endpoint;
use crate::aws::retry::{self, RetryPolicy};
use crate::aws::signing::{self, Profile, Scope};
use crate::aws::xml;
use crate::error::{AwsError, Error, Result};
use crate::platform::http::{HttpRequest, HttpResponse};
use crate::platform::Context;

pub const SERVICE: &str = "s3";

/// Where and as whom S3 is called.
#[derive(Debug, Clone)]
pub struct S3Client<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    /// `configuration.endpoint`: forces path-style addressing on that endpoint.
    pub endpoint_override: Option<&'a Endpoint>,
    pub retry: RetryPolicy,
}

/// What S3 said about a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
}

impl<'a> S3Client<'a> {
    /// The URL of an object: `https://bucket.s3.region.amazonaws.com/key` or
    /// path style `https://endpoint/bucket/key`. `query` is already encoded.
    pub fn object_url(&self, bucket: &str, key: &str, query: Option<&str>) -> String {
        let path_key = encode_key(key);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        match self.endpoint_override {
            Some(endpoint) => endpoint.url(&format!("/{bucket}/{path_key}{query}")),
            None if virtual_host_compatible(bucket) => {
                let suffix = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{bucket}.s3.{}.{suffix}/{path_key}{query}", self.region)
            }
            None => Endpoint::aws("s3", self.region).url(&format!("/{bucket}/{path_key}{query}")),
        }
    }

    pub fn put_object(
        &self,
        ctx: &mut Context<'_>,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<ObjectInfo> {
        let response = self.send(ctx, "PutObject", "PUT", bucket, key, None, Some(content_type), body)?;
        Ok(info(&response))
    }

    pub fn head_object(
        &self,
        ctx: &mut Context<'_>,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectInfo> {
        let query = version_query(version);
        let response = self.send(ctx, "HeadObject", "HEAD", bucket, key, query.as_deref(), None, &[])?;
        Ok(info(&response))
    }

    pub fn get_object(
        &self,
        ctx: &mut Context<'_>,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(ObjectInfo, Vec<u8>)> {
        let query = version_query(version);
        let response = self.send(ctx, "GetObject", "GET", bucket, key, query.as_deref(), None, &[])?;
        Ok((info(&response), response.body))
    }

    pub fn delete_object(&self, ctx: &mut Context<'_>, bucket: &str, key: &str, version: Option<&str>) -> Result<()> {
        let query = version_query(version);
        self.send(ctx, "DeleteObject", "DELETE", bucket, key, query.as_deref(), None, &[])?;
        Ok(())
    }

    /// The unsigned request for one object operation. `query` is already encoded.
    pub fn build_request(
        &self,
        method: &'static str,
        bucket: &str,
        key: &str,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> HttpRequest {
        let mut headers = Vec::new();
        if let Some(content_type) = content_type {
            headers.push(("content-type".to_string(), content_type.to_string()));
        }
        if method == "PUT" {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        HttpRequest {
            method,
            url: self.object_url(bucket, key, query),
            headers,
            body: body.to_vec(),
            timeout: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        ctx: &mut Context<'_>,
        operation: &str,
        method: &'static str,
        bucket: &str,
        key: &str,
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<HttpResponse> {
        if key.is_empty() {
            return Err(Error::Internal(format!("S3 {operation} without a key")));
        }
        retry::run(ctx, self.retry, operation, |ctx| {
            let mut request = self.build_request(method, bucket, key, query, content_type, body);
            signing::sign(
                &mut request,
                self.credentials,
                Scope {
                    region: self.region,
                    service: SERVICE,
                    time: ctx.platform.now(),
                    profile: Profile::S3,
                },
            )?;
            let response = ctx.http.send(&request)?;
            if response.is_success() {
                Ok(response)
            } else {
                Err(Error::Aws(parse_error(&response, bucket, key)))
            }
        })
    }
}

fn info(response: &HttpResponse) -> ObjectInfo {
    ObjectInfo {
        etag: response.header("etag").map(str::to_string),
        version_id: response
            .header("x-amz-version-id")
            .filter(|v| *v != "null")
            .map(str::to_string),
        content_length: response.header("content-length").and_then(|v| v.parse().ok()),
        content_type: response.header("content-type").map(str::to_string),
    }
}

/// Buckets that can be a host name label: lower case, digits and `-`, 3–63
/// characters, no dots (a dot would break the TLS wildcard certificate).
pub fn virtual_host_compatible(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-')
}

/// Percent-encodes an object key once: every byte but the unreserved
/// characters and `/`, which separates segments. No normalisation: `a//b` and
/// `./x` stay as they are.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `versionId=...` for operations on one version of an object.
fn version_query(version: Option<&str>) -> Option<String> {
    version.map(|v| format!("versionId={}", encode_query_value(v)))
}

fn encode_query_value(value: &str) -> String {
    encode_key(value).replace('/', "%2F")
}

/// S3's XML error (or, for HEAD, just the status) as a typed AWS error.
pub fn parse_error(response: &HttpResponse, bucket: &str, key: &str) -> AwsError {
    let body = String::from_utf8_lossy(&response.body);
    let code = xml::element_text(&body, "Code").unwrap_or_else(|| {
        match response.status {
            // A HEAD error has no body: the status is all there is.
            404 => "NotFound",
            403 => "AccessDenied",
            301 => "PermanentRedirect",
            400 => "BadRequest",
            _ => "",
        }
        .to_string()
    });
    let detail = xml::element_text(&body, "Message").unwrap_or_default();
    let message = match code.as_str() {
        "NoSuchBucket" => format!("The bucket '{bucket}' does not exist (or is in another account)"),
        "NoSuchKey" | "NotFound" => format!("There is no object '{key}' in bucket '{bucket}'"),
        "AccessDenied" => format!(
            "Access to s3://{bucket}/{key} was denied: the credentials need s3:PutObject, s3:GetObject and \
             s3:DeleteObject on it"
        ),
        "PermanentRedirect" | "AuthorizationHeaderMalformed" => {
            format!("The bucket '{bucket}' is in another region than the one configured")
        }
        _ => detail,
    };
    AwsError {
        service: SERVICE,
        status: response.status,
        code,
        message,
        request_id: response.header("x-amz-request-id").map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::platform::fake::FakeHost;

    fn client<'a>(creds: &'a Credentials, endpoint: Option<&'a Endpoint>) -> S3Client<'a> {
        S3Client {
            credentials: creds,
            region: "eu-west-1",
            endpoint_override: endpoint,
            retry: RetryPolicy::default(),
        }
    }

    #[test]
    fn keys_are_encoded_once_and_never_normalised() {
        assert_eq!(
            encode_key("in box/2026+/scan ü 100%.pdf"),
            "in%20box/2026%2B/scan%20%C3%BC%20100%25.pdf"
        );
        assert_eq!(encode_key("a//b/./c"), "a//b/./c");
        assert_eq!(encode_key("%20"), "%2520");
    }

    #[test]
    fn addressing_style() {
        let creds = Credentials::new("AK", "SK", None);
        let c = client(&creds, None);
        assert_eq!(
            c.object_url("my-bucket", "a b.pdf", None),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b.pdf"
        );
        assert_eq!(
            c.object_url("my.dotted.bucket", "k", None),
            "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k"
        );
        assert_eq!(
            c.object_url("Legacy_Bucket", "k", Some("versionId=v1")),
            "https://s3.eu-west-1.amazonaws.com/Legacy_Bucket/k?versionId=v1"
        );
        let local = Endpoint::parse("e", "http://127.0.0.1:5000").unwrap();
        let c = client(&creds, Some(&local));
        assert_eq!(
            c.object_url("my-bucket", "x/y", None),
            "http://127.0.0.1:5000/my-bucket/x/y"
        );
    }

    fn s3_response(status: u16, body: &str) -> Result<HttpResponse> {
        Ok(HttpResponse {
            status,
            headers: vec![("x-amz-request-id".into(), "RID".into())],
            body: body.as_bytes().to_vec(),
        })
    }

    fn run(
        responses: Vec<Result<HttpResponse>>,
        op: impl FnOnce(&S3Client<'_>, &mut Context<'_>) -> Result<()>,
    ) -> (Result<()>, Vec<HttpRequest>) {
        let creds = Credentials::new("AKIDEXAMPLE", "SECRET", None);
        let c = client(&creds, None);
        let mut host = FakeHost::answering(responses);
        let result = host.run(|ctx| op(&c, ctx));
        (result, host.http.requests)
    }

    #[test]
    fn put_sends_length_and_payload_hash() {
        let (result, requests) = run(vec![s3_response(200, "")], |c, ctx| {
            c.put_object(ctx, "bucket-1", "k", b"hello", "application/pdf")
                .map(|_| ())
        });
        result.unwrap();
        let r = &requests[0];
        assert_eq!(
            (r.method, r.url.as_str()),
            ("PUT", "https://bucket-1.s3.eu-west-1.amazonaws.com/k")
        );
        assert_eq!(r.header("content-length"), Some("5"));
        assert_eq!(
            r.header("x-amz-content-sha256"),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert!(r.header("authorization").unwrap().contains("x-amz-content-sha256"));
    }

    #[test]
    fn xml_and_head_errors_become_typed_errors() {
        let cases = [
            (
                404,
                "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
                "NoSuchBucket",
                ErrorKind::InvalidInput,
                "The bucket 'bucket-1' does not exist",
            ),
            (
                404,
                "<Error><Code>NoSuchKey</Code><Message>x</Message></Error>",
                "NoSuchKey",
                ErrorKind::InvalidInput,
                "There is no object 'k' in bucket 'bucket-1'",
            ),
            (
                403,
                "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
                "AccessDenied",
                ErrorKind::Unauthorized,
                "Access to s3://bucket-1/k was denied",
            ),
            (
                404,
                "",
                "NotFound",
                ErrorKind::InvalidInput,
                "There is no object 'k' in bucket 'bucket-1'",
            ),
            (
                403,
                "",
                "AccessDenied",
                ErrorKind::Unauthorized,
                "Access to s3://bucket-1/k was denied",
            ),
            (
                503,
                "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>",
                "SlowDown",
                ErrorKind::Throttled,
                "Reduce your request rate",
            ),
        ];
        for (status, body, code, kind, message) in cases {
            let attempts = if kind == ErrorKind::Throttled { 3 } else { 1 };
            let (result, requests) = run((0..attempts).map(|_| s3_response(status, body)).collect(), |c, ctx| {
                c.head_object(ctx, "bucket-1", "k", None).map(|_| ())
            });
            let e = result.unwrap_err();
            assert_eq!((e.code().as_str(), e.kind()), (code, kind), "{body}");
            assert!(e.message().contains(message), "{}", e.message());
            assert!(
                e.message().contains("Amazon S3") && e.message().contains("RID"),
                "{}",
                e.message()
            );
            assert_eq!(requests.len(), attempts);
        }
    }

    #[test]
    fn versions_travel_in_the_query() {
        let (result, requests) = run(vec![s3_response(204, "")], |c, ctx| {
            c.delete_object(ctx, "bucket-1", "a/b", Some("3/L4kq+tJ"))
        });
        result.unwrap();
        assert_eq!(
            requests[0].url,
            "https://bucket-1.s3.eu-west-1.amazonaws.com/a/b?versionId=3%2FL4kq%2BtJ"
        );
    }
}
