//! The operator's tenant policy (`--tenant-config FILE`, TOML): per tenant id,
//! its mode, the hosts it may call beyond what its inputs imply, its secrets
//! file, its memory and time limits, and its share of the worker (`concurrency`,
//! the most of its jobs held at once). The worker activates only these
//! tenants' jobs, each tenant on its own lane, so one tenant's flood or slow
//! jobs never take another's slots. A key the schema does not know stops the
//! worker at start-up, with the line it is on.

use crate::limits;
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tenants: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    mode: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    secrets_file: Option<PathBuf>,
    max_memory: Option<String>,
    timeout: Option<String>,
    concurrency: Option<usize>,
}

/// One tenant's policy, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPolicy {
    pub id: String,
    pub self_managed: bool,
    pub allowed_hosts: Vec<String>,
    /// Resolved against the policy file's folder.
    pub secrets_file: Option<PathBuf>,
    pub max_memory: Option<usize>,
    pub timeout: Option<Duration>,
    pub concurrency: Option<usize>,
}

/// Reads and checks the policy file.
pub fn load(path: &Path) -> Result<Vec<TenantPolicy>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    parse(&text, path.parent().unwrap_or(Path::new(".")))
        .map_err(|e| anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
}

pub fn parse(text: &str, base: &Path) -> Result<Vec<TenantPolicy>> {
    let file: File = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
    if file.tenants.is_empty() {
        bail!("no [tenants.\"ID\"] table: name at least one tenant");
    }
    file.tenants
        .into_iter()
        .map(|(id, entry)| {
            let self_managed = match entry.mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("saas") => false,
                Some("self-managed") => true,
                Some(other) => bail!("tenant {id:?}: mode must be \"saas\" or \"self-managed\", not {other:?}"),
            };
            if id.is_empty() || id.len() > 31 && id != "<default>" {
                bail!("tenant id {id:?} is not a Camunda tenant id (1 to 31 characters)");
            }
            if entry.concurrency == Some(0) {
                bail!("tenant {id:?}: concurrency must be at least 1");
            }
            Ok(TenantPolicy {
                self_managed,
                allowed_hosts: entry.allowed_hosts,
                secrets_file: entry.secrets_file.map(|f| base.join(f)),
                max_memory: entry
                    .max_memory
                    .as_deref()
                    .map(limits::parse_bytes)
                    .transpose()
                    .map_err(|e| anyhow!("tenant {id:?}: max_memory: {e}"))?,
                timeout: entry
                    .timeout
                    .as_deref()
                    .map(limits::parse_duration)
                    .transpose()
                    .map_err(|e| anyhow!("tenant {id:?}: timeout: {e}"))?,
                concurrency: entry.concurrency,
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_schema_is_read() {
        let text = r#"
[tenants."tenant-a"]
mode = "saas"                           # or "self-managed"
allowed_hosts = ["127.0.0.1:9000"]      # added to the global --allow-host entries
secrets_file = "secrets/tenant-a.json"  # a JSON object {"NAME": "value", ...}; relative to this file
max_memory = "256MiB"
timeout = "5m"
concurrency = 4                         # at most this many of its jobs at once

[tenants."tenant-b"]
mode = "self-managed"
"#;
        let policies = parse(text, Path::new("/etc/textract")).unwrap();
        assert_eq!(
            policies[0],
            TenantPolicy {
                id: "tenant-a".into(),
                self_managed: false,
                allowed_hosts: vec!["127.0.0.1:9000".into()],
                secrets_file: Some(PathBuf::from("/etc/textract/secrets/tenant-a.json")),
                max_memory: Some(256 << 20),
                timeout: Some(Duration::from_secs(300)),
                concurrency: Some(4),
            }
        );
        assert!(policies[1].self_managed);
        assert_eq!(policies[1].concurrency, None);
    }

    #[test]
    fn an_unknown_key_names_the_key_and_its_line() {
        let text = "[tenants.\"tenant-a\"]\nmode = \"saas\"\nmax_memroy = \"1GiB\"\n";
        let e = parse(text, Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("max_memroy"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = parse("[tenant.\"a\"]\n", Path::new(".")).unwrap_err().to_string();
        assert!(e.contains("tenant") && e.contains("line 1"), "{e}");
        assert!(parse("[tenants.a]\nmode = \"root\"\n", Path::new(".")).is_err());
        assert!(parse("[tenants.a]\nconcurrency = 0\n", Path::new(".")).is_err());
    }
}
