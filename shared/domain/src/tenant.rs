//! Tenants: a sponsor or CRO organisation, pinned to one home region whose stack alone holds
//! its data, keys and archives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::TenantId;
use crate::{DomainError, text};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// AWS region name, e.g. `eu-central-1`.
    pub home_region: String,
    pub created_at: DateTime<Utc>,
}

/// An AWS region name: `xx-name-N`.
pub fn parse_region(raw: &str) -> Result<String, DomainError> {
    let parts: Vec<&str> = raw.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if ok { Ok(raw.to_owned()) } else { Err(DomainError::invalid("home_region", "must be a region name such as eu-central-1")) }
}

impl Tenant {
    pub fn new(id: TenantId, name: &str, home_region: &str, now: DateTime<Utc>) -> Result<Self, DomainError> {
        Ok(Tenant { id, name: text::bounded("name", name, 200)?, home_region: parse_region(home_region)?, created_at: now })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regions_are_checked() {
        assert!(super::parse_region("eu-central-1").is_ok());
        assert!(super::parse_region("us-gov-west-1").is_ok());
        assert!(super::parse_region("moon").is_err());
        assert!(super::parse_region("eu-central").is_err());
    }
}
