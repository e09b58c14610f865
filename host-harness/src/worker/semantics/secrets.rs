//! Secrets, as Camunda's connector runtime resolves them: `{{secrets.NAME}}`
//! anywhere in a string of the job's variables, and the deprecated
//! `secrets.NAME` as a whole string, replaced before the connector sees its
//! input. Each tenant's secrets come from its own source only: a JSON file
//! named in its policy, or (self-managed) the host's environment under an
//! optional prefix. The values used are remembered, so that none of them is
//! ever shown: they are masked in every error, completion and log line.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Where one tenant's secrets come from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// No secrets (a SaaS tenant without a secrets file).
    None,
    /// The host's environment variables, `PREFIX` + name (self-managed only).
    Environment { prefix: String },
    /// A tenant's own file: a JSON object of names to strings.
    Map(BTreeMap<String, String>),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::None => f.write_str("None"),
            SecretSource::Environment { prefix } => write!(f, "Environment {{ prefix: {prefix:?} }}"),
            SecretSource::Map(m) => write!(f, "Map({} secrets)", m.len()),
        }
    }
}

impl SecretSource {
    /// Reads a tenant's secrets file; the error names the file, never a value.
    pub fn from_file(path: &Path) -> anyhow::Result<SecretSource> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the secrets file {}: {e}", path.display()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("the secrets file {} is not JSON (line {})", path.display(), e.line()))?;
        let Value::Object(entries) = value else {
            anyhow::bail!("the secrets file {} must be a JSON object of names to strings", path.display());
        };
        let mut map = BTreeMap::new();
        for (name, value) in entries {
            match value {
                Value::String(s) => {
                    map.insert(name, s);
                }
                _ => anyhow::bail!("secret {name:?} in {} is not a string", path.display()),
            }
        }
        Ok(SecretSource::Map(map))
    }

    fn lookup(&self, name: &str) -> Option<String> {
        match self {
            SecretSource::None => None,
            SecretSource::Environment { prefix } => std::env::var(format!("{prefix}{name}")).ok(),
            SecretSource::Map(map) => map.get(name).cloned(),
        }
    }
}

/// The values substituted into one job's input, for masking.
#[derive(Default, Clone)]
pub struct Used {
    values: Vec<String>,
}

impl std::fmt::Debug for Used {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Used({} secrets)", self.values.len())
    }
}

/// Values shorter than this are not masked (they would garble unrelated text).
const MASKED_FROM: usize = 4;

impl Used {
    /// `text` with every secret value used replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if value.len() >= MASKED_FROM && out.contains(value.as_str()) {
                out = out.replace(value.as_str(), "***");
            }
        }
        out
    }

    /// Masks every string (and key) of `value` in place.
    pub fn mask_value(&self, value: &mut Value) {
        if self.values.iter().all(|v| v.len() < MASKED_FROM) {
            return;
        }
        match value {
            Value::String(s) => {
                let masked = self.mask(s);
                if masked != *s {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_value(v)),
            Value::Object(map) => {
                let needs_key_mask = map.keys().any(|k| self.mask(k) != *k);
                if needs_key_mask {
                    let old = std::mem::take(map);
                    *map = old.into_iter().map(|(k, v)| (self.mask(&k), v)).collect::<Map<_, _>>();
                }
                map.values_mut().for_each(|v| self.mask_value(v));
            }
            _ => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Replaces the placeholders in every string of `variables`. The error names
/// the first secret the source does not have, in Camunda's words.
pub fn substitute(variables: &mut Value, source: &SecretSource) -> Result<Used, String> {
    let mut used = Used::default();
    walk(variables, source, &mut used)?;
    Ok(used)
}

fn walk(value: &mut Value, source: &SecretSource, used: &mut Used) -> Result<(), String> {
    match value {
        Value::String(text) => {
            if let Some(replaced) = replace(text, source, used)? {
                *text = replaced;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, source, used)),
        Value::Object(map) => map.values_mut().try_for_each(|v| walk(v, source, used)),
        _ => Ok(()),
    }
}

fn secret(name: &str, source: &SecretSource, used: &mut Used) -> Result<String, String> {
    let value = source
        .lookup(name)
        .ok_or_else(|| format!("Secret with name '{name}' is not available"))?;
    if !used.values.contains(&value) {
        used.values.push(value.clone());
    }
    Ok(value)
}

/// The text with its placeholders replaced, or `None` when it has none.
fn replace(text: &str, source: &SecretSource, used: &mut Used) -> Result<Option<String>, String> {
    // The deprecated form: the whole string is `secrets.NAME`.
    if let Some(name) = text.trim().strip_prefix("secrets.") {
        if legacy_name(name) {
            return secret(name, source, used).map(Some);
        }
    }
    if !text.contains("{{") {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match placeholder(after) {
            Some((name, consumed)) => {
                out.push_str(&secret(name, source, used)?);
                rest = &after[consumed..];
                changed = true;
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(changed.then_some(out))
}

/// After `{{`: `\s*secrets.NAME\s*}}`, NAME being non-space characters.
/// Returns the name and how many bytes the placeholder takes after `{{`.
fn placeholder(after: &str) -> Option<(&str, usize)> {
    let inner = after.trim_start();
    let skipped = after.len() - inner.len();
    let body = inner.strip_prefix("secrets.")?;
    let end = body.find("}}")?;
    let name = body[..end].trim_end();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name, skipped + "secrets.".len() + end + 2))
}

/// `([a-zA-Z0-9]+[/._-])*[a-zA-Z0-9]+`
fn legacy_name(name: &str) -> bool {
    !name.is_empty()
        && name.split(['/', '.', '_', '-']).all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> SecretSource {
        SecretSource::Map(BTreeMap::from([
            ("AWS_KEY".to_string(), "AKIAEXAMPLEKEY".to_string()),
            ("AWS_SECRET".to_string(), "wJalr\"quoted\"secret".to_string()),
            ("BUCKET".to_string(), "tenant-a-docs".to_string()),
        ]))
    }

    #[test]
    fn placeholders_are_replaced_in_any_string_also_inside_longer_ones() {
        let mut v = json!({
            "authentication": {"accessKey": "{{secrets.AWS_KEY}}", "secretKey": "{{ secrets.AWS_SECRET }}"},
            "input": {"documentS3Bucket": "secrets.BUCKET", "documentName": "in/{{secrets.BUCKET}}/a.png",
                      "list": ["x{{secrets.AWS_KEY}}y", 3, null], "untouched": "{{not a secret}} {{secrets.}}"}
        });
        let used = substitute(&mut v, &source()).unwrap();
        assert_eq!(v["authentication"]["accessKey"], "AKIAEXAMPLEKEY");
        assert_eq!(v["authentication"]["secretKey"], "wJalr\"quoted\"secret");
        assert_eq!(v["input"]["documentS3Bucket"], "tenant-a-docs");
        assert_eq!(v["input"]["documentName"], "in/tenant-a-docs/a.png");
        assert_eq!(v["input"]["list"], json!(["xAKIAEXAMPLEKEYy", 3, null]));
        assert_eq!(v["input"]["untouched"], "{{not a secret}} {{secrets.}}");
        assert_eq!(used.mask("denied for AKIAEXAMPLEKEY on tenant-a-docs"), "denied for *** on ***");
    }

    #[test]
    fn the_legacy_form_is_a_whole_string_only() {
        let mut v = json!({"a": "see secrets.BUCKET here", "b": " secrets.BUCKET "});
        substitute(&mut v, &source()).unwrap();
        assert_eq!(v, json!({"a": "see secrets.BUCKET here", "b": "tenant-a-docs"}));
    }

    #[test]
    fn an_unknown_secret_is_named_and_no_value_is_shown() {
        let mut v = json!({"a": "{{secrets.AWS_KEY}}", "b": "{{secrets.MISSING}}"});
        assert_eq!(substitute(&mut v, &source()).unwrap_err(), "Secret with name 'MISSING' is not available");
        let mut v = json!({"a": "{{secrets.AWS_KEY}}"});
        assert!(substitute(&mut v, &SecretSource::None).is_err(), "no source, no secrets");
        assert!(!format!("{:?}", source()).contains("AKIA"));
    }

    #[test]
    fn masking_reaches_nested_strings_and_keys() {
        let mut v = json!({"a": "{{secrets.AWS_KEY}}"});
        let used = substitute(&mut v, &source()).unwrap();
        let mut out = json!({"echo": ["AKIAEXAMPLEKEY"], "AKIAEXAMPLEKEY": 1});
        used.mask_value(&mut out);
        assert_eq!(out, json!({"echo": ["***"], "***": 1}));
    }
}
