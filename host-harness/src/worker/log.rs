//! The worker's log: one line per event on stderr, `key=value` pairs after the
//! event name (logfmt). Values are quoted when they need it and control
//! characters are escaped, so nothing from the cluster or a tenant can start a
//! line of its own. Variables and credentials are never passed in here.

use crate::engine::runtime_log::escape_controls;
use std::fmt::Display;

pub struct Line {
    text: String,
}

impl Line {
    pub fn new(event: &str) -> Line {
        Line {
            text: format!("textract-host worker: event={event}"),
        }
    }

    pub fn field(mut self, key: &str, value: impl Display) -> Line {
        let value = escape_controls(&value.to_string());
        let value: String = value.chars().take(500).collect();
        if value.is_empty() || value.contains([' ', '"', '=']) {
            self.text
                .push_str(&format!(" {key}=\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")));
        } else {
            self.text.push_str(&format!(" {key}={value}"));
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn emit(self) {
        eprintln!("{}", self.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_the_line_or_the_pairs() {
        let l = Line::new("job-finished")
            .field("job", "42")
            .field("tenant", "evil\ntextract-host worker: event=forged")
            .field("error", "a \"quoted\" thing");
        assert!(!l.text().contains('\n'));
        assert!(l.text().starts_with("textract-host worker: event=job-finished job=42 tenant=\""));
        assert!(l.text().ends_with(r#" error="a \"quoted\" thing""#), "{}", l.text());
    }
}
