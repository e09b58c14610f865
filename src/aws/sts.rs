//! AWS STS over its query protocol: AssumeRole (signed with the source
//! credentials) and AssumeRoleWithWebIdentity (unsigned: the token is the proof).
//! Responses and errors are XML.

use crate::aws::credentials::Credentials;
use crate::aws::endpoint::Endpoint;
use crate::aws::retry::{self, RetryPolicy};
use crate::aws::signing::{self, Profile, Scope};
use crate::aws::xml;
use crate::error::{AwsError, Error, Result};
use crate::platform::http::HttpRequest;
use crate::platform::Context;

pub const SERVICE: &str = "sts";

/// The session name the connector's sessions carry in CloudTrail.
pub const SESSION_NAME: &str = "textract-connector";

pub fn assume_role(
    ctx: &mut Context<'_>,
    endpoint: &Endpoint,
    region: &str,
    source: &Credentials,
    role_arn: &str,
    session_name: &str,
) -> Result<Credentials> {
    let form = encode_form(&[
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
    ]);
    call(ctx, endpoint, "AssumeRole", form, Some((source, region)))
}

pub fn assume_role_with_web_identity(
    ctx: &mut Context<'_>,
    endpoint: &Endpoint,
    role_arn: &str,
    session_name: &str,
    token: &str,
) -> Result<Credentials> {
    let form = encode_form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ]);
    call(ctx, endpoint, "AssumeRoleWithWebIdentity", form, None)
}

fn call(
    ctx: &mut Context<'_>,
    endpoint: &Endpoint,
    operation: &str,
    form: String,
    signer: Option<(&Credentials, &str)>,
) -> Result<Credentials> {
    let body = form.into_bytes();
    let response = retry::run(ctx, RetryPolicy::default(), operation, |ctx| {
        let mut request = HttpRequest {
            method: "POST",
            url: endpoint.url("/"),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                ),
                ("content-length".into(), body.len().to_string()),
            ],
            body: body.clone(),
            timeout: None,
        };
        if let Some((credentials, region)) = signer {
            signing::sign(
                &mut request,
                credentials,
                Scope {
                    region,
                    service: SERVICE,
                    time: ctx.platform.now(),
                    profile: Profile::Standard,
                },
            )?;
        }
        let response = ctx.http.send(&request)?;
        if response.is_success() {
            return Ok(response);
        }
        let text = String::from_utf8_lossy(&response.body);
        Err(Error::Aws(AwsError {
            service: SERVICE,
            status: response.status,
            code: xml::element_text(&text, "Code").unwrap_or_default(),
            message: xml::element_text(&text, "Message").unwrap_or_default(),
            request_id: xml::element_text(&text, "RequestId")
                .or_else(|| response.header("x-amzn-requestid").map(str::to_string)),
        }))
    })?;
    let text = String::from_utf8_lossy(&response.body);
    let field = |name: &str| xml::element_text(&text, name).filter(|v| !v.is_empty());
    match (field("AccessKeyId"), field("SecretAccessKey")) {
        (Some(key), Some(secret)) => Ok(Credentials::new(&key, &secret, field("SessionToken").as_deref())),
        _ => Err(Error::UnexpectedResponse(format!(
            "STS {operation} returned no credentials"
        ))),
    }
}

/// `application/x-www-form-urlencoded`, every byte but the unreserved ones encoded.
fn encode_form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            encode_form(&[("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "~ok+")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&X=~ok%2B"
        );
    }
}
