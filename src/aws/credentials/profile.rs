//! The shared `credentials` and `config` files: INI sections of `key = value`.
//! In `config`, profiles are `[profile name]` (and `[default]`); in
//! `credentials`, plain `[name]`. Comments start with `#` or `;`.

use std::collections::BTreeMap;

/// Every profile of one file: name → settings (keys lower-cased).
pub type Profiles = BTreeMap<String, BTreeMap<String, String>>;

/// Parses a file's text. `config_file` strips the `profile ` prefix of section names.
pub fn parse(text: &str, config_file: bool) -> Profiles {
    let mut profiles = Profiles::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            let name = if config_file {
                match section.strip_prefix("profile ") {
                    Some(name) => Some(name.trim().to_string()),
                    None if section == "default" => Some("default".to_string()),
                    // `[sso-session x]`, `[services x]` and the like hold no profile.
                    None => None,
                }
            } else {
                Some(section.to_string())
            };
            current = name;
            if let Some(name) = &current {
                profiles.entry(name.clone()).or_default();
            }
            continue;
        }
        if let (Some(name), Some((key, value))) = (&current, line.split_once('=')) {
            // An inline comment starts with whitespace and then `#` or `;`.
            let value = value.split([' ', '\t']).scan(false, |done, word| {
                if *done || word.starts_with('#') || word.starts_with(';') {
                    *done = true;
                    None
                } else {
                    Some(word)
                }
            });
            let value = value.filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
            if let Some(settings) = profiles.get_mut(name) {
                settings.insert(key.trim().to_ascii_lowercase(), value);
            }
        }
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_file_kinds() {
        let creds = parse(
            "[default]\naws_access_key_id = AKIA1\naws_secret_access_key=s1\n\n# c\n[dev]\nAWS_ACCESS_KEY_ID = AKIA2\n",
            false,
        );
        assert_eq!(creds["default"]["aws_access_key_id"], "AKIA1");
        assert_eq!(creds["default"]["aws_secret_access_key"], "s1");
        assert_eq!(creds["dev"]["aws_access_key_id"], "AKIA2");
        let config = parse("[default]\nregion = eu-west-1\n[profile ops]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = dev ; c\n[sso-session s]\nsso_region = x\n", true);
        assert_eq!(config["default"]["region"], "eu-west-1");
        assert_eq!(config["ops"]["source_profile"], "dev");
        assert!(!config.contains_key("s") && !config.contains_key("sso-session s"));
    }
}
