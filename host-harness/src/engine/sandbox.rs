//! What an execution is granted, and the limits it runs under.
//!
//! - **SaaS** (the default): no environment variables, no files, egress only to
//!   the hosts the input implies (plus the operator's `--allow-host`).
//! - **Self-managed**: the operator's own AWS environment and nothing more: the
//!   host's `AWS_*` variables, a read-only AWS config folder at `/aws`, the
//!   files those variables name (each folder read-only), and egress to STS and
//!   the metadata endpoints (container credentials, IMDS).

use crate::transport::egress::EgressPolicy;
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeMode {
    #[default]
    Saas,
    SelfManaged,
}

/// The operator's environment, granted in self-managed mode only.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Candidate variables; only `AWS_*` ones ever reach the guest.
    pub env: Vec<(String, String)>,
    /// Mounted read-only at `/aws` when it exists.
    pub aws_config_dir: Option<PathBuf>,
}

impl Grants {
    /// The `AWS_*` variables of this process, and `~/.aws` unless told otherwise.
    pub fn from_process(aws_config_dir: Option<PathBuf>) -> Self {
        Grants {
            env: std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).collect(),
            aws_config_dir: aws_config_dir.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws"))),
        }
    }
}

/// Where the guest finds the AWS config folder.
pub const GUEST_AWS_DIR: &str = "/aws";

/// Variables that name a file: the guest gets a path it can open.
const FILE_VARIABLES: &[&str] = &[
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// Grants the self-managed environment to a WASI context, and widens the
/// egress policy to STS and the metadata endpoints.
pub fn grant_self_managed(wasi: &mut WasiCtxBuilder, grants: &Grants, policy: &mut EgressPolicy) -> Result<()> {
    let aws_dir = grants.aws_config_dir.as_ref().filter(|d| d.is_dir());
    if let Some(dir) = aws_dir {
        wasi.preopened_dir(dir, GUEST_AWS_DIR, FsPerms::ReadOnly)
            .map_err(|e| anyhow!("cannot grant {}: {e}", dir.display()))?;
    }
    let mut extra_dirs = 0;
    let mut region = None;
    for (name, value) in grants.env.iter().filter(|(k, _)| k.starts_with("AWS_")) {
        let value = if FILE_VARIABLES.contains(&name.as_str()) {
            let path = Path::new(value);
            match (aws_dir, path.parent(), path.file_name()) {
                (Some(dir), _, _) if path.starts_with(dir) => {
                    let inside = path.strip_prefix(dir).unwrap_or(path);
                    format!("{GUEST_AWS_DIR}/{}", inside.display())
                }
                (_, Some(parent), Some(file)) if parent.is_dir() => {
                    extra_dirs += 1;
                    let guest = format!("/granted/{extra_dirs}");
                    wasi.preopened_dir(parent, &guest, FsPerms::ReadOnly)
                        .map_err(|e| anyhow!("cannot grant {}: {e}", parent.display()))?;
                    format!("{guest}/{}", file.to_string_lossy())
                }
                _ => value.clone(),
            }
        } else {
            value.clone()
        };
        if name == "AWS_REGION" || (name == "AWS_DEFAULT_REGION" && region.is_none()) {
            region = Some(value.clone());
        }
        if name == "AWS_CONTAINER_CREDENTIALS_FULL_URI" {
            if let Some(authority) = value.split_once("://").map(|(_, r)| r.split('/').next().unwrap_or("")) {
                policy.grant(authority);
            }
        }
        wasi.env(name, &value);
    }
    // Container credentials (ECS, EKS Pod Identity) and EC2 instance metadata.
    for host in ["169.254.170.2:80", "169.254.170.23:80", "169.254.169.254:80"] {
        policy.grant(host);
    }
    policy.grant("sts.amazonaws.com");
    // The region the grants name (environment, else the profile) is implied as
    // much as the input's: the guest resolves it from the same grants.
    let region = region.or_else(|| profile_region(grants));
    if let Some(region) = region {
        policy.allow_region(&region);
    }
    Ok(())
}

/// The `region` of the active profile in the granted config file.
fn profile_region(grants: &Grants) -> Option<String> {
    let var = |name: &str| grants.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let path = var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| grants.aws_config_dir.as_ref().map(|d| d.join("config")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
    profile_setting(&text, &profile, "region")
}

/// One setting of one profile in a shared `config` file (`[default]` or
/// `[profile NAME]`, `key = value`, `#`/`;` comments). The host reads only the
/// region, to know which regional hosts the guest's grants imply; the guest
/// parses the files in full.
fn profile_setting(text: &str, profile: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let name = section.strip_prefix("profile ").map(str::trim);
            inside = name == Some(profile) || (section == "default" && profile == "default");
            continue;
        }
        if !inside || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim().eq_ignore_ascii_case(key) {
                let value = v.split([' ', '\t']).find(|w| !w.is_empty())?;
                return (!value.starts_with('#') && !value.starts_with(';')).then(|| value.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_region_is_read_from_its_own_section() {
        let text = "[default]\nregion = us-east-1\n[sso-session x]\nregion = eu-north-1\n\
                    [profile work]\n# region = nope\nregion = eu-west-2 ; inline\n";
        assert_eq!(profile_setting(text, "default", "region").as_deref(), Some("us-east-1"));
        assert_eq!(profile_setting(text, "work", "region").as_deref(), Some("eu-west-2"));
        assert_eq!(profile_setting(text, "x", "region"), None);
        assert_eq!(profile_setting(text, "other", "region"), None);
    }

    #[test]
    fn self_managed_grants_only_aws_variables_and_metadata_egress() {
        let mut wasi = WasiCtxBuilder::new();
        let mut policy = EgressPolicy::default();
        let grants = Grants {
            env: vec![
                ("AWS_REGION".into(), "eu-west-1".into()),
                ("HOME".into(), "/root".into()),
            ],
            aws_config_dir: None,
        };
        grant_self_managed(&mut wasi, &grants, &mut policy).unwrap();
        assert!(policy.allows("169.254.169.254", 80));
        assert!(policy.allows("sts.eu-west-1.amazonaws.com", 443));
        assert!(policy.allows("textract.eu-west-1.amazonaws.com", 443));
        assert!(!policy.allows("169.254.169.254", 443));
    }
}
