//! The `auth` function: login, OAuth2 client credentials, password change, the caller's own
//! profile and the JWKS that API Gateway's JWT authorizer and partners verify tokens with.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ctp_domain::audit::{Actor, ActorKind};
use ctp_domain::ids::{ClientId, StudyId, TenantId, UserId};
use ctp_domain::permissions::Scope;
use ctp_domain::text::Email;
use ctp_domain::user::User;
use ctp_http::request::{self, RequestMeta};
use ctp_http::{ApiError, Body, Request, Response, response};
use ctp_identity::jwt::{self, ACCESS_TOKEN_SECONDS};
use ctp_identity::{password, secret};
use lambda_http::RequestPayloadExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::{self, CallerKind};
use crate::records::{self, AuditContext, Changes, RecordRef, Versioned};
use crate::{App, keys, users};

/// A partner's machine client (OAuth2 client credentials), registered by `ctp admin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRecord {
    pub id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub studies: BTreeSet<StudyId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// The password hash, kept apart from the user record so it never enters the audit trail or an
/// API response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    pub password_hash: String,
}

/// A machine client's secret digest, kept apart from the client record for the same reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientSecret {
    pub secret_digest: String,
}

pub const CLIENT_SECRET_SK: &str = "SECRET";

pub fn credential_sk(u: &UserId) -> String {
    format!("CREDENTIAL#{u}")
}

pub fn client_ref(c: &ClientRecord) -> RecordRef {
    RecordRef {
        entity_type: "client",
        entity_id: c.id.to_string(),
        study_id: None,
        pk: keys::client_pk(&c.id),
        sk: keys::CLIENT_SK.to_owned(),
        gsi1: None,
    }
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let meta = request::meta(&req);
    match meta.route_key.as_str() {
        "POST /v1/auth/login" => login(app, &req, &meta).await,
        "POST /v1/auth/token" => token(app, &req).await,
        "POST /v1/auth/password" => change_password(app, &req).await,
        "GET /v1/me" => me(app, &req).await,
        "GET /.well-known/jwks.json" => response::json(200, &app.verifier().await?.jwks()),
        "GET /.well-known/openid-configuration" => response::json(200, &discovery(&app.config.issuer)),
        other => Err(crate::unknown_route(other)),
    }
}

/// OpenID discovery metadata of the issuer: API Gateway's JWT authorizer reads it at
/// `{issuer}/.well-known/openid-configuration` to find the JWKS.
fn discovery(issuer: &str) -> serde_json::Value {
    let base = issuer.trim_end_matches('/');
    serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/v1/auth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// The platform itself acting on a record (failed-login counters), as the audit trail names it.
fn system_context(tenant_id: &TenantId, meta: &RequestMeta) -> AuditContext {
    AuditContext {
        tenant_id: tenant_id.clone(),
        actor: Actor { kind: ActorKind::System, id: "auth".into(), name: "authentication service".into(), role: "system".into() },
        meta: meta.clone(),
    }
}

async fn login(app: &App, req: &Request, meta: &RequestMeta) -> Result<Response<Body>, ApiError> {
    let body: LoginBody = request::json_body(req)?;
    let found = match Email::parse(&body.email) {
        Ok(email) => users::find_by_email(app, &email).await?,
        Err(_) => None,
    };
    let Some((user, credential)) = found else {
        // Same work as for a known email, so timing does not reveal which emails exist.
        password::verify(&body.password, password::dummy_hash());
        return Err(ApiError::InvalidCredentials);
    };
    if user.value.locked {
        return Err(ApiError::AccountLocked);
    }
    let ok = password::verify(&body.password, &credential.value.password_hash);
    if !ok || !user.value.active {
        if user.value.active {
            let mut next = user.value.clone();
            next.record_failed_login();
            save_login_state(app, meta, &user, &next).await?;
            tracing::warn!(tenant = %user.value.tenant_id, user = %user.value.id, locked = next.locked, "failed login");
        }
        return Err(ApiError::InvalidCredentials);
    }
    if user.value.failed_logins > 0 {
        let mut next = user.value.clone();
        next.failed_logins = 0;
        save_login_state(app, meta, &user, &next).await?;
    }
    let u = &user.value;
    let claims = app.issuer.claims(u.id.as_str(), u.tenant_id.as_str(), "user", u.credential_version, App::now().timestamp());
    issue(app, &claims, None).await
}

/// Record a login's effect on the failed-login counter, audited as the platform acting.
async fn save_login_state(app: &App, meta: &RequestMeta, user: &Versioned<User>, next: &User) -> Result<(), ApiError> {
    let ctx = system_context(&user.value.tenant_id, meta);
    let mut changes = Changes::new(&ctx);
    changes.update(&users::user_ref(next), &user.value, next, user.version, false, None)?;
    Ok(changes.commit(app).await?)
}

/// Sign the access token and answer with it.
async fn issue(app: &App, claims: &ctp_identity::Claims, scope: Option<String>) -> Result<Response<Body>, ApiError> {
    let token = jwt::sign(claims, app.signer.as_ref()).await?;
    response::json(200, &TokenResponse { access_token: token, token_type: "Bearer", expires_in: ACCESS_TOKEN_SECONDS, scope })
}

/// RFC 6749 section 4.4 token request (form-encoded); client authentication by HTTP Basic or by
/// `client_id`/`client_secret` in the form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenForm {
    grant_type: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let value = request::header(req, "authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let form: TokenForm = req
        .payload()
        .map_err(|e| ApiError::BadRequest(format!("token requests are application/x-www-form-urlencoded: {e}")))?
        .ok_or_else(|| ApiError::BadRequest("token requests are application/x-www-form-urlencoded".into()))?;
    if form.grant_type != "client_credentials" {
        return Err(ApiError::UnsupportedGrantType);
    }
    let (id, secret_value) = basic_credentials(req)
        .or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
        .ok_or(ApiError::InvalidClient)?;
    let client_id = ClientId::parse(&id).map_err(|_| ApiError::InvalidClient)?;
    let client: ClientRecord = records::load(app, &keys::client_pk(&client_id), keys::CLIENT_SK)
        .await?
        .ok_or(ApiError::InvalidClient)?
        .value;
    let stored: Option<ClientSecret> =
        records::load(app, &keys::client_pk(&client_id), CLIENT_SECRET_SK).await?.map(|v| v.value);
    if !client.active || !stored.is_some_and(|s| secret::verify(&secret_value, &s.secret_digest)) {
        return Err(ApiError::InvalidClient);
    }
    let scopes: BTreeSet<Scope> = match &form.scope {
        None => client.scopes.clone(),
        Some(requested) => {
            let mut out = BTreeSet::new();
            for s in requested.split_whitespace() {
                match Scope::parse(s) {
                    Some(scope) if client.scopes.contains(&scope) => {
                        out.insert(scope);
                    }
                    _ => return Err(ApiError::BadRequest(format!("invalid_scope: {s} is not granted to this client"))),
                }
            }
            out
        }
    };
    let scope = scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    let mut claims = app.issuer.claims(client.id.as_str(), client.tenant_id.as_str(), "client", 0, App::now().timestamp());
    claims.scope = scope.clone();
    claims.studies = client.studies.iter().map(ToString::to_string).collect();
    issue(app, &claims, Some(scope)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// Change one's own password; every token issued before stops working at once.
async fn change_password(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, req).await?;
    let CallerKind::User(user) = &caller.kind else {
        return Err(ApiError::Forbidden("machine clients have no password".into()));
    };
    let body: PasswordBody = request::json_body(req)?;
    let current = load_user(app, &user.tenant_id, &user.id).await?.ok_or(ApiError::NotFound)?;
    let credential = users::load_credential(app, &user.tenant_id, &user.id).await?.ok_or(ApiError::NotFound)?;
    if !password::verify(&body.current_password, &credential.value.password_hash) {
        return Err(ApiError::InvalidCredentials);
    }
    password::check_policy(&body.new_password, user.email.as_str())
        .map_err(|v| ctp_domain::DomainError::invalid("new_password", v.to_string()))?;
    let ctx = caller.audit_context("self".into());
    let mut changes = Changes::new(&ctx);
    let mut next = current.value.clone();
    next.credential_version += 1;
    changes.update(&users::user_ref(&next), &current.value, &next, current.version, false, Some(&ctp_domain::text::Reason::parse("password changed by the user")?))?;
    users::replace_credential(&mut changes, &next, &credential, password::hash(&body.new_password))?;
    changes.commit(app).await?;
    response::no_content()
}

async fn me(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, req).await?;
    match &caller.kind {
        CallerKind::User(u) => {
            let memberships = caller::memberships_of(app, &u.tenant_id, &u.id, ctp_store::SortKey::Any).await?;
            response::json(200, &json!({ "kind": "user", "user": u, "memberships": memberships }))
        }
        CallerKind::Client(c) => response::json(200, &json!({
            "kind": "client",
            "client": { "id": c.id, "tenant_id": c.tenant_id, "name": c.name, "studies": c.studies },
            "scope": caller.claims.scope,
        })),
    }
}

/// Load a user by id with its version.
pub async fn load_user(app: &App, tenant: &TenantId, id: &UserId) -> Result<Option<Versioned<User>>, ApiError> {
    records::load(app, &keys::tenant(tenant), &keys::user_sk(id)).await
}
