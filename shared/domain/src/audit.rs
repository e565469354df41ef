//! Audit entries (21 CFR 11.10(e)): who changed what, when, from which value to which, and why.
//! An entry is created with the change it describes and is never updated or deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::display_as_serde;
use crate::ids::{AuditEntryId, StudyId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
}
display_as_serde!(AuditAction);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Client,
    /// Changes made by the platform itself (e.g. an admin command run by ops).
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// User id, client id, or the name of the system process.
    pub id: String,
    /// The printed name as it was at the time of the change.
    pub name: String,
    /// The role under which the change was made (`tenant_admin`, `investigator`, `self`, ...).
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub tenant_id: TenantId,
    pub study_id: Option<StudyId>,
    pub entity_type: String,
    pub entity_id: String,
    pub action: AuditAction,
    pub actor: Actor,
    /// Server time, UTC, microsecond precision.
    pub at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    pub reason: Option<String>,
    pub request_id: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Field-level differences between two versions of a record (top-level fields; nested values are
/// compared whole). A created record is diffed against `Null`, a deleted one to `Null`.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|f| {
            let o = old_map.get(f).cloned().unwrap_or(Value::Null);
            let n = new_map.get(f).cloned().unwrap_or(Value::Null);
            (o != n).then(|| FieldChange { field: f.clone(), old: o, new: n })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_fields_with_old_and_new_values() {
        let d = diff(
            &json!({"status": "screening", "consent_date": null, "id": "x"}),
            &json!({"status": "enrolled", "consent_date": "2026-01-02", "id": "x"}),
        );
        assert_eq!(
            d,
            vec![
                FieldChange { field: "consent_date".into(), old: Value::Null, new: json!("2026-01-02") },
                FieldChange { field: "status".into(), old: json!("screening"), new: json!("enrolled") },
            ]
        );
    }

    #[test]
    fn creation_diffs_against_nothing() {
        let d = diff(&Value::Null, &json!({"title": "T"}));
        assert_eq!(d, vec![FieldChange { field: "title".into(), old: Value::Null, new: json!("T") }]);
    }
}
