//! The key design of the single table (documented in docs/data-model.md). Every key of tenant
//! data starts with `TENANT#<id>`; the two global lookups needed before a tenant is known (login
//! by email, client credentials) map to a tenant and hold nothing else.

use ctp_domain::ids::{ClientId, SiteId, StudyId, SubjectId, TenantId, UserId};

pub fn tenant(t: &TenantId) -> String {
    format!("TENANT#{t}")
}
pub const TENANT_SK: &str = "TENANT";

pub fn user_sk(u: &UserId) -> String {
    format!("USER#{u}")
}
pub const USER_PREFIX: &str = "USER#";

/// Global: email → (tenant, user). Emails are unique in a region.
pub fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}
pub const EMAIL_SK: &str = "EMAIL";

/// Global: client id → client (tenant, secret digest, scopes, studies).
pub fn client_pk(c: &ClientId) -> String {
    format!("CLIENT#{c}")
}
pub const CLIENT_SK: &str = "CLIENT";

pub fn study_sk(s: &StudyId) -> String {
    format!("STUDY#{s}")
}
pub const STUDY_PREFIX: &str = "STUDY#";
pub fn protocol_sk(unique_key: &str) -> String {
    format!("PROTOCOL#{unique_key}")
}

/// The partition holding one study's sites, members and subjects.
pub fn study_partition(t: &TenantId, s: &StudyId) -> String {
    format!("TENANT#{t}#STUDY#{s}")
}
pub fn site_sk(id: &SiteId) -> String {
    format!("SITE#{id}")
}
pub const SITE_PREFIX: &str = "SITE#";
pub fn site_number_sk(n: &str) -> String {
    format!("SITENO#{n}")
}
pub fn member_sk(id: &ctp_domain::ids::MemberId) -> String {
    format!("MEMBER#{id}")
}
pub const MEMBER_PREFIX: &str = "MEMBER#";
/// One membership per user, study and site scope.
pub fn member_guard_sk(u: &UserId, site: Option<&SiteId>) -> String {
    format!("MEMBERKEY#{u}#{}", site.map_or("*", |s| s.as_str()))
}
/// GSI1: a user's memberships, by study.
pub fn user_memberships(t: &TenantId, u: &UserId) -> String {
    format!("TENANT#{t}#USER#{u}")
}
pub fn membership_gsi_sk(s: &StudyId, m: &ctp_domain::ids::MemberId) -> String {
    format!("STUDY#{s}#MEMBER#{m}")
}
pub fn memberships_in_study_prefix(s: &StudyId) -> String {
    format!("STUDY#{s}#")
}
pub fn subject_sk(id: &SubjectId) -> String {
    format!("SUBJECT#{id}")
}
pub const SUBJECT_PREFIX: &str = "SUBJECT#";
pub fn subject_number_sk(n: &str) -> String {
    format!("SUBJECTNO#{n}")
}
/// GSI1: a site's subjects by subject number.
pub fn site_subjects(t: &TenantId, s: &StudyId, site: &SiteId) -> String {
    format!("TENANT#{t}#STUDY#{s}#SITE#{site}")
}

/// Audit entries of a study (or of the tenant itself), sorted by time.
pub fn audit_partition(t: &TenantId, s: Option<&StudyId>) -> String {
    match s {
        Some(s) => format!("TENANT#{t}#STUDY#{s}#AUDIT"),
        None => format!("TENANT#{t}#AUDIT"),
    }
}
/// GSI1: the audit trail of one record, inside its study's (or the tenant's) audit.
pub fn audit_entity(t: &TenantId, s: Option<&StudyId>, entity_type: &str, entity_id: &str) -> String {
    format!("{}#ENTITY#{entity_type}#{entity_id}", audit_partition(t, s))
}

pub fn idempotency_pk(t: &TenantId, caller: &str, key: &str) -> String {
    format!("TENANT#{t}#IDEMPOTENCY#{caller}#{key}")
}
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
