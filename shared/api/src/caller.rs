//! Who is calling: the verified token, and what it grants in a study. The tenant is taken from
//! the verified token only; a record of another tenant is never even looked up.

use std::collections::BTreeSet;

use ctp_domain::audit::{Actor, ActorKind};
use ctp_domain::ids::{StudyId, TenantId, UserId};
use ctp_domain::member::Membership;
use ctp_domain::permissions::{Action, Grants, Scope, SiteAccess};
use ctp_domain::study::Study;
use ctp_domain::user::User;
use ctp_http::request::{self, RequestMeta};
use ctp_http::{ApiError, Request};
use ctp_identity::{AuthError, Claims};
use ctp_store::{Index, Query, SortKey};

use crate::auth::ClientRecord;
use crate::records::{self, AuditContext, Versioned};
use crate::{App, keys};

pub struct Caller {
    pub tenant_id: TenantId,
    pub claims: Claims,
    pub kind: CallerKind,
    pub meta: RequestMeta,
}

pub enum CallerKind {
    User(User),
    Client(ClientRecord),
}

/// A caller allowed to act in a study, with everything the handler needs to act.
pub struct InStudy {
    pub study: Versioned<Study>,
    pub access: SiteAccess,
    pub audit: AuditContext,
}

/// Verify the bearer token and check that it has not been revoked since it was issued.
pub async fn authenticate(app: &App, req: &Request) -> Result<Caller, ApiError> {
    let token = ctp_identity::jwt::bearer(request::header(req, "authorization"))?;
    let claims = app.verifier().await?.verify(token, App::now().timestamp())?;
    let tenant_id = TenantId::parse(&claims.tenant).map_err(|_| AuthError::Malformed)?;
    let kind = match claims.typ.as_str() {
        "user" => {
            let user_id = UserId::parse(&claims.sub).map_err(|_| AuthError::Malformed)?;
            let user: User = crate::auth::load_user(app, &tenant_id, &user_id)
                .await?
                .ok_or(AuthError::Revoked)?
                .value;
            if !user.active || user.locked || user.credential_version != claims.ver {
                return Err(AuthError::Revoked.into());
            }
            CallerKind::User(user)
        }
        "client" => {
            let client_id = ctp_domain::ids::ClientId::parse(&claims.sub).map_err(|_| AuthError::Malformed)?;
            let client: ClientRecord = records::load(app, &keys::client_pk(&client_id), keys::CLIENT_SK)
                .await?
                .ok_or(AuthError::Revoked)?
                .value;
            if !client.active || client.tenant_id != tenant_id {
                return Err(AuthError::Revoked.into());
            }
            CallerKind::Client(client)
        }
        _ => return Err(AuthError::Malformed.into()),
    };
    Ok(Caller { tenant_id, claims, kind, meta: request::meta(req) })
}

impl Caller {
    /// The id idempotency keys and logs are scoped to.
    pub fn subject_id(&self) -> &str {
        &self.claims.sub
    }

    pub fn user(&self) -> Option<&User> {
        match &self.kind {
            CallerKind::User(u) => Some(u),
            CallerKind::Client(_) => None,
        }
    }

    fn actor(&self, role: String) -> Actor {
        match &self.kind {
            CallerKind::User(u) => Actor { kind: ActorKind::User, id: u.id.to_string(), name: u.name.clone(), role },
            CallerKind::Client(c) => Actor { kind: ActorKind::Client, id: c.id.to_string(), name: c.name.clone(), role },
        }
    }

    pub fn audit_context(&self, role: String) -> AuditContext {
        AuditContext { tenant_id: self.tenant_id.clone(), actor: self.actor(role), meta: self.meta.clone() }
    }

    /// The caller's memberships in one study.
    pub async fn memberships(&self, app: &App, study: &StudyId) -> Result<Vec<Membership>, ApiError> {
        let Some(user) = self.user() else { return Ok(Vec::new()) };
        memberships_of(app, &self.tenant_id, &user.id, SortKey::Prefix(keys::memberships_in_study_prefix(study))).await
    }

    pub async fn grants(&self, app: &App, study: &StudyId) -> Result<Grants, ApiError> {
        Ok(match &self.kind {
            CallerKind::User(u) => Grants::User {
                tenant_admin: u.tenant_admin,
                roles: self.memberships(app, study).await?.into_iter().map(|m| (m.role, m.site_id)).collect(),
            },
            CallerKind::Client(c) => Grants::Client {
                scopes: self.scopes(),
                study_granted: c.studies.contains(study),
            },
        })
    }

    /// A client's scopes are those of its token (possibly fewer than it was registered with).
    fn scopes(&self) -> BTreeSet<Scope> {
        self.claims.scope.split_whitespace().filter_map(Scope::parse).collect()
    }

    /// Authorize a tenant-level action (managing users, creating studies).
    pub fn authorize_tenant(&self, action: Action) -> Result<AuditContext, ApiError> {
        let grants = match &self.kind {
            CallerKind::User(u) => Grants::User { tenant_admin: u.tenant_admin, roles: Vec::new() },
            CallerKind::Client(_) => Grants::Client { scopes: self.scopes(), study_granted: false },
        };
        match grants.acting_role(action) {
            Some(role) => Ok(self.audit_context(role)),
            None => Err(ApiError::Forbidden(format!("{action} requires the tenant_admin role"))),
        }
    }

    /// Load the study and authorize `action` in it. A study the caller has no standing in answers
    /// 404, exactly like one that does not exist; a known study without the right answers 403.
    pub async fn in_study(&self, app: &App, study_id: &StudyId, action: Action) -> Result<InStudy, ApiError> {
        let study: Versioned<Study> = records::load(app, &keys::tenant(&self.tenant_id), &keys::study_sk(study_id))
            .await?
            .ok_or(ApiError::NotFound)?;
        let grants = self.grants(app, study_id).await?;
        if !grants.sees_study() {
            return Err(ApiError::NotFound);
        }
        let access = grants
            .authorize(action)
            .ok_or_else(|| ApiError::Forbidden(format!("your role in this study does not allow {action}")))?;
        let role = grants.acting_role(action).unwrap_or_default();
        Ok(InStudy { study, access, audit: self.audit_context(role) })
    }

    /// Studies this caller can see, given a candidate list of the tenant's studies.
    pub async fn visible_study_ids(&self, app: &App) -> Result<Option<BTreeSet<StudyId>>, ApiError> {
        match &self.kind {
            CallerKind::User(u) if u.tenant_admin => Ok(None),
            CallerKind::User(u) => {
                let all = memberships_of(app, &self.tenant_id, &u.id, SortKey::Any).await?;
                Ok(Some(all.into_iter().map(|m| m.study_id).collect()))
            }
            CallerKind::Client(c) => {
                Ok(Some(if self.scopes().contains(&Scope::StudiesRead) { c.studies.clone() } else { BTreeSet::new() }))
            }
        }
    }
}

/// A user's memberships (all of them, or one study's by sort-key prefix), every page read.
pub async fn memberships_of(app: &App, tenant: &TenantId, user: &UserId, sort: SortKey) -> Result<Vec<Membership>, ApiError> {
    let q = Query::new(Index::Gsi1, keys::user_memberships(tenant, user), sort).limit(1000);
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = app.store.query(&q.clone().after(cursor)).await?;
        out.extend(records::decode_all::<Membership>(&page.items)?);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}
