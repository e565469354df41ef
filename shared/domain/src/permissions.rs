//! Who may do what. The matrix below is the one documented in docs/security.md; a test keeps the
//! two equal, so the documentation cannot drift from what the code enforces.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::display_as_serde;
use crate::ids::SiteId;
use crate::member::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "user.manage")]
    UserManage,
    #[serde(rename = "study.create")]
    StudyCreate,
    #[serde(rename = "study.read")]
    StudyRead,
    #[serde(rename = "study.update")]
    StudyUpdate,
    #[serde(rename = "site.read")]
    SiteRead,
    #[serde(rename = "site.manage")]
    SiteManage,
    #[serde(rename = "member.read")]
    MemberRead,
    #[serde(rename = "member.manage")]
    MemberManage,
    #[serde(rename = "subject.read")]
    SubjectRead,
    #[serde(rename = "subject.create")]
    SubjectCreate,
    #[serde(rename = "subject.update")]
    SubjectUpdate,
    #[serde(rename = "audit.read")]
    AuditRead,
}
display_as_serde!(Action);

impl Action {
    pub const ALL: [Action; 12] = [
        Action::UserManage,
        Action::StudyCreate,
        Action::StudyRead,
        Action::StudyUpdate,
        Action::SiteRead,
        Action::SiteManage,
        Action::MemberRead,
        Action::MemberManage,
        Action::SubjectRead,
        Action::SubjectCreate,
        Action::SubjectUpdate,
        Action::AuditRead,
    ];

    /// Actions on the study as a whole (its configuration, its staff, its audit trail): a role
    /// limited to some sites never grants them.
    pub fn is_study_wide(self) -> bool {
        matches!(
            self,
            Action::StudyUpdate | Action::SiteManage | Action::MemberRead | Action::MemberManage | Action::AuditRead
        )
    }

    /// The OAuth scope a machine client needs for this action; `None`: clients may never do it.
    pub fn client_scope(self) -> Option<Scope> {
        match self {
            Action::StudyRead | Action::SiteRead => Some(Scope::StudiesRead),
            Action::MemberRead => Some(Scope::MembersRead),
            Action::SubjectRead => Some(Scope::SubjectsRead),
            Action::SubjectCreate | Action::SubjectUpdate => Some(Scope::SubjectsWrite),
            Action::AuditRead => Some(Scope::AuditRead),
            Action::UserManage
            | Action::StudyCreate
            | Action::StudyUpdate
            | Action::SiteManage
            | Action::MemberManage => None,
        }
    }
}

/// The permission matrix: may `role` perform `action`?
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        UserManage | StudyCreate => role == TenantAdmin,
        StudyRead | SiteRead => true,
        StudyUpdate | SiteManage | MemberManage => matches!(role, TenantAdmin | DataManager),
        MemberRead => matches!(role, TenantAdmin | DataManager | Monitor | Investigator),
        SubjectRead => role != TenantAdmin,
        SubjectCreate | SubjectUpdate => matches!(role, Investigator | Coordinator),
        AuditRead => matches!(role, TenantAdmin | DataManager | Monitor),
    }
}

/// Scopes a partner's machine client can be granted (RFC 6749 section 3.3 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "studies:read")]
    StudiesRead,
    #[serde(rename = "members:read")]
    MembersRead,
    #[serde(rename = "subjects:read")]
    SubjectsRead,
    #[serde(rename = "subjects:write")]
    SubjectsWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
}
display_as_serde!(Scope);

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Which of a study's sites an allowed action reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteAccess {
    All,
    Only(BTreeSet<SiteId>),
}

impl SiteAccess {
    pub fn allows(&self, site: &SiteId) -> bool {
        match self {
            SiteAccess::All => true,
            SiteAccess::Only(sites) => sites.contains(site),
        }
    }
}

/// What a caller holds in the context of one study (or of the tenant, with no study roles).
#[derive(Debug, Clone)]
pub enum Grants {
    User {
        tenant_admin: bool,
        /// The caller's roles in the study at hand; `None` site = every site.
        roles: Vec<(Role, Option<SiteId>)>,
    },
    Client {
        scopes: BTreeSet<Scope>,
        /// Whether the study at hand is one the client was registered for.
        study_granted: bool,
    },
}

impl Grants {
    /// `Some(access)` when the action is allowed, with the sites it reaches.
    pub fn authorize(&self, action: Action) -> Option<SiteAccess> {
        match self {
            Grants::User { tenant_admin, roles } => {
                if *tenant_admin && role_allows(Role::TenantAdmin, action) {
                    return Some(SiteAccess::All);
                }
                let mut sites = BTreeSet::new();
                for (role, site) in roles {
                    if site.is_some() && action.is_study_wide() {
                        continue;
                    }
                    if role_allows(*role, action) {
                        match site {
                            None => return Some(SiteAccess::All),
                            Some(s) => {
                                sites.insert(s.clone());
                            }
                        }
                    }
                }
                (!sites.is_empty()).then_some(SiteAccess::Only(sites))
            }
            Grants::Client { scopes, study_granted } => {
                let scope = action.client_scope()?;
                (*study_granted && scopes.contains(&scope)).then_some(SiteAccess::All)
            }
        }
    }

    /// The role under which an allowed action is taken, for the audit trail.
    pub fn acting_role(&self, action: Action) -> Option<String> {
        match self {
            Grants::User { tenant_admin, roles } => {
                if *tenant_admin && role_allows(Role::TenantAdmin, action) {
                    return Some(Role::TenantAdmin.to_string());
                }
                let mut allowed: Vec<&(Role, Option<SiteId>)> = roles
                    .iter()
                    .filter(|(r, site)| role_allows(*r, action) && !(site.is_some() && action.is_study_wide()))
                    .collect();
                allowed.sort_by_key(|(r, site)| (site.is_some(), *r));
                allowed.first().map(|(r, _)| r.to_string())
            }
            Grants::Client { .. } => self.authorize(action).map(|_| "client".to_owned()),
        }
    }

    /// Whether the caller has any standing in the study (used to tell 403 from 404).
    pub fn sees_study(&self) -> bool {
        match self {
            Grants::User { tenant_admin, roles } => *tenant_admin || !roles.is_empty(),
            Grants::Client { study_granted, .. } => *study_granted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    #[test]
    fn site_scoped_coordinator_reaches_only_their_site() {
        let g = Grants::User { tenant_admin: false, roles: vec![(Role::Coordinator, Some(site("s1")))] };
        let access = g.authorize(Action::SubjectCreate).unwrap();
        assert!(access.allows(&site("s1")));
        assert!(!access.allows(&site("s2")));
        assert!(g.authorize(Action::SiteManage).is_none());
    }

    #[test]
    fn site_scoped_roles_never_grant_study_wide_actions() {
        let g = Grants::User { tenant_admin: false, roles: vec![(Role::DataManager, Some(site("s1")))] };
        for action in [Action::StudyUpdate, Action::SiteManage, Action::MemberManage, Action::MemberRead, Action::AuditRead] {
            assert_eq!(g.authorize(action), None, "{action}");
            assert_eq!(g.acting_role(action), None, "{action}");
        }
        assert!(g.authorize(Action::SubjectRead).unwrap().allows(&site("s1")));
        assert!(g.sees_study());
    }

    #[test]
    fn a_client_granted_the_study_has_standing_without_studies_read() {
        let g = Grants::Client { scopes: [Scope::SubjectsRead].into(), study_granted: true };
        assert!(g.sees_study());
        assert!(g.authorize(Action::StudyRead).is_none());
    }

    #[test]
    fn tenant_admin_configures_but_reads_no_clinical_data() {
        let g = Grants::User { tenant_admin: true, roles: vec![] };
        assert_eq!(g.authorize(Action::StudyCreate), Some(SiteAccess::All));
        assert_eq!(g.authorize(Action::SubjectRead), None);
    }

    #[test]
    fn study_wide_role_wins_over_site_roles() {
        let g = Grants::User {
            tenant_admin: false,
            roles: vec![(Role::Viewer, Some(site("s1"))), (Role::Monitor, None)],
        };
        assert_eq!(g.authorize(Action::SubjectRead), Some(SiteAccess::All));
    }

    #[test]
    fn clients_need_the_scope_and_the_study() {
        let scopes: BTreeSet<Scope> = [Scope::SubjectsRead].into();
        let g = Grants::Client { scopes: scopes.clone(), study_granted: true };
        assert!(g.authorize(Action::SubjectRead).is_some());
        assert!(g.authorize(Action::SubjectCreate).is_none());
        assert!(g.authorize(Action::StudyCreate).is_none());
        let other = Grants::Client { scopes, study_granted: false };
        assert!(other.authorize(Action::SubjectRead).is_none());
    }

    /// docs/security.md carries the same matrix for people; this keeps the two equal.
    #[test]
    fn documented_matrix_matches_the_code() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md"))
            .expect("docs/security.md is readable");
        let header = doc
            .lines()
            .find(|l| l.starts_with("| action |"))
            .expect("a permission table with an '| action |' header");
        let roles: Vec<Role> = header
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .skip(1)
            .map(|c| serde_json::from_value(serde_json::Value::String(c.into())).expect("a role column"))
            .collect();
        assert_eq!(roles, Role::ALL.to_vec());
        let mut seen = Vec::new();
        for line in doc.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).filter(|c| !c.is_empty()).collect();
            let action: Action =
                serde_json::from_value(serde_json::Value::String(cells[0].trim_matches('`').into())).unwrap();
            for (role, cell) in roles.iter().zip(&cells[1..]) {
                let documented = match *cell {
                    "yes" => true,
                    "no" => false,
                    other => panic!("cell {other:?} in row {action}"),
                };
                assert_eq!(documented, role_allows(*role, action), "{action} for {role}");
            }
            seen.push(action);
        }
        assert_eq!(seen, Action::ALL.to_vec(), "every action documented, in order");
    }
}
