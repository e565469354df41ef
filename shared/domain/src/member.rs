//! Study memberships: a user's role in one study, optionally limited to one site.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::display_as_serde;
use crate::ids::{MemberId, SiteId, StudyId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    TenantAdmin,
    DataManager,
    Monitor,
    Investigator,
    Coordinator,
    Viewer,
}
display_as_serde!(Role);

impl Role {
    pub const ALL: [Role; 6] = [
        Role::TenantAdmin,
        Role::DataManager,
        Role::Monitor,
        Role::Investigator,
        Role::Coordinator,
        Role::Viewer,
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub id: MemberId,
    pub study_id: StudyId,
    pub user_id: UserId,
    pub role: Role,
    /// `None`: the role applies to every site of the study.
    pub site_id: Option<SiteId>,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
}
