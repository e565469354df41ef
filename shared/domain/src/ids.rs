//! Typed identifiers. An id exists only if it is well formed, so a handler that holds a
//! `StudyId` never has to ask again whether it is safe to put into a storage key.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;

/// Ids appear inside composite storage keys separated by `#`, so the alphabet excludes it.
fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7), so listings by id follow creation order.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                if valid_id(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(DomainError::invalid(
                        $field,
                        "must be 1 to 64 characters of a-z, 0-9, '-' or '_'",
                    ))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// A sponsor or CRO organisation; chosen by ops (a slug such as `acme`), never reused.
    TenantId, "tenant_id");
typed_id!(UserId, "user_id");
typed_id!(StudyId, "study_id");
typed_id!(SiteId, "site_id");
typed_id!(SubjectId, "subject_id");
typed_id!(MemberId, "member_id");
typed_id!(ClientId, "client_id");
typed_id!(AuditEntryId, "entry_id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = StudyId::generate();
        assert_eq!(StudyId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_refuse_key_separators_and_uppercase() {
        assert!(StudyId::parse("a#b").is_err());
        assert!(StudyId::parse("ABC").is_err());
        assert!(StudyId::parse("").is_err());
        assert!(StudyId::parse(&"a".repeat(65)).is_err());
        assert!(TenantId::parse("acme-pharma_2").is_ok());
    }

    #[test]
    fn generated_ids_sort_in_creation_order() {
        let a = SubjectId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = SubjectId::generate();
        assert!(a < b);
    }
}
