//! The `audit` function: a study's audit trail, filtered by record, actor, action and time.

use chrono::{DateTime, SecondsFormat, Utc};
use ctp_domain::audit::{AuditAction, AuditEntry};
use ctp_domain::ids::StudyId;
use ctp_domain::permissions::Action;
use ctp_http::request::{self, page_limit, query_param};
use ctp_http::response::{self, List};
use ctp_http::{ApiError, Body, Request, Response};
use ctp_store::{Index, Query, SortKey};

use crate::caller;
use crate::records;
use crate::{App, keys};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let route = caller.meta.route_key.clone();
    if route != "GET /v1/studies/{studyId}/audit" {
        return Err(crate::unknown_route(&route));
    }
    let study_id = request::path_id(&req, "studyId", StudyId::parse)?;
    caller.in_study(app, &study_id, Action::AuditRead).await?;

    let time = |name: &str| -> Result<Option<String>, ApiError> {
        query_param(&req, name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Micros, true))
                    .map_err(|_| ApiError::BadRequest(format!("{name} must be an RFC 3339 timestamp")))
            })
            .transpose()
    };
    let (from, to) = (time("from")?, time("to")?);
    // Sort keys are `<time>#<entry id>`: `~` sorts after every id character, so `to` is inclusive.
    let sort = match (from, to) {
        (None, None) => SortKey::Any,
        (f, t) => SortKey::Between(f.unwrap_or_default(), format!("{}~", t.unwrap_or_else(|| "9999".into()))),
    };
    let action = query_param(&req, "action")
        .map(|a| {
            serde_json::from_value::<AuditAction>(serde_json::Value::String(a.to_owned()))
                .map_err(|_| ApiError::BadRequest("action must be create, update or delete".into()))
        })
        .transpose()?;
    let actor = query_param(&req, "actor");
    let entity_type = query_param(&req, "entity_type");
    let pk = match (entity_type, query_param(&req, "entity_id")) {
        (Some(t), Some(id)) => (Index::Gsi1, keys::audit_entity(&caller.tenant_id, Some(&study_id), t, id)),
        (None, None) => (Index::Primary, keys::audit_partition(&caller.tenant_id, Some(&study_id))),
        (None, Some(_)) => return Err(ApiError::BadRequest("entity_id needs entity_type".into())),
        (Some(_), None) => (Index::Primary, keys::audit_partition(&caller.tenant_id, Some(&study_id))),
    };
    let q = Query::new(pk.0, pk.1, sort)
        .limit(page_limit(&req)?)
        .after(query_param(&req, "cursor").map(str::to_owned));
    let page = app.store.query(&q).await?;
    let items: Vec<AuditEntry> = records::decode_all::<AuditEntry>(&page.items)?
        .into_iter()
        .filter(|e| action.is_none_or(|a| e.action == a))
        .filter(|e| actor.is_none_or(|a| e.actor.id == a))
        .filter(|e| entity_type.is_none_or(|t| e.entity_type == t))
        .collect();
    response::json(200, &List { items, next_cursor: page.next_cursor })
}
