//! Users of the built-in identity provider. Password hashes live beside the user in storage but
//! never in this type, so a `User` can be returned by the API as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{TenantId, UserId};
use crate::text::Email;

/// Consecutive failed logins that lock an account until an admin unlocks it.
pub const LOCKOUT_THRESHOLD: u32 = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    /// The printed name shown in audit entries and signatures.
    pub name: String,
    pub tenant_admin: bool,
    pub active: bool,
    pub locked: bool,
    pub failed_logins: u32,
    /// Bumped on every password change or deactivation; tokens carry it, so older ones stop working.
    pub credential_version: u32,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Record a failed login; returns true when this failure locks the account.
    pub fn record_failed_login(&mut self) -> bool {
        self.failed_logins = self.failed_logins.saturating_add(1);
        if !self.locked && self.failed_logins >= LOCKOUT_THRESHOLD {
            self.locked = true;
            return true;
        }
        false
    }

    pub fn can_log_in(&self) -> bool {
        self.active && !self.locked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifth_failure_locks() {
        let mut u = User {
            id: UserId::generate(),
            tenant_id: TenantId::parse("acme").unwrap(),
            email: Email::parse("a@b.org").unwrap(),
            name: "A".into(),
            tenant_admin: false,
            active: true,
            locked: false,
            failed_logins: 0,
            credential_version: 1,
            created_at: Utc::now(),
        };
        for _ in 0..4 {
            assert!(!u.record_failed_login());
        }
        assert!(u.can_log_in());
        assert!(u.record_failed_login());
        assert!(!u.can_log_in());
        assert!(!u.record_failed_login(), "locking happens once");
    }
}
