//! Administration that has no HTTP route: tenants and machine clients are created by ops with
//! `ctp admin`, and audited as the platform acting.

use std::collections::BTreeSet;

use ctp_domain::audit::{Actor, ActorKind};
use ctp_domain::ids::{ClientId, StudyId, TenantId};
use ctp_domain::permissions::Scope;
use ctp_domain::tenant::Tenant;
use ctp_http::ApiError;
use ctp_http::request::RequestMeta;
use ctp_identity::secret;

use crate::auth::{ClientRecord, client_ref};
use crate::records::{self, AuditContext, Changes, RecordRef};
use crate::{App, keys};

pub fn tenant_ref(t: &Tenant) -> RecordRef {
    RecordRef {
        entity_type: "tenant",
        entity_id: t.id.to_string(),
        study_id: None,
        pk: keys::tenant(&t.id),
        sk: keys::TENANT_SK.to_owned(),
        gsi1: None,
    }
}

/// The audit context of an administrative command run by ops.
pub fn admin_context(tenant: &TenantId, command: &str) -> AuditContext {
    AuditContext {
        tenant_id: tenant.clone(),
        actor: Actor { kind: ActorKind::System, id: command.to_owned(), name: "platform operations".into(), role: "ops".into() },
        meta: RequestMeta { request_id: uuid::Uuid::new_v4().to_string(), route_key: command.to_owned(), client_ip: None, user_agent: None },
    }
}

pub async fn load(app: &App, id: &TenantId) -> Result<Option<Tenant>, ApiError> {
    Ok(records::load::<Tenant>(app, &keys::tenant(id), keys::TENANT_SK).await?.map(|v| v.value))
}

/// Create a tenant in this regional stack. Residency: a tenant's data lives only in its home
/// region, so a stack refuses a tenant homed elsewhere and names the stack to use.
pub async fn create_tenant(app: &App, id: TenantId, name: &str, home_region: &str) -> Result<Tenant, ApiError> {
    let ctx = admin_context(&id, "ctp admin create-tenant");
    let mut changes = Changes::new(&ctx);
    let tenant = Tenant::new(id, name, home_region, changes.now())?;
    if tenant.home_region != app.config.region {
        return Err(ctp_domain::DomainError::invalid(
            "home_region",
            format!(
                "this stack serves {}; create a tenant homed in {} with that region's stack",
                app.config.region, tenant.home_region
            ),
        )
        .into());
    }
    changes.create(&tenant_ref(&tenant), &tenant, None)?;
    changes.commit(app).await?;
    Ok(tenant)
}

/// Register a machine client; returns it with its secret, which is shown once and never stored.
pub async fn create_client(
    app: &App,
    tenant: &TenantId,
    name: &str,
    scopes: BTreeSet<Scope>,
    studies: BTreeSet<StudyId>,
) -> Result<(ClientRecord, String), ApiError> {
    load(app, tenant).await?.ok_or_else(|| ctp_domain::DomainError::invalid("tenant", "no such tenant"))?;
    let ctx = admin_context(tenant, "ctp admin create-client");
    let mut changes = Changes::new(&ctx);
    let secret_value = secret::generate();
    let client = ClientRecord {
        id: ClientId::generate(),
        tenant_id: tenant.clone(),
        name: ctp_domain::text::bounded("name", name, 200)?,
        scopes,
        studies,
        active: true,
        created_at: changes.now(),
    };
    changes.create(&client_ref(&client), &client, None)?;
    changes.create_bookkeeping(
        keys::client_pk(&client.id),
        crate::auth::CLIENT_SECRET_SK,
        "client-secret",
        &crate::auth::ClientSecret { secret_digest: secret::digest(&secret_value) },
    )?;
    changes.commit(app).await?;
    Ok((client, secret_value))
}
