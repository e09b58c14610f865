//! Which targets an execution may call. The policy fails closed: an empty
//! policy denies everything. Entries come from what the input implies (the
//! region's AWS endpoints, and in SaaS mode an endpoint override only when it is
//! an https AWS service host of the partition), from the runtime's own grants
//! (self-managed metadata endpoints), and from the operator (`--allow-host`,
//! `--allow-cidr`).
//!
//! | pattern              | matches                                        |
//! |----------------------|------------------------------------------------|
//! | `host.example.com`   | that host, on any port                         |
//! | `host:8080`          | that host on port 8080 only                    |
//! | `*.example.com`      | any subdomain (not `example.com` itself)       |
//! | `127.0.0.1:9000`     | that address and port (any spelling of it)     |
//!
//! The address actually connected to is checked too, after DNS: an exact entry
//! of the operator or of a grant admits the target it names, whatever it
//! resolves to; every other entry (implied AWS names, wildcards) admits only
//! public addresses, unless the operator admits a range with `--allow-cidr`
//! (for VPC endpoints). Numeric IPv4 spellings (`127.1`, `2130706433`,
//! `0x7f000001`) and IPv4-mapped IPv6 are normalised before any comparison.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    patterns: Vec<Pattern>,
    cidrs: Vec<Cidr>,
}

/// Who put an entry in the policy, which decides how far it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Derived from the tenant's input: AWS names only, public addresses only.
    Implied,
    /// The runtime's own grant (self-managed metadata endpoints, the override there).
    Granted,
    /// The operator's `--allow-host`.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    host: String,
    port: Option<u16>,
    origin: Origin,
}

/// How a target was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Named exactly by the operator or a grant: any address it resolves to.
    Exact,
    /// Admitted by an implied or wildcard entry: public addresses only.
    PublicOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl EgressPolicy {
    /// Denies everything.
    pub fn deny_all() -> Self {
        EgressPolicy::default()
    }

    /// An operator's entry (`--allow-host`).
    pub fn allow(&mut self, pattern: &str) {
        self.add(pattern, Origin::Operator);
    }

    /// An entry as the input implies it: admitted by name, public addresses only.
    pub fn imply(&mut self, pattern: &str) {
        self.add(pattern, Origin::Implied);
    }

    /// An entry the runtime grants itself (self-managed mode's metadata endpoints).
    pub fn grant(&mut self, pattern: &str) {
        self.add(pattern, Origin::Granted);
    }

    fn add(&mut self, pattern: &str, origin: Origin) {
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
        let entry = Pattern {
            host: normalize_host(&host),
            port,
            origin,
        };
        if !self.patterns.contains(&entry) {
            self.patterns.push(entry);
        }
    }

    /// An operator's `--allow-cidr` range (`10.0.0.0/8`, `fd00::/8`): addresses
    /// there may be connected to for implied and wildcard entries.
    pub fn allow_cidr(&mut self, text: &str) -> Result<(), String> {
        let (addr, prefix) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a CIDR range like 10.0.0.0/8"))?;
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not a CIDR range like 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{text:?} has a bad prefix length"))?;
        self.cidrs.push(Cidr { network, prefix });
        Ok(())
    }

    /// Whether any entry admits `host:port`, by name (the address is checked later).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.admission(host, port).is_some()
    }

    /// How `host:port` is admitted, if at all; an exact entry wins.
    pub fn admission(&self, host: &str, port: u16) -> Option<Admission> {
        let host = normalize_host(host);
        let mut found = None;
        for p in self.patterns.iter().filter(|p| p.matches(&host, port)) {
            if p.origin != Origin::Implied && !p.host.starts_with("*.") {
                return Some(Admission::Exact);
            }
            found = Some(Admission::PublicOnly);
        }
        found
    }

    /// Whether the operator's own entries admit `host:port` (the `runtime`
    /// import the connector asks before an external download or, in SaaS, a
    /// non-AWS endpoint override).
    pub fn operator_allows(&self, host: &str, port: u16) -> bool {
        let host = normalize_host(host);
        self.patterns
            .iter()
            .any(|p| p.origin == Origin::Operator && p.matches(&host, port))
    }

    /// Whether an address may be connected to under an admission.
    pub fn address_allowed(&self, ip: IpAddr, admission: Admission) -> bool {
        let ip = canonical_ip(ip);
        admission == Admission::Exact || is_public(ip) || self.cidrs.iter().any(|c| c.contains(ip))
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
    /// S3 (both addressing styles) and STS, over https only. A malformed region
    /// allows nothing.
    pub fn allow_region(&mut self, region: &str) {
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return;
        }
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        for host in [
            format!("textract.{region}.{suffix}:443"),
            format!("textract-fips.{region}.{suffix}:443"),
            format!("s3.{region}.{suffix}:443"),
            format!("*.s3.{region}.{suffix}:443"),
            format!("sts.{region}.{suffix}:443"),
        ] {
            self.imply(&host);
        }
    }

    /// The targets an input implies in SaaS mode: AWS in its region, and its
    /// endpoint override only when that is an https AWS service host of the
    /// region's partition (anything else needs the operator's `--allow-host`).
    pub fn implied_by(input: &str) -> Self {
        let mut policy = EgressPolicy::default();
        let Ok(v) = serde_json::from_str::<Value>(input) else {
            return policy;
        };
        let region = input_region(&v);
        if let Some(region) = &region {
            policy.allow_region(region);
        }
        if let Some((target, host, https)) = endpoint_target(&v) {
            if https && is_aws_service_host(&host, region.as_deref().unwrap_or("")) {
                policy.add(&target, Origin::Implied);
            }
        }
        policy
    }

    /// Self-managed mode: the operator runs their own model, so the input's
    /// endpoint override (a LocalStack, a proxy) is granted as named.
    pub fn grant_endpoint_of(&mut self, input: &str) {
        if let Some((target, _, _)) = serde_json::from_str::<Value>(input)
            .ok()
            .as_ref()
            .and_then(endpoint_target)
        {
            self.add(&target, Origin::Granted);
        }
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The connector's rule: `configuration.region` when set (it overrides an
/// `awsCredential`'s region), else the credential's region.
fn input_region(v: &Value) -> Option<String> {
    text(v.pointer("/configuration/region")).or_else(|| text(v.pointer("/awsCredential/region")))
}

/// `configuration.endpoint` as `host:port`, its host, and whether it is https.
fn endpoint_target(v: &Value) -> Option<(String, String, bool)> {
    let endpoint = text(v.pointer("/configuration/endpoint"))?;
    let https = !endpoint.to_ascii_lowercase().starts_with("http://");
    let rest = endpoint.split_once("://").map(|(_, r)| r).unwrap_or(&endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    let target = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if https { 443 } else { 80 })
    };
    let host = target.rsplit_once(':').map_or(String::new(), |(h, _)| h.to_string());
    Some((target, host, https))
}

impl Pattern {
    fn matches(&self, host: &str, port: u16) -> bool {
        let host_ok = match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => self.host == host,
        };
        host_ok && self.port.is_none_or(|want| want == port)
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The same rule as the connector's: a DNS name under the AWS suffixes of the
/// region's partition (`*.amazonaws.com`, `*.api.aws`; `*.amazonaws.com.cn` in China).
pub fn is_aws_service_host(host: &str, region: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let suffixes: &[&str] = if region.starts_with("cn-") {
        &[".amazonaws.com.cn", ".api.amazonwebservices.com.cn"]
    } else {
        &[".amazonaws.com", ".api.aws"]
    };
    let dns_name = host
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    dns_name && suffixes.iter().any(|s| host.len() > s.len() && host.ends_with(s))
}

/// A host as compared: lower case, no trailing dot, and an IP literal in any
/// spelling as its canonical text (`127.1` → `127.0.0.1`, `[::ffff:a.b.c.d]` → `a.b.c.d`).
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    match parse_ip(&host) {
        Some(ip) => canonical_ip(ip).to_string(),
        None => host,
    }
}

/// An IP literal: bracketed or bare IPv6, or IPv4 in any spelling `inet_aton`
/// accepts (what the system resolver would connect to).
pub fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    parse_ipv4_any(bare).map(IpAddr::V4)
}

/// `a.b.c.d`, `a.b.c`, `a.b`, `a`, each part decimal, octal (`0…`) or hex (`0x…`).
fn parse_ipv4_any(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (*part, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 64 && *last >= 1u64 << room {
        return None;
    }
    let mut addr: u64 = 0;
    for (i, v) in leading.iter().enumerate() {
        addr |= v << (24 - 8 * i as u32);
    }
    addr |= last;
    Some(Ipv4Addr::from(u32::try_from(addr).ok()?))
}

/// IPv4-mapped and NAT64 IPv6 addresses as the IPv4 address they reach.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// A public unicast address: not private, loopback, link-local, unique-local,
/// CGNAT, multicast, unspecified, broadcast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(o[0] == 0
                || o[0] == 10
                || o[0] == 127
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 169 && o[1] == 254)
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 198 && o[1] == 51 && o[2] == 100)
                || (o[0] == 203 && o[1] == 0 && o[2] == 113)
                || o[0] >= 224)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xff00) == 0xff00
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])
                || s[..6] == [0, 0, 0, 0, 0, 0])
        }
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
        // configuration.region overrides the credential's region, as in the connector.
        assert!(p.allows("textract.eu-west-1.amazonaws.com", 443));
        assert!(!p.allows("textract.us-east-2.amazonaws.com", 443));
        let p = EgressPolicy::implied_by(r#"{"configuration":{"region":" "},"awsCredential":{"region":"us-east-2"}}"#);
        assert!(p.allows("textract.us-east-2.amazonaws.com", 443));
        // SaaS: an override that is not an https AWS service host implies nothing.
        assert!(!p.allows("127.0.0.1", 4566));
        let mut granted = p.clone();
        granted.grant_endpoint_of(r#"{"configuration":{"endpoint":"http://127.0.0.1:4566"}}"#);
        assert_eq!(granted.admission("127.0.0.1", 4566), Some(Admission::Exact));
        assert!(
            !granted.operator_allows("127.0.0.1", 4566),
            "a grant is not the operator's word"
        );
        let p = EgressPolicy::implied_by(r#"{"configuration":{"region":"x.evil.com/"}}"#);
        assert!(p.patterns().is_empty());
    }

    /// Every address form a tenant tried as `configuration.endpoint` in SaaS mode:
    /// (endpoint, implied by the input?, allowed when a name resolves to it?).
    const SAAS_FORMS: &[&str] = &[
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254",
        "http://127.0.0.1:4566",
        "https://localhost",
        "https://[::1]",
        "https://[::ffff:169.254.169.254]",
        "https://[::ffff:127.0.0.1]:443",
        "https://0.0.0.0",
        "https://127.1",
        "https://2130706433",
        "https://0x7f000001",
        "https://0177.0.0.1",
        "https://10.0.0.5",
        "https://172.16.0.1",
        "https://192.168.1.1",
        "https://100.64.0.1",
        "https://[fd00::1]",
        "https://[fe80::1]",
        "https://224.0.0.1",
        "https://metadata.google.internal",
        "https://kubernetes.default.svc",
        "http://textract.us-east-1.amazonaws.com",
        "https://textract.us-east-1.amazonaws.com.evil.com",
        "https://amazonaws.com",
        "https://textract.cn-north-1.amazonaws.com.cn",
    ];

    #[test]
    fn saas_endpoint_forms_are_refused() {
        for endpoint in SAAS_FORMS {
            let input = format!(r#"{{"configuration":{{"region":"us-east-1","endpoint":"{endpoint}"}}}}"#);
            let p = EgressPolicy::implied_by(&input);
            let (host, port) = endpoint_target(&serde_json::from_str(&input).unwrap())
                .map(|(t, h, _)| {
                    let port = t.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap();
                    (h, port)
                })
                .unwrap();
            assert!(!p.allows(&host, port), "{endpoint} must not be implied");
        }
        for endpoint in [
            "https://textract-fips.us-east-1.amazonaws.com",
            "https://vpce-0a1-b2.textract.us-east-1.vpce.amazonaws.com",
            "https://textract.us-east-1.api.aws",
        ] {
            let input = format!(r#"{{"configuration":{{"region":"us-east-1","endpoint":"{endpoint}"}}}}"#);
            let host = endpoint.trim_start_matches("https://");
            let p = EgressPolicy::implied_by(&input);
            assert_eq!(p.admission(host, 443), Some(Admission::PublicOnly), "{endpoint}");
        }
    }

    #[test]
    fn ip_spellings_are_normalised() {
        for (spelling, canonical) in [
            ("127.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("[::ffff:169.254.169.254]", "169.254.169.254"),
            ("[::ffff:a9fe:a9fe]", "169.254.169.254"),
            ("[64:ff9b::a9fe:a9fe]", "169.254.169.254"),
            ("0", "0.0.0.0"),
            ("[::1]", "::1"),
        ] {
            assert_eq!(normalize_host(spelling), canonical, "{spelling}");
        }
        for not_ip in ["1.2.3.4.5", "256.1.1.1", "0x1g", "example.com", "1.2.3.4294967296"] {
            assert!(parse_ip(not_ip).is_none(), "{not_ip}");
        }
    }

    #[test]
    fn wildcard_and_implied_entries_admit_only_public_addresses() {
        let mut p = EgressPolicy::implied_by(r#"{"configuration":{"region":"us-east-1"}}"#);
        p.allow("*.example.com");
        p.allow("127.0.0.1:9000");
        let implied = p.admission("textract.us-east-1.amazonaws.com", 443).unwrap();
        let wildcard = p.admission("docs.example.com", 443).unwrap();
        assert_eq!((implied, wildcard), (Admission::PublicOnly, Admission::PublicOnly));
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "100.64.1.1",
            "0.0.0.0",
            "::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "::",
            "255.255.255.255",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(!p.address_allowed(ip, Admission::PublicOnly), "{private}");
        }
        assert!(p.address_allowed("52.94.1.1".parse().unwrap(), Admission::PublicOnly));
        assert!(p.address_allowed("2600:1f18::1".parse().unwrap(), Admission::PublicOnly));
        // An exact operator entry admits that one target, in any spelling.
        assert_eq!(p.admission("2130706433", 9000), Some(Admission::Exact));
        assert!(p.address_allowed("127.0.0.1".parse().unwrap(), Admission::Exact));
        assert!(p.operator_allows("127.0.0.1", 9000));
        assert!(!p.operator_allows("127.0.0.1", 9001));
        assert!(!p.operator_allows("textract.us-east-1.amazonaws.com", 443));
        // VPC endpoints: the operator admits their private range explicitly.
        p.allow_cidr("10.0.0.0/8").unwrap();
        assert!(p.address_allowed("10.1.2.3".parse().unwrap(), Admission::PublicOnly));
        assert!(!p.address_allowed("172.16.0.1".parse().unwrap(), Admission::PublicOnly));
        assert!(p.allow_cidr("10.0.0.0").is_err());
        assert!(p.allow_cidr("10.0.0.0/33").is_err());
    }
}
