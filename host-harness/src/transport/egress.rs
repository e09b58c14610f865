//! Which hosts an execution may call. The policy fails closed: an empty policy
//! denies everything. Entries come from what the execution's input implies (the
//! region's AWS endpoints, the endpoint override) plus what the operator allows.
//!
//! | pattern              | matches                                        |
//! |----------------------|------------------------------------------------|
//! | `host.example.com`   | that host, on any port                         |
//! | `host:8080`          | that host on port 8080 only                    |
//! | `*.example.com`      | any subdomain (not `example.com` itself)       |

use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    host: String,
    port: Option<u16>,
}

impl EgressPolicy {
    /// Denies everything.
    pub fn deny_all() -> Self {
        EgressPolicy::default()
    }

    pub fn allow(&mut self, pattern: &str) {
        let pattern = pattern.trim().to_ascii_lowercase();
        if pattern.is_empty() {
            return;
        }
        let (host, port) = match pattern.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => match p.parse::<u16>() {
                Ok(port) => (h.to_string(), Some(port)),
                Err(_) => (pattern.clone(), None),
            },
            _ => (pattern.clone(), None),
        };
        let entry = Pattern { host, port };
        if !self.patterns.contains(&entry) {
            self.patterns.push(entry);
        }
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.patterns.iter().any(|p| {
            let host_ok = match p.host.strip_prefix("*.") {
                Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
                None => p.host == host,
            };
            host_ok && p.port.is_none_or(|want| want == port)
        })
    }

    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| match p.port {
                Some(port) => format!("{}:{port}", p.host),
                None => p.host.clone(),
            })
            .collect()
    }

    /// The AWS endpoints the connector uses in a region: Textract (and FIPS),
    /// S3 (both addressing styles) and STS. A malformed region allows nothing.
    pub fn allow_region(&mut self, region: &str) {
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return;
        }
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        self.allow(&format!("textract.{region}.{suffix}"));
        self.allow(&format!("textract-fips.{region}.{suffix}"));
        self.allow(&format!("s3.{region}.{suffix}"));
        self.allow(&format!("*.s3.{region}.{suffix}"));
        self.allow(&format!("sts.{region}.{suffix}"));
    }

    /// The hosts an input implies: Textract and S3 in its region, and its endpoint override.
    pub fn implied_by(input: &str) -> Self {
        let mut policy = EgressPolicy::default();
        let Ok(v) = serde_json::from_str::<Value>(input) else {
            return policy;
        };
        let text = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let region = text(v.pointer("/awsCredential/region")).or_else(|| text(v.pointer("/configuration/region")));
        if let Some(region) = region {
            policy.allow_region(&region);
        }
        if let Some(endpoint) = text(v.pointer("/configuration/endpoint")) {
            let rest = endpoint.split_once("://").map(|(_, r)| r).unwrap_or(&endpoint);
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if !authority.is_empty() && !authority.contains('@') {
                let default_port = if endpoint.starts_with("http://") { 80 } else { 443 };
                if authority.contains(':') {
                    policy.allow(authority);
                } else {
                    policy.allow(&format!("{authority}:{default_port}"));
                }
            }
        }
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_denies_everything() {
        assert!(!EgressPolicy::deny_all().allows("textract.us-east-1.amazonaws.com", 443));
    }

    #[test]
    fn patterns_match_hosts_ports_and_subdomains() {
        let mut p = EgressPolicy::default();
        p.allow("api.example.com");
        p.allow("127.0.0.1:5000");
        p.allow("*.s3.eu-west-1.amazonaws.com");
        assert!(p.allows("API.example.com", 443));
        assert!(p.allows("127.0.0.1", 5000));
        assert!(!p.allows("127.0.0.1", 5001));
        assert!(p.allows("bucket.s3.eu-west-1.amazonaws.com", 443));
        assert!(!p.allows("s3.eu-west-1.amazonaws.com", 443));
        assert!(!p.allows("evil.com", 443));
        assert!(!p.allows("api.example.com.evil.com", 443));
    }

    #[test]
    fn input_implies_region_and_override_hosts() {
        let p = EgressPolicy::implied_by(
            r#"{"configuration":{"region":"eu-west-1","endpoint":"http://127.0.0.1:4566"},
                "awsCredential":{"region":"us-east-2"}}"#,
        );
        assert!(p.allows("textract.us-east-2.amazonaws.com", 443));
        assert!(!p.allows("textract.eu-west-1.amazonaws.com", 443));
        assert!(p.allows("127.0.0.1", 4566));
        let p = EgressPolicy::implied_by(r#"{"configuration":{"region":"x.evil.com/"}}"#);
        assert!(p.patterns().is_empty());
    }
}
