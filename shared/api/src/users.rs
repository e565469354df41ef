//! The `users` function: the tenant's user accounts (tenant_admin only).

use ctp_domain::ids::{TenantId, UserId};
use ctp_domain::permissions::Action;
use ctp_domain::text::{Email, bounded};
use ctp_domain::user::User;
use ctp_http::request::{self, page_limit};
use ctp_http::response::{self, List};
use ctp_http::{ApiError, Body, Request, Response};
use ctp_identity::password;
use ctp_store::{Index, Query, SortKey};
use serde::Deserialize;

use crate::auth::{Credential, credential_sk};
use crate::caller;
use crate::idempotency::{self, Begin};
use crate::records::{self, AuditContext, Changes, RecordRef, Versioned};
use crate::{App, keys};

pub fn user_ref(u: &User) -> RecordRef {
    RecordRef {
        entity_type: "user",
        entity_id: u.id.to_string(),
        study_id: None,
        pk: keys::tenant(&u.tenant_id),
        sk: keys::user_sk(&u.id),
        gsi1: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub tenant_admin: bool,
}

/// Create a user with its credential and email reservation; used by the API and by `ctp admin`.
pub async fn create(app: &App, ctx: &AuditContext, tenant: &TenantId, input: NewUser) -> Result<User, ApiError> {
    let (changes, user) = prepare_create(ctx, tenant, input)?;
    changes.commit(app).await?;
    Ok(user)
}

fn prepare_create<'a>(ctx: &'a AuditContext, tenant: &TenantId, input: NewUser) -> Result<(Changes<'a>, User), ApiError> {
    let email = Email::parse(&input.email)?;
    let name = bounded("name", &input.name, 200)?;
    password::check_policy(&input.password, email.as_str())
        .map_err(|v| ctp_domain::DomainError::invalid("password", v.to_string()))?;
    let mut changes = Changes::new(ctx);
    let user = User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        email: email.clone(),
        name,
        tenant_admin: input.tenant_admin,
        active: true,
        locked: false,
        failed_logins: 0,
        credential_version: 1,
        created_at: changes.now(),
    };
    changes.claim_unique(
        keys::email_pk(email.as_str()),
        keys::EMAIL_SK.to_owned(),
        &format!("{}/{}", tenant, user.id),
        format!("a user with email {email} already exists"),
    );
    changes.create(&user_ref(&user), &user, None)?;
    changes.create_bookkeeping(
        keys::tenant(tenant),
        &credential_sk(&user.id),
        "credential",
        &Credential { password_hash: password::hash(&input.password) },
    )?;
    Ok((changes, user))
}

/// Replace a user's password hash inside `changes` (the caller audits the credential version).
pub fn replace_credential(changes: &mut Changes<'_>, user: &User, current: &Versioned<Credential>, hash: String) -> Result<(), ApiError> {
    changes.replace_bookkeeping(
        keys::tenant(&user.tenant_id),
        &credential_sk(&user.id),
        "credential",
        &Credential { password_hash: hash },
        current.version,
    )
}

pub async fn load_credential(app: &App, tenant: &TenantId, user: &UserId) -> Result<Option<Versioned<Credential>>, ApiError> {
    records::load(app, &keys::tenant(tenant), &credential_sk(user)).await
}

/// A user and their credential, by email.
pub async fn find_by_email(app: &App, email: &Email) -> Result<Option<(Versioned<User>, Versioned<Credential>)>, ApiError> {
    let Some(guard) = app.store.get(&keys::email_pk(email.as_str()), keys::EMAIL_SK).await? else { return Ok(None) };
    let reference = guard.data.get("ref").and_then(|v| v.as_str()).unwrap_or_default();
    let Some((tenant, user)) = reference.split_once('/') else { return Ok(None) };
    let (Ok(tenant), Ok(user)) = (TenantId::parse(tenant), UserId::parse(user)) else { return Ok(None) };
    let Some(u) = crate::auth::load_user(app, &tenant, &user).await? else { return Ok(None) };
    let Some(c) = load_credential(app, &tenant, &user).await? else { return Ok(None) };
    Ok(Some((u, c)))
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let ctx = caller.authorize_tenant(Action::UserManage)?;
    let route = caller.meta.route_key.clone();
    match route.as_str() {
        "GET /v1/users" => {
            let q = Query::new(Index::Primary, keys::tenant(&caller.tenant_id), SortKey::Prefix(keys::USER_PREFIX.into()))
                .limit(page_limit(&req)?)
                .after(request::query_param(&req, "cursor").map(str::to_owned));
            let page = app.store.query(&q).await?;
            response::json(200, &List { items: records::decode_all::<User>(&page.items)?, next_cursor: page.next_cursor })
        }
        "POST /v1/users" => {
            let idem = match idempotency::begin(app, &caller, &req).await? {
                Begin::Replay(r) => return Ok(r),
                Begin::Fresh(i) => i,
            };
            let input: NewUser = request::json_body(&req)?;
            let (changes, user) = prepare_create(&ctx, &caller.tenant_id, input)?;
            let resp = response::json_with_etag(201, &user, 1)?;
            idempotency::commit(app, idem, changes, resp).await
        }
        "GET /v1/users/{userId}" => {
            let id = request::path_id(&req, "userId", UserId::parse)?;
            let user = crate::auth::load_user(app, &caller.tenant_id, &id).await?.ok_or(ApiError::NotFound)?;
            response::json_with_etag(200, &user.value, user.version)
        }
        "PATCH /v1/users/{userId}" => update(app, &req, &caller.tenant_id, &ctx).await,
        other => Err(crate::unknown_route(other)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    name: Option<String>,
    active: Option<bool>,
    /// Only `false` (unlock) may be set; accounts lock themselves after failed logins.
    locked: Option<bool>,
    tenant_admin: Option<bool>,
    reason: Option<String>,
}

async fn update(app: &App, req: &Request, tenant: &TenantId, ctx: &AuditContext) -> Result<Response<Body>, ApiError> {
    let id = request::path_id(req, "userId", UserId::parse)?;
    let current = crate::auth::load_user(app, tenant, &id).await?.ok_or(ApiError::NotFound)?;
    let expected = request::if_match(req)?;
    let patch: UserPatch = request::json_body(req)?;
    let reason = records::reason(patch.reason.as_deref(), false, "user changes")?;
    let mut next = current.value.clone();
    if let Some(name) = patch.name {
        next.name = bounded("name", &name, 200)?;
    }
    if let Some(active) = patch.active {
        if next.active && !active {
            // Deactivation revokes every live token of the user at once.
            next.credential_version += 1;
        }
        next.active = active;
    }
    match patch.locked {
        Some(true) => return Err(ctp_domain::DomainError::invalid("locked", "accounts can only be unlocked (false)").into()),
        Some(false) => {
            next.locked = false;
            next.failed_logins = 0;
        }
        None => {}
    }
    if let Some(admin) = patch.tenant_admin {
        next.tenant_admin = admin;
    }
    let mut changes = Changes::new(ctx);
    changes.update(&user_ref(&next), &current.value, &next, expected, true, reason.as_ref())?;
    changes.commit(app).await?;
    response::json_with_etag(200, &next, expected + 1)
}
