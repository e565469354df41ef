//! The one shape every status field shares: a closed set of states and the moves allowed from
//! each. Refusals name the allowed moves so that a client can correct itself.

use std::fmt::Display;

use crate::DomainError;

pub trait Lifecycle: Copy + Eq + Display + 'static {
    /// Entity name used in error messages ("subject", "site").
    const ENTITY: &'static str;

    /// The states reachable in one move from `self`.
    fn next_states(self) -> &'static [Self];

    /// Check a move; staying in the same state is not a move and is refused too.
    fn transition(self, to: Self) -> Result<Self, DomainError> {
        if self.next_states().contains(&to) {
            Ok(to)
        } else {
            Err(DomainError::InvalidTransition {
                entity: Self::ENTITY,
                from: self.to_string(),
                to: to.to_string(),
                allowed: self.next_states().iter().map(ToString::to_string).collect(),
            })
        }
    }
}

/// Implements `Display` from serde's snake_case names, so messages and JSON agree.
#[macro_export]
macro_rules! display_as_serde {
    ($t:ty) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match ::serde_json::to_value(self) {
                    Ok(::serde_json::Value::String(s)) => f.write_str(&s),
                    _ => Err(::std::fmt::Error),
                }
            }
        }
    };
}
