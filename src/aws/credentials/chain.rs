//! The default credentials chain, in the AWS SDKs' order, using only what the
//! sandbox grants in self-managed mode (environment variables, the AWS config
//! folder, egress to STS and the metadata endpoints):
//!
//! 1. environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
//! 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` → STS AssumeRoleWithWebIdentity;
//! 3. the shared `credentials` and `config` files (`AWS_PROFILE`,
//!    `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), with `role_arn` +
//!    `source_profile` → a signed STS AssumeRole;
//! 4. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`,
//!    with `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `_TOKEN_FILE`;
//! 5. EC2 instance metadata, IMDSv2: a token, then the role, then its credentials.
//!
//! Each source that fails says why; when all fail, the error lists them in
//! order. No message ever holds a secret.

use super::profile::{self, Profiles};
use super::Credentials;
use crate::aws::endpoint::Endpoint;
use crate::aws::sts;
use crate::error::{Error, Result};
use crate::platform::http::HttpRequest;
use crate::platform::{Context, Platform};
use serde::Deserialize;
use std::time::Duration;

/// Where the runtime mounts the operator's AWS config folder.
pub const AWS_DIR: &str = "/aws";
const ECS_HOST: &str = "http://169.254.170.2";
const IMDS: &str = "http://169.254.169.254";
/// Metadata endpoints answer at once where they exist; elsewhere nothing answers.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

/// The credentials, and the source that gave them (for progress lines).
/// STS is always the region's own endpoint: `configuration.endpoint` is for
/// Textract and S3, and the operator's web identity token goes to STS only.
pub fn resolve(ctx: &mut Context<'_>, region: &str) -> Result<(Credentials, String)> {
    let mut tried: Vec<String> = Vec::new();
    let sts = Endpoint::aws(sts::SERVICE, region);

    match from_environment(ctx.platform) {
        Ok(c) => return Ok((c, "environment variables".into())),
        Err(why) => tried.push(format!("environment variables: {why}")),
    }
    match from_web_identity(ctx, &sts) {
        Ok(c) => return Ok((c, "web identity".into())),
        Err(why) => tried.push(format!("web identity: {why}")),
    }
    match from_profile(ctx, &sts, region) {
        Ok((c, name)) => return Ok((c, format!("profile '{name}'"))),
        Err(why) => tried.push(format!("shared config files: {why}")),
    }
    match from_container(ctx) {
        Ok(c) => return Ok((c, "container credentials".into())),
        Err(why) => tried.push(format!("container credentials: {why}")),
    }
    match from_instance_metadata(ctx) {
        Ok(c) => return Ok((c, "EC2 instance metadata".into())),
        Err(why) => tried.push(format!("EC2 instance metadata (IMDSv2): {why}")),
    }
    let list: Vec<String> = tried
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{}. {t}", i + 1))
        .collect();
    Err(Error::NoCredentials(format!(
        "The default credentials chain found no AWS credentials. Tried: {}",
        list.join("; ")
    )))
}

/// The region the chain's grants imply: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's.
pub fn resolve_region(platform: &dyn Platform) -> Option<String> {
    if let Some(region) = platform
        .env("AWS_REGION")
        .or_else(|| platform.env("AWS_DEFAULT_REGION"))
    {
        return Some(region);
    }
    let name = profile_name(platform);
    let config = read_profiles(platform, "AWS_CONFIG_FILE", "config", true).ok()?;
    config.get(&name)?.get("region").cloned()
}

fn from_environment(p: &dyn Platform) -> std::result::Result<Credentials, String> {
    match (p.env("AWS_ACCESS_KEY_ID"), p.env("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => Ok(Credentials::new(&key, &secret, p.env("AWS_SESSION_TOKEN").as_deref())),
        (Some(_), None) => Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into()),
        (None, Some(_)) => Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into()),
        (None, None) => Err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into()),
    }
}

fn from_web_identity(ctx: &mut Context<'_>, sts: &Endpoint) -> std::result::Result<Credentials, String> {
    let (file, role) = match (
        ctx.platform.env("AWS_WEB_IDENTITY_TOKEN_FILE"),
        ctx.platform.env("AWS_ROLE_ARN"),
    ) {
        (Some(file), Some(role)) => (file, role),
        (Some(_), None) => return Err("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".into()),
        (None, Some(_)) => return Err("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not".into()),
        (None, None) => return Err("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set".into()),
    };
    let token = ctx
        .platform
        .read_file(&file)
        .map_err(|why| format!("cannot read the token file {file} ({why})"))?;
    let token = String::from_utf8_lossy(&token).trim().to_string();
    let session = ctx
        .platform
        .env("AWS_ROLE_SESSION_NAME")
        .unwrap_or_else(|| sts::SESSION_NAME.into());
    sts::assume_role_with_web_identity(ctx, sts, &role, &session, &token)
        .map_err(|e| format!("STS AssumeRoleWithWebIdentity for {role} failed: {}", e.message()))
}

fn profile_name(p: &dyn Platform) -> String {
    p.env("AWS_PROFILE").unwrap_or_else(|| "default".into())
}

/// Reads one shared file; a file that is not there is an empty one.
fn read_profiles(
    p: &dyn Platform,
    variable: &str,
    default_name: &str,
    config_file: bool,
) -> std::result::Result<Profiles, String> {
    let path = p.env(variable).unwrap_or_else(|| format!("{AWS_DIR}/{default_name}"));
    match p.read_file(&path) {
        Ok(bytes) => Ok(profile::parse(&String::from_utf8_lossy(&bytes), config_file)),
        Err(_) => Ok(Profiles::new()),
    }
}

fn from_profile(
    ctx: &mut Context<'_>,
    sts: &Endpoint,
    region: &str,
) -> std::result::Result<(Credentials, String), String> {
    let name = profile_name(ctx.platform);
    let credentials = read_profiles(ctx.platform, "AWS_SHARED_CREDENTIALS_FILE", "credentials", false)?;
    let config = read_profiles(ctx.platform, "AWS_CONFIG_FILE", "config", true)?;
    let settings = |profile: &str, key: &str| {
        credentials
            .get(profile)
            .and_then(|s| s.get(key))
            .or_else(|| config.get(profile).and_then(|s| s.get(key)))
            .cloned()
    };
    let static_keys = |profile: &str| match (
        settings(profile, "aws_access_key_id"),
        settings(profile, "aws_secret_access_key"),
    ) {
        (Some(key), Some(secret)) => Some(Credentials::new(
            &key,
            &secret,
            settings(profile, "aws_session_token").as_deref(),
        )),
        _ => None,
    };
    if !credentials.contains_key(&name) && !config.contains_key(&name) {
        return Err(format!("no profile '{name}' in the credentials or config file"));
    }
    if let Some(role) = settings(&name, "role_arn") {
        let source = settings(&name, "source_profile").ok_or_else(|| {
            format!("profile '{name}' has role_arn but no source_profile (credential_source is not supported)")
        })?;
        let source_credentials = static_keys(&source)
            .ok_or_else(|| format!("source_profile '{source}' of profile '{name}' has no access keys"))?;
        let session = settings(&name, "role_session_name").unwrap_or_else(|| sts::SESSION_NAME.into());
        let credentials = sts::assume_role(ctx, sts, region, &source_credentials, &role, &session)
            .map_err(|e| format!("STS AssumeRole for {role} (profile '{name}') failed: {}", e.message()))?;
        return Ok((credentials, name));
    }
    static_keys(&name)
        .map(|c| (c, name.clone()))
        .ok_or_else(|| format!("profile '{name}' has no aws_access_key_id and aws_secret_access_key"))
}

/// The JSON both metadata services answer with.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataCredentials {
    #[serde(default)]
    access_key_id: Option<String>,
    #[serde(default)]
    secret_access_key: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn parse_metadata_credentials(body: &[u8]) -> std::result::Result<Credentials, String> {
    let parsed: MetadataCredentials =
        serde_json::from_slice(body).map_err(|_| "the answer is not credentials JSON".to_string())?;
    if let Some(code) = parsed.code.filter(|c| c != "Success") {
        return Err(format!("the endpoint answered {code}"));
    }
    match (parsed.access_key_id, parsed.secret_access_key) {
        (Some(key), Some(secret)) => Ok(Credentials::new(&key, &secret, parsed.token.as_deref())),
        _ => Err("the answer has no AccessKeyId and SecretAccessKey".into()),
    }
}

fn metadata_get(
    ctx: &mut Context<'_>,
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
) -> std::result::Result<Vec<u8>, String> {
    let request = HttpRequest {
        method,
        url: url.clone(),
        headers,
        body: Vec::new(),
        timeout: Some(METADATA_TIMEOUT),
    };
    let response = ctx
        .http
        .send(&request)
        .map_err(|e| format!("{url} did not answer ({})", e.code()))?;
    if !response.is_success() {
        return Err(format!("{url} answered HTTP {}", response.status));
    }
    Ok(response.body)
}

fn from_container(ctx: &mut Context<'_>) -> std::result::Result<Credentials, String> {
    let url = match (
        ctx.platform.env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        ctx.platform.env("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => format!(
            "{ECS_HOST}{}",
            if relative.starts_with('/') {
                relative
            } else {
                format!("/{relative}")
            }
        ),
        (None, Some(full)) => full,
        (None, None) => {
            return Err(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set".into(),
            )
        }
    };
    let token = match ctx.platform.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => Some(
            ctx.platform
                .read_file(&file)
                .map(|t| String::from_utf8_lossy(&t).trim().to_string())
                .map_err(|why| format!("cannot read the authorization token file {file} ({why})"))?,
        ),
        None => ctx.platform.env("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    };
    let headers = token
        .map(|t| vec![("authorization".to_string(), t)])
        .unwrap_or_default();
    let body = metadata_get(ctx, "GET", url, headers)?;
    parse_metadata_credentials(&body)
}

fn from_instance_metadata(ctx: &mut Context<'_>) -> std::result::Result<Credentials, String> {
    if ctx
        .platform
        .env("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Err("disabled by AWS_EC2_METADATA_DISABLED".into());
    }
    let token = metadata_get(
        ctx,
        "PUT",
        format!("{IMDS}/latest/api/token"),
        vec![("x-aws-ec2-metadata-token-ttl-seconds".into(), "21600".into())],
    )?;
    let token = String::from_utf8_lossy(&token).trim().to_string();
    let auth = || vec![("x-aws-ec2-metadata-token".to_string(), token.clone())];
    let base = format!("{IMDS}/latest/meta-data/iam/security-credentials/");
    let roles = metadata_get(ctx, "GET", base.clone(), auth())?;
    let role = String::from_utf8_lossy(&roles)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if role.is_empty() {
        return Err("the instance has no IAM role".into());
    }
    let body = metadata_get(ctx, "GET", format!("{base}{role}"), auth())?;
    parse_metadata_credentials(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::fake::{FakeHost, FakePlatform};
    use crate::platform::http::fake::FakeHttp;
    use crate::platform::http::HttpResponse;
    use crate::platform::RuntimeMode;

    fn ok(body: &str) -> crate::error::Result<HttpResponse> {
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        })
    }

    fn resolve_with(
        platform: FakePlatform,
        responses: Vec<crate::error::Result<HttpResponse>>,
    ) -> (Result<(Credentials, String)>, FakeHttp) {
        let mut host = FakeHost {
            platform,
            mode: RuntimeMode::SelfManaged,
            ..FakeHost::answering(responses)
        };
        let out = host.run(|ctx| resolve(ctx, "eu-west-1"));
        (out, host.http)
    }

    fn refused() -> crate::error::Result<HttpResponse> {
        Err(Error::Transport {
            code: "ConnectionRefused".into(),
            message: "x".into(),
        })
    }

    #[test]
    fn environment_comes_first() {
        let mut p = FakePlatform::default();
        p.env.insert("AWS_ACCESS_KEY_ID".into(), "AKIAENV".into());
        p.env.insert("AWS_SECRET_ACCESS_KEY".into(), "secret".into());
        p.files.insert(
            "/aws/credentials".into(),
            b"[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=s\n".to_vec(),
        );
        let (out, http) = resolve_with(p, vec![]);
        let (c, source) = out.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), source.as_str()),
            ("AKIAENV", "environment variables")
        );
        assert!(http.requests.is_empty());
    }

    #[test]
    fn profiles_from_the_granted_folder_and_the_named_profile() {
        let mut p = FakePlatform::default();
        p.env.insert("AWS_PROFILE".into(), "dev".into());
        p.files.insert("/aws/credentials".into(), b"[default]\naws_access_key_id=AKIADEF\naws_secret_access_key=s\n[dev]\naws_access_key_id=AKIADEV\naws_secret_access_key=s2\naws_session_token=t\n".to_vec());
        let (out, _) = resolve_with(p, vec![]);
        let (c, source) = out.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref(), source.as_str()),
            ("AKIADEV", Some("t"), "profile 'dev'")
        );
    }

    #[test]
    fn role_arn_with_source_profile_assumes_the_role_signed() {
        let mut p = FakePlatform::default();
        p.env.insert("AWS_PROFILE".into(), "ops".into());
        p.files.insert(
            "/aws/config".into(),
            b"[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = base\n".to_vec(),
        );
        p.files.insert(
            "/aws/credentials".into(),
            b"[base]\naws_access_key_id=AKIABASE\naws_secret_access_key=s\n".to_vec(),
        );
        let sts = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>rs</SecretAccessKey><SessionToken>rt</SessionToken></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let (out, http) = resolve_with(p, vec![ok(sts)]);
        let (c, _) = out.unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("ASIAROLE", Some("rt"))
        );
        let r = &http.requests[0];
        assert_eq!(r.url, "https://sts.eu-west-1.amazonaws.com/");
        assert!(String::from_utf8_lossy(&r.body)
            .contains("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fops"));
        assert!(r.header("authorization").unwrap().contains("Credential=AKIABASE/"));
    }

    #[test]
    fn everything_failing_lists_every_source_without_secrets() {
        let mut p = FakePlatform::default();
        p.env.insert("AWS_SECRET_ACCESS_KEY".into(), "TOPSECRET".into());
        let (out, http) = resolve_with(p, vec![refused()]);
        let e = out.unwrap_err();
        let m = e.message();
        assert_eq!(
            (e.code().as_str(), e.kind()),
            ("NoCredentials", crate::error::ErrorKind::Unauthorized)
        );
        for part in [
            "1. environment variables: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
            "2. web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set",
            "3. shared config files: no profile 'default' in the credentials or config file",
            "4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set",
            "5. EC2 instance metadata (IMDSv2): http://169.254.169.254/latest/api/token did not answer (ConnectionRefused)",
        ] {
            assert!(m.contains(part), "{m}");
        }
        assert!(!m.contains("TOPSECRET"));
        assert_eq!(http.requests[0].timeout, Some(METADATA_TIMEOUT));
    }

    #[test]
    fn region_follows_the_same_grants() {
        let mut p = FakePlatform::default();
        assert_eq!(resolve_region(&p), None);
        p.files
            .insert("/aws/config".into(), b"[default]\nregion = eu-north-1\n".to_vec());
        assert_eq!(resolve_region(&p).as_deref(), Some("eu-north-1"));
        p.env.insert("AWS_DEFAULT_REGION".into(), "ap-south-1".into());
        assert_eq!(resolve_region(&p).as_deref(), Some("ap-south-1"));
        p.env.insert("AWS_REGION".into(), "us-west-2".into());
        assert_eq!(resolve_region(&p).as_deref(), Some("us-west-2"));
    }
}
