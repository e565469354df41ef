//! Studies: a protocol run by one tenant, configured in draft, then active, then closed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{StudyId, TenantId, UserId};
use crate::lifecycle::Lifecycle;
use crate::{DomainError, display_as_serde, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StudyStatus {
    Draft,
    Active,
    Closed,
}
display_as_serde!(StudyStatus);

impl Lifecycle for StudyStatus {
    const ENTITY: &'static str = "study";
    fn next_states(self) -> &'static [Self] {
        match self {
            StudyStatus::Draft => &[StudyStatus::Active],
            StudyStatus::Active => &[StudyStatus::Closed],
            StudyStatus::Closed => &[],
        }
    }
}

/// Trial phase, with the values ClinicalTrials.gov uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    EarlyPhase1,
    Phase1,
    Phase1_2,
    Phase2,
    Phase2_3,
    Phase3,
    Phase4,
    NotApplicable,
}
display_as_serde!(Phase);

/// The sponsor's protocol identifier (e.g. `ABC-123-301`), unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProtocolId(String);

impl ProtocolId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let t = text::bounded("protocol_id", raw, 64)?;
        if t.chars().all(|c| c.is_ascii_alphanumeric() || "-_./ ".contains(c)) {
            Ok(Self(t))
        } else {
            Err(DomainError::invalid(
                "protocol_id",
                "may contain letters, digits, spaces and - _ . / only",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Uniqueness ignores case, as people do when they read protocol numbers.
    pub fn unique_key(&self) -> String {
        self.0.to_uppercase()
    }
}
impl TryFrom<String> for ProtocolId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(&s)
    }
}
impl From<ProtocolId> for String {
    fn from(p: ProtocolId) -> String {
        p.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub id: StudyId,
    pub tenant_id: TenantId,
    pub protocol_id: ProtocolId,
    pub title: String,
    pub phase: Phase,
    pub status: StudyStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
}

impl Study {
    pub fn new(
        tenant_id: TenantId,
        protocol_id: ProtocolId,
        title: &str,
        phase: Phase,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        Ok(Study {
            id: StudyId::generate(),
            tenant_id,
            protocol_id,
            title: text::bounded("title", title, 300)?,
            phase,
            status: StudyStatus::Draft,
            created_at: now,
            created_by,
        })
    }

    /// Changes to an active study's configuration need a reason (21 CFR 11.10(e)); a draft is
    /// still being written and may change freely.
    pub fn configuration_change_needs_reason(&self) -> bool {
        self.status != StudyStatus::Draft
    }

    /// Sites, subjects and members can only be added while the study is not closed.
    pub fn ensure_open(&self) -> Result<(), DomainError> {
        if self.status == StudyStatus::Closed {
            Err(DomainError::Rule("the study is closed".into()))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_moves_forward_only() {
        assert_eq!(
            StudyStatus::Draft.transition(StudyStatus::Active),
            Ok(StudyStatus::Active)
        );
        let err = StudyStatus::Active.transition(StudyStatus::Draft).unwrap_err();
        assert_eq!(
            err.to_string(),
            "study cannot move from active to draft; allowed: closed"
        );
        let err = StudyStatus::Closed.transition(StudyStatus::Active).unwrap_err();
        assert!(err.to_string().ends_with("allowed: none (final state)"));
    }

    #[test]
    fn protocol_ids_are_checked_and_compared_without_case() {
        assert!(ProtocolId::parse("ABC#1").is_err());
        assert_eq!(
            ProtocolId::parse("abc-301").unwrap().unique_key(),
            ProtocolId::parse("ABC-301").unwrap().unique_key()
        );
    }

    #[test]
    fn phase_serializes_in_snake_case() {
        assert_eq!(serde_json::to_string(&Phase::Phase2_3).unwrap(), "\"phase2_3\"");
        assert_eq!(Phase::Phase1.to_string(), "phase1");
    }
}
