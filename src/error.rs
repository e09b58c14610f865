//! The connector's one error type. Every failure, from a bad input field to a
//! refused signature, is a variant here; each knows its kind, code, message and
//! whether a retry could help, so `lib.rs` can hand it across the WIT boundary
//! as a typed record instead of a panic.

use std::fmt;

/// The closed classification a runtime acts on (mirrors the WIT `error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidInput,
    Unauthorized,
    Throttled,
    Upstream,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Internal => "internal",
        }
    }
}

/// One failed constraint, reported the way Camunda's validator does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: String,
    pub message: String,
}

impl Violation {
    pub fn new(property: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            property: property.into(),
            message: message.into(),
        }
    }
}

/// An error response from an AWS service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// `textract` or `s3`: names the service in messages.
    pub service: &'static str,
    pub status: u16,
    /// The error code without namespace or suffix, e.g. `AccessDeniedException`.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input JSON is not a JSON object.
    MalformedInput(String),
    /// One or more input constraints failed (Camunda's combined message).
    Validation(Vec<Violation>),
    /// A rule that Camunda raises as a plain input error, outside the validator.
    InvalidInput { code: &'static str, message: String },
    /// AWS answered with an error status.
    Aws(AwsError),
    /// No usable response: connection, DNS, timeout, or the runtime's egress policy.
    Transport { code: String, message: String },
    /// The runtime refused the call outright (egress policy); retrying cannot help.
    EgressDenied { host: String },
    /// AWS answered 2xx but the body did not follow the protocol.
    UnexpectedResponse(String),
    /// The service led the connector somewhere it will not follow (a paging
    /// loop, endless pages): stopped, and the same run would stop again.
    Protocol { code: &'static str, message: String },
    /// The Textract job ended in FAILED: the document or the request cannot work.
    JobFailed { job_id: String, status_message: String },
    /// The job has not finished (yet): a later run may collect it.
    JobPending { code: &'static str, message: String },
    /// The default credentials chain found nothing; the message lists what it tried.
    NoCredentials(String),
    /// A defect: something that valid input and a valid response cannot cause.
    Internal(String),
}

/// AWS error codes that mean "slow down" (AWS standard retry mode).
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// AWS error codes that mean the caller's identity or permissions were refused.
const AUTH_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "AuthFailure",
    "UnauthorizedOperation",
];

impl AwsError {
    fn is_throttling(&self) -> bool {
        self.status == 429 || THROTTLING_CODES.contains(&self.code.as_str())
    }

    fn is_auth(&self) -> bool {
        AUTH_CODES.contains(&self.code.as_str()) || (self.code.is_empty() && (self.status == 401 || self.status == 403))
    }

    fn is_transient_status(&self) -> bool {
        matches!(self.status, 500 | 502 | 503 | 504)
            || self.code == "InternalServerError"
            || self.code == "ServiceUnavailable"
            || self.code == "InternalError"
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::MalformedInput(_)
            | Error::Validation(_)
            | Error::InvalidInput { .. }
            | Error::EgressDenied { .. }
            | Error::JobFailed { .. } => ErrorKind::InvalidInput,
            Error::Aws(e) if e.is_throttling() => ErrorKind::Throttled,
            Error::Aws(e) if e.is_auth() => ErrorKind::Unauthorized,
            Error::NoCredentials(_) => ErrorKind::Unauthorized,
            Error::Aws(e) if e.is_transient_status() || e.status >= 500 => ErrorKind::Upstream,
            Error::Aws(_) => ErrorKind::InvalidInput,
            Error::Transport { .. }
            | Error::UnexpectedResponse(_)
            | Error::Protocol { .. }
            | Error::JobPending { .. } => ErrorKind::Upstream,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    pub fn code(&self) -> String {
        match self {
            Error::MalformedInput(_) => "MalformedInput".into(),
            Error::Validation(_) => "ValidationFailed".into(),
            Error::InvalidInput { code, .. } => (*code).into(),
            Error::Aws(e) if e.code.is_empty() => format!("Http{}", e.status),
            Error::Aws(e) => e.code.clone(),
            Error::Transport { code, .. } => code.clone(),
            Error::EgressDenied { .. } => "EgressDenied".into(),
            Error::UnexpectedResponse(_) => "UnexpectedResponse".into(),
            Error::Protocol { code, .. } => (*code).into(),
            Error::JobFailed { .. } => "JobFailed".into(),
            Error::JobPending { code, .. } => (*code).into(),
            Error::NoCredentials(_) => "NoCredentials".into(),
            Error::Internal(_) => "Internal".into(),
        }
    }

    /// Whether the same input could succeed later. Throttling, 5xx and network
    /// failures may pass; validation and access errors never do.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Aws(e) => e.is_throttling() || e.is_transient_status(),
            Error::Transport { .. } | Error::JobPending { .. } => true,
            _ => false,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::MalformedInput(m) => format!("The connector input is not valid JSON: {m}"),
            Error::Validation(v) => validation_message(v),
            Error::InvalidInput { message, .. } => message.clone(),
            Error::Aws(e) => aws_message(e),
            Error::Transport { message, .. } => message.clone(),
            Error::EgressDenied { host } => format!(
                "The runtime's egress policy does not allow calls to {host}; \
                 ask the operator to allow this host, or check the region and endpoint"
            ),
            Error::UnexpectedResponse(m) => format!("AWS sent a response the connector could not read: {m}"),
            Error::Protocol { message, .. } => message.clone(),
            Error::JobFailed { job_id, status_message } => {
                format!("Textract job {job_id} FAILED: {}", status_message.trim_end_matches('.'))
            }
            Error::JobPending { message, .. } => message.clone(),
            Error::NoCredentials(m) => m.clone(),
            Error::Internal(m) => format!("Internal connector error: {m}"),
        }
    }

    pub fn validation(property: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(vec![Violation::new(property, message)])
    }
}

/// Camunda's combined validator message, one line per violation.
fn validation_message(violations: &[Violation]) -> String {
    let mut out = String::from("Found constraints violated while validating input: ");
    for v in violations {
        out.push_str("\n - Property: ");
        out.push_str(&v.property);
        out.push_str(": Validation failed. Original message: ");
        out.push_str(&v.message);
    }
    out
}

fn aws_message(e: &AwsError) -> String {
    let service = match e.service {
        "s3" => "Amazon S3",
        "sts" => "AWS STS",
        _ => "Amazon Textract",
    };
    let detail = if e.message.is_empty() {
        String::new()
    } else {
        format!(": {}", e.message.trim_end_matches('.'))
    };
    let hint = match e.code.as_str() {
        "UnsupportedDocumentException" => {
            " Real-time (SYNC) analysis takes only PNG or JPEG images and single-page PDF or TIFF \
             documents; use the POLLING execution type for multi-page documents."
        }
        "DocumentTooLargeException" => {
            " Real-time (SYNC) analysis takes documents up to 10 MB; use POLLING for larger ones."
        }
        "InvalidS3ObjectException" => " Check the bucket, the document name and the region.",
        _ if e.is_auth() => " Check the access key, the secret key and the IAM policy.",
        _ => "",
    };
    let what = if e.code.is_empty() {
        format!("HTTP {}", e.status)
    } else {
        format!("{} (HTTP {})", e.code, e.status)
    };
    let request_id = match &e.request_id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    };
    format!("{service} returned {what}{detail}.{hint}{request_id}")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code(), self.kind().as_str(), self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Textract error response, for tests.
#[cfg(test)]
pub(crate) fn aws(status: u16, code: &str) -> Error {
    Error::Aws(AwsError {
        service: "textract",
        status,
        code: code.into(),
        message: "m".into(),
        request_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_errors_are_classified() {
        let cases = [
            (400, "AccessDeniedException", ErrorKind::Unauthorized, false),
            (400, "UnrecognizedClientException", ErrorKind::Unauthorized, false),
            (403, "InvalidSignatureException", ErrorKind::Unauthorized, false),
            (400, "ThrottlingException", ErrorKind::Throttled, true),
            (
                400,
                "ProvisionedThroughputExceededException",
                ErrorKind::Throttled,
                true,
            ),
            (400, "LimitExceededException", ErrorKind::Throttled, true),
            (500, "InternalServerError", ErrorKind::Upstream, true),
            (503, "", ErrorKind::Upstream, true),
            (501, "", ErrorKind::Upstream, false),
            (400, "InvalidParameterException", ErrorKind::InvalidInput, false),
            (400, "UnsupportedDocumentException", ErrorKind::InvalidInput, false),
        ];
        for (status, code, kind, retryable) in cases {
            let e = aws(status, code);
            assert_eq!(e.kind(), kind, "{code}");
            assert_eq!(e.retryable(), retryable, "{code}");
        }
    }

    #[test]
    fn validation_message_matches_camunda_format() {
        let e = Error::Validation(vec![
            Violation::new("input.documentS3Bucket", "must not be blank"),
            Violation::new("configuration.region", "must not be blank"),
        ]);
        assert_eq!(
            e.message(),
            "Found constraints violated while validating input: \n - Property: input.documentS3Bucket: \
             Validation failed. Original message: must not be blank\n - Property: configuration.region: \
             Validation failed. Original message: must not be blank"
        );
    }
}
