//! SigV4 signing of the connector's requests with the `aws-sigv4` crate. Two
//! profiles: AWS JSON services (Textract) and S3, whose canonical URI is encoded
//! once, never normalised, and whose payload hash always travels in
//! `x-amz-content-sha256`.

use crate::aws::credentials::Credentials;
use crate::error::{Error, Result};
use crate::platform::http::HttpRequest;
use aws_sigv4::http_request::{
    sign as sigv4_sign, PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// AWS JSON 1.1 services such as Textract and STS.
    Standard,
    /// Amazon S3's variant of SigV4.
    S3,
}

/// The SigV4 knobs that differ between services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Remove `.`/`..` segments and repeated slashes from the canonical path.
    pub normalize_path: bool,
    /// Percent-encode the already-encoded path a second time (all services but S3).
    pub double_encode_path: bool,
    /// Send and sign `x-amz-content-sha256` with the payload's hash.
    pub payload_hash_header: bool,
    /// Include `x-amz-security-token` in the signature (all but a few legacy services).
    pub sign_session_token: bool,
}

impl Profile {
    pub fn options(self) -> Options {
        match self {
            Profile::Standard => Options {
                normalize_path: true,
                double_encode_path: true,
                payload_hash_header: false,
                sign_session_token: true,
            },
            Profile::S3 => Options {
                normalize_path: false,
                double_encode_path: false,
                payload_hash_header: true,
                sign_session_token: true,
            },
        }
    }
}

/// Everything that decides a signature besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
    pub profile: Profile,
}

/// Signs `request` in place: adds `x-amz-date`, `authorization` and, as needed,
/// `x-amz-security-token` and `x-amz-content-sha256`.
pub fn sign(request: &mut HttpRequest, credentials: &Credentials, scope: Scope<'_>) -> Result<()> {
    sign_with(
        request,
        credentials,
        scope.region,
        scope.service,
        scope.time,
        scope.profile.options(),
    )
}

/// [`sign`] with explicit options (the AWS test suite drives every combination).
pub fn sign_with(
    request: &mut HttpRequest,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    options: Options,
) -> Result<()> {
    let identity: Identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "textract-connector",
    )
    .into();

    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = if options.double_encode_path {
        PercentEncodingMode::Double
    } else {
        PercentEncodingMode::Single
    };
    settings.uri_path_normalization_mode = if options.normalize_path {
        UriPathNormalizationMode::Enabled
    } else {
        UriPathNormalizationMode::Disabled
    };
    if options.payload_hash_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if !options.sign_session_token {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }

    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| Error::Internal(format!("signing parameters: {e}")))?
        .into();

    let signable = SignableRequest::new(
        request.method,
        request.url.as_str(),
        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| unsignable(&e))?;

    let (instructions, _signature) = sigv4_sign(signable, &params).map_err(|e| unsignable(&e))?.into_parts();
    let (headers, _params) = instructions.into_parts();
    for header in headers {
        let name = header.name().to_ascii_lowercase();
        request.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        request.headers.push((name, header.value().to_string()));
    }
    Ok(())
}

/// SigV4 refuses only requests that cannot exist (a URL or header with
/// characters HTTP does not allow), and those are built from the task's values:
/// the tenant's to fix, never a defect.
fn unsignable(e: &dyn std::fmt::Display) -> Error {
    Error::InvalidInput {
        code: "RequestNotSignable",
        message: format!(
            "The request cannot be signed ({e}): a bucket, key, endpoint or credential holds characters \
             an HTTP request cannot carry"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// 2015-08-30T12:36:00Z, the AWS test suite's timestamp.
    pub(crate) fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    #[test]
    fn textract_post_matches_independent_signer() {
        // Expected signature computed with botocore's SigV4Auth (an independent
        // implementation) for exactly this request and time.
        let mut req = HttpRequest {
            method: "POST",
            url: "https://textract.us-east-1.amazonaws.com/".into(),
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.1".into()),
                ("x-amz-target".into(), "Textract.AnalyzeDocument".into()),
            ],
            body: br#"{"Document":{"S3Object":{"Bucket":"b","Name":"k"}},"FeatureTypes":["TABLES"]}"#.to_vec(),
            timeout: None,
        };
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
        sign(
            &mut req,
            &creds,
            Scope {
                region: "us-east-1",
                service: "textract",
                time: suite_time(),
                profile: Profile::Standard,
            },
        )
        .unwrap();
        assert_eq!(req.header("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(req.header("authorization"), Some(BOTOCORE_TEXTRACT_AUTHORIZATION));
    }

    const BOTOCORE_TEXTRACT_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/textract/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=e1f53344054d8c8074cabf3a19483fc41d09e28ecae9956773835d1afde424ad";
}
