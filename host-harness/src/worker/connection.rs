//! Where the cluster is and how to authenticate to it, resolved the way the
//! Camunda SDKs do: `CAMUNDA_*` environment variables (`ZEEBE_REST_ADDRESS` as
//! the legacy alias), overridden by flags. Secrets are held in a type whose
//! `Debug` prints nothing, so no log line or error can carry one.

use anyhow::{bail, Result};
use std::fmt;

/// The SDKs' default address: a local Camunda 8 Run.
pub const DEFAULT_REST_ADDRESS: &str = "http://localhost:8080/v2";
/// The SDKs' defaults for Camunda SaaS.
pub const DEFAULT_OAUTH_URL: &str = "https://login.cloud.camunda.io/oauth/token";
pub const DEFAULT_TOKEN_AUDIENCE: &str = "zeebe.camunda.io";

/// A credential: shown as `***` wherever it is formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    Basic {
        username: String,
        password: Secret,
    },
    OAuth {
        client_id: String,
        client_secret: Secret,
        oauth_url: String,
        audience: String,
    },
}

impl Auth {
    pub fn name(&self) -> &'static str {
        match self {
            Auth::None => "NONE",
            Auth::Basic { .. } => "BASIC",
            Auth::OAuth { .. } => "OAUTH",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The REST API's base, ending in `/v2`.
    pub rest_address: String,
    pub auth: Auth,
}

impl Connection {
    /// From the flag (when given) and the environment, read through `env`.
    pub fn resolve(flag_address: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Connection> {
        let var = |name: &str| env(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let address = flag_address
            .map(str::to_string)
            .or_else(|| var("CAMUNDA_REST_ADDRESS"))
            .or_else(|| var("ZEEBE_REST_ADDRESS"))
            .unwrap_or_else(|| DEFAULT_REST_ADDRESS.to_string());
        let rest_address = normalize_address(&address)?;

        let basic = (var("CAMUNDA_BASIC_AUTH_USERNAME"), var("CAMUNDA_BASIC_AUTH_PASSWORD"));
        let oauth = (var("CAMUNDA_CLIENT_ID"), var("CAMUNDA_CLIENT_SECRET"));
        let strategy = match var("CAMUNDA_AUTH_STRATEGY") {
            Some(s) => s.to_ascii_uppercase(),
            // Inferred from the credentials that are there, as the SDKs do.
            None if oauth.0.is_some() || oauth.1.is_some() => "OAUTH".into(),
            None if basic.0.is_some() || basic.1.is_some() => "BASIC".into(),
            None => "NONE".into(),
        };
        let auth = match strategy.as_str() {
            "NONE" => Auth::None,
            "BASIC" => match basic {
                (Some(username), Some(password)) => Auth::Basic {
                    username,
                    password: Secret::new(password),
                },
                _ => bail!("CAMUNDA_AUTH_STRATEGY is BASIC: set CAMUNDA_BASIC_AUTH_USERNAME and CAMUNDA_BASIC_AUTH_PASSWORD"),
            },
            "OAUTH" => match oauth {
                (Some(client_id), Some(secret)) => Auth::OAuth {
                    client_id,
                    client_secret: Secret::new(secret),
                    oauth_url: var("CAMUNDA_OAUTH_URL").unwrap_or_else(|| DEFAULT_OAUTH_URL.into()),
                    audience: var("CAMUNDA_TOKEN_AUDIENCE").unwrap_or_else(|| DEFAULT_TOKEN_AUDIENCE.into()),
                },
                _ => bail!("CAMUNDA_AUTH_STRATEGY is OAUTH: set CAMUNDA_CLIENT_ID and CAMUNDA_CLIENT_SECRET"),
            },
            other => bail!("CAMUNDA_AUTH_STRATEGY must be NONE, BASIC or OAUTH, not {other:?}"),
        };
        Ok(Connection { rest_address, auth })
    }
}

/// `http(s)://host[:port][/path]`, with `/v2` appended when missing.
pub fn normalize_address(address: &str) -> Result<String> {
    let trimmed = address.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        bail!("the Camunda REST address {trimmed:?} must start with http:// or https://");
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['?', '#', ' ', '@']) {
        bail!("the Camunda REST address {trimmed:?} must be http(s)://host[:port][/path], without credentials or a query");
    }
    Ok(match trimmed.ends_with("/v2") {
        true => trimmed.to_string(),
        false => format!("{trimmed}/v2"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<Connection> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Connection::resolve(flag, |name| map.get(name).cloned())
    }

    #[test]
    fn the_address_defaults_to_camunda_8_run_and_gains_v2() {
        assert_eq!(resolve(None, &[]).unwrap().rest_address, "http://localhost:8080/v2");
        let c = resolve(None, &[("CAMUNDA_REST_ADDRESS", "https://bru-2.zeebe.camunda.io/abc/")]).unwrap();
        assert_eq!(c.rest_address, "https://bru-2.zeebe.camunda.io/abc/v2");
        let legacy = resolve(None, &[("ZEEBE_REST_ADDRESS", "http://zeebe:8080")]).unwrap();
        assert_eq!(legacy.rest_address, "http://zeebe:8080/v2");
        let both = resolve(Some("http://flag:1/v2"), &[("CAMUNDA_REST_ADDRESS", "http://env:2")]).unwrap();
        assert_eq!(both.rest_address, "http://flag:1/v2", "the flag wins");
        assert!(resolve(Some("ftp://x"), &[]).is_err());
        assert!(resolve(Some("http://user:pw@x"), &[]).is_err());
    }

    #[test]
    fn the_strategy_is_inferred_from_the_credentials_and_never_printed() {
        assert_eq!(resolve(None, &[]).unwrap().auth, Auth::None);
        let basic = resolve(
            None,
            &[("CAMUNDA_BASIC_AUTH_USERNAME", "demo"), ("CAMUNDA_BASIC_AUTH_PASSWORD", "hunter2")],
        )
        .unwrap();
        assert_eq!(basic.auth.name(), "BASIC");
        assert!(!format!("{basic:?}").contains("hunter2"));
        let oauth = resolve(
            None,
            &[("CAMUNDA_CLIENT_ID", "id"), ("CAMUNDA_CLIENT_SECRET", "s3cret")],
        )
        .unwrap();
        assert_eq!(
            oauth.auth,
            Auth::OAuth {
                client_id: "id".into(),
                client_secret: Secret::new("s3cret"),
                oauth_url: DEFAULT_OAUTH_URL.into(),
                audience: DEFAULT_TOKEN_AUDIENCE.into(),
            }
        );
        assert!(!format!("{oauth:?}").contains("s3cret"));
        let forced = resolve(
            None,
            &[("CAMUNDA_AUTH_STRATEGY", "none"), ("CAMUNDA_CLIENT_ID", "id"), ("CAMUNDA_CLIENT_SECRET", "s")],
        )
        .unwrap();
        assert_eq!(forced.auth, Auth::None);
        let e = resolve(None, &[("CAMUNDA_AUTH_STRATEGY", "BASIC")]).unwrap_err();
        assert!(e.to_string().contains("CAMUNDA_BASIC_AUTH_USERNAME"));
        assert!(resolve(None, &[("CAMUNDA_AUTH_STRATEGY", "KERBEROS")]).is_err());
    }
}
