//! Where a request goes: the AWS regional endpoint of a service, or the user's
//! override (a VPC endpoint, FIPS, or a local AWS peer such as moto).

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// `host` or `host:port`, as it goes into the URL and the `host` header.
    pub authority: String,
    /// A base path without a trailing slash (usually empty).
    pub base_path: String,
}

impl Endpoint {
    /// The endpoint AWS publishes for `service` in `region`.
    pub fn aws(service: &str, region: &str) -> Self {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Endpoint {
            scheme: "https".into(),
            authority: format!("{service}.{region}.{suffix}"),
            base_path: String::new(),
        }
    }

    /// Parses `configuration.endpoint`. A bare host means https.
    pub fn parse(property: &str, raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let invalid = |why: &str| {
            Error::validation(
                property,
                format!("must be an http(s) URL such as https://textract.us-east-1.amazonaws.com ({why})"),
            )
        };
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, rest)) => (s.to_ascii_lowercase(), rest),
            None => ("https".to_string(), raw),
        };
        if scheme != "https" && scheme != "http" {
            return Err(invalid("unsupported scheme"));
        }
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty()
            || authority.contains('@')
            || !authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
        {
            return Err(invalid("bad host"));
        }
        Ok(Endpoint {
            scheme,
            authority: authority.to_ascii_lowercase(),
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    /// The host without any port.
    pub fn host(&self) -> &str {
        if self.authority.starts_with('[') {
            return match self.authority.find(']') {
                Some(i) => &self.authority[..=i],
                None => &self.authority,
            };
        }
        self.authority.split(':').next().unwrap_or(&self.authority)
    }

    /// A full URL for an already-encoded absolute path (starting with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}{}", self.scheme, self.authority, self.base_path, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_endpoints() {
        assert_eq!(
            Endpoint::aws("textract", "eu-west-1").url("/"),
            "https://textract.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            Endpoint::aws("textract", "cn-north-1").authority,
            "textract.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn overrides_parse() {
        let e = Endpoint::parse("configuration.endpoint", "http://127.0.0.1:5000").unwrap();
        assert_eq!(
            (e.scheme.as_str(), e.authority.as_str(), e.host()),
            ("http", "127.0.0.1:5000", "127.0.0.1")
        );
        assert_eq!(e.url("/"), "http://127.0.0.1:5000/");
        let e = Endpoint::parse("p", "textract-fips.us-east-1.amazonaws.com/").unwrap();
        assert_eq!(e.url("/"), "https://textract-fips.us-east-1.amazonaws.com/");
        assert!(Endpoint::parse("p", "ftp://x").is_err());
        assert!(Endpoint::parse("p", "https://user:pw@host").is_err());
        assert!(Endpoint::parse("p", "").is_err());
    }
}
