//! Validated text values shared by several entities.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// Trimmed, non-empty text of bounded length without control characters.
pub fn bounded(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// An email address, stored lowercased so that uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let e = raw.trim().to_lowercase();
        let bad = || DomainError::invalid("email", "must be an address like name@example.org");
        if e.len() > 254 || e.contains(char::is_whitespace) || e.contains('#') {
            return Err(bad());
        }
        let (local, domain) = e.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Self(e))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(&s)
    }
}
impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reason for change (21 CFR 11.10(e)): free text, but never blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded("reason", raw, 500).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Reason {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(&s)
    }
}
impl From<Reason> for String {
    fn from(r: Reason) -> String {
        r.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(Email::parse(" Ana@Site.ORG ").unwrap().as_str(), "ana@site.org");
        for bad in ["", "ana", "ana@", "@site.org", "ana@site", "a b@site.org", "a@b@c.org"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn blank_reason_is_refused() {
        assert!(Reason::parse("   ").is_err());
        assert_eq!(Reason::parse(" typo ").unwrap().as_str(), "typo");
    }

    #[test]
    fn bounded_text_limits_length() {
        assert!(bounded("title", &"x".repeat(201), 200).is_err());
        assert!(bounded("title", "line\nbreak", 200).is_err());
    }
}
