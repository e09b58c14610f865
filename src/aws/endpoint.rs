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

    /// Parses `configuration.endpoint`. A bare host means https. Strict on
    /// purpose: a host of letters, digits, `.`, `-`, `_` (or a bracketed IPv6
    /// address), an optional port of digits, and a path of printable URL
    /// characters; anything else is the tenant's mistake, said plainly.
    pub fn parse(property: &str, raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let invalid = |why: &str| {
            Error::validation(
                property,
                format!("must be an http(s) URL such as https://textract.us-east-1.amazonaws.com ({why})"),
            )
        };
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("no spaces or control characters"));
        }
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, rest)) => (s.to_ascii_lowercase(), rest),
            None => ("https".to_string(), raw),
        };
        if scheme != "https" && scheme != "http" {
            return Err(invalid("unsupported scheme"));
        }
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = split_authority(authority).ok_or_else(|| invalid("bad host or port"))?;
        if !path.bytes().all(is_path_byte) {
            return Err(invalid("bad path"));
        }
        let authority = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
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

    /// The port the URL names, or the scheme's default.
    pub fn port(&self) -> u16 {
        let explicit = self.authority[self.host().len()..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        explicit.unwrap_or(if self.scheme == "http" { 80 } else { 443 })
    }

    /// A full URL for an already-encoded absolute path (starting with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}{}", self.scheme, self.authority, self.base_path, path)
    }
}

/// `host[:port]` with a DNS-style host or a bracketed IPv6 literal; `None` when malformed.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let end = inner.find(']')?;
        let literal = &inner[..end];
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return None;
        }
        (&authority[..end + 2], &inner[end + 1..])
    } else {
        let end = authority.find(':').unwrap_or(authority.len());
        (&authority[..end], &authority[end..])
    };
    let host_ok = host.starts_with('[')
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| !label.is_empty() && label.len() <= 63)
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')));
    if !host_ok {
        return None;
    }
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        None => return None,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
    };
    Some((host, port))
}

/// RFC 3986 path characters (unreserved, sub-delims, `:`, `@`, `/`, `%`).
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// The DNS suffixes of AWS service endpoints in a region's partition: the
/// standard names, and the dual-stack `api.aws` ones. FIPS, dual-stack and
/// VPC-endpoint (`*.vpce.amazonaws.com`) names are subdomains of these.
pub fn partition_suffixes(region: &str) -> &'static [&'static str] {
    if region.starts_with("cn-") {
        &[".amazonaws.com.cn", ".api.amazonwebservices.com.cn"]
    } else {
        &[".amazonaws.com", ".api.aws"]
    }
}

/// Whether `host` names an AWS service endpoint of the region's partition
/// (the SaaS rule for `configuration.endpoint`). Only DNS names qualify: an IP
/// literal never does, whatever it points at.
pub fn is_aws_service_host(host: &str, region: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let dns_name = host
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    dns_name
        && partition_suffixes(region)
            .iter()
            .any(|suffix| host.len() > suffix.len() && host.ends_with(suffix))
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

    #[test]
    fn malformed_overrides_are_validation_errors() {
        for bad in [
            "http://127.0.0.1:http://6001/",
            "https://[::1",
            "https://[::1]x",
            "https://[not-v6]/",
            "https://host:99999",
            "https://host:0",
            "https://host:",
            "https://ho st/",
            "https://host/a b",
            "https://host/\r\nx: y",
            "https://host/\u{7f}",
            "https://a..b/",
            "https://ex%61mple.com/",
        ] {
            match Endpoint::parse("configuration.endpoint", bad) {
                Err(Error::Validation(v)) => assert_eq!(v[0].property, "configuration.endpoint", "{bad}"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let e = Endpoint::parse("p", "https://[::1]:8443/base/").unwrap();
        assert_eq!(
            (e.host(), e.port(), e.url("/")),
            ("[::1]", 8443, "https://[::1]:8443/base/".to_string())
        );
        assert_eq!(Endpoint::parse("p", "http://h").unwrap().port(), 80);
        assert_eq!(Endpoint::parse("p", "h").unwrap().port(), 443);
    }

    #[test]
    fn aws_service_hosts_of_the_partition() {
        for ok in [
            "textract.us-east-1.amazonaws.com",
            "textract-fips.us-east-1.amazonaws.com",
            "textract.us-east-1.api.aws",
            "vpce-0abc-xyz.textract.us-east-1.vpce.amazonaws.com",
            "bucket.s3.dualstack.us-east-1.amazonaws.com",
            "TEXTRACT.US-EAST-1.AMAZONAWS.COM.",
        ] {
            assert!(is_aws_service_host(ok, "us-east-1"), "{ok}");
        }
        assert!(is_aws_service_host(
            "textract.cn-north-1.amazonaws.com.cn",
            "cn-north-1"
        ));
        for bad in [
            "amazonaws.com",
            ".amazonaws.com",
            "evilamazonaws.com",
            "amazonaws.com.evil.com",
            "169.254.169.254",
            "[::1]",
            "localhost",
            "metadata.google.internal",
            "kubernetes.default.svc",
            "textract.cn-north-1.amazonaws.com.cn",
            "x_y.amazonaws.com",
        ] {
            assert!(!is_aws_service_host(bad, "us-east-1"), "{bad}");
        }
        assert!(!is_aws_service_host("textract.us-east-1.amazonaws.com", "cn-north-1"));
    }
}
