//! Domain errors: each variant is one reason a request is refused by the rules themselves.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A field failed its constructor's validation.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A state machine was asked for a move it does not allow.
    #[error("{entity} cannot move from {from} to {to}; allowed: {}", allowed_list(.allowed))]
    InvalidTransition {
        entity: &'static str,
        from: String,
        to: String,
        allowed: Vec<String>,
    },
    /// 21 CFR 11.10(e): the change needs a reason and none was given.
    #[error("a reason for change is required: {0}")]
    ReasonRequired(&'static str),
    /// A rule that depends on the current state of other records refused the change.
    #[error("{0}")]
    Rule(String),
}

fn allowed_list(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "none (final state)".to_owned()
    } else {
        allowed.join(", ")
    }
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
