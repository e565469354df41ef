//! The `studies` function: the tenant's studies and their lifecycle.

use ctp_domain::ids::StudyId;
use ctp_domain::lifecycle::Lifecycle;
use ctp_domain::permissions::Action;
use ctp_domain::study::{Phase, ProtocolId, Study, StudyStatus};
use ctp_http::request::{self, page_limit};
use ctp_http::response::{self, List};
use ctp_http::{ApiError, Body, Request, Response};
use ctp_store::{Index, Query, SortKey};
use serde::Deserialize;

use crate::caller::{self, Caller};
use crate::idempotency::{self, Begin};
use crate::records::{self, Changes, RecordRef};
use crate::{App, keys};

pub fn study_ref(s: &Study) -> RecordRef {
    RecordRef {
        entity_type: "study",
        entity_id: s.id.to_string(),
        study_id: Some(s.id.clone()),
        pk: keys::tenant(&s.tenant_id),
        sk: keys::study_sk(&s.id),
        gsi1: None,
    }
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let route = caller.meta.route_key.clone();
    match route.as_str() {
        "GET /v1/studies" => list(app, &req, &caller).await,
        "POST /v1/studies" => create(app, &req, &caller).await,
        "GET /v1/studies/{studyId}" => {
            let id = request::path_id(&req, "studyId", StudyId::parse)?;
            let s = caller.in_study(app, &id, Action::StudyRead).await?;
            response::json_with_etag(200, &s.study.value, s.study.version)
        }
        "PATCH /v1/studies/{studyId}" => update(app, &req, &caller).await,
        other => Err(crate::unknown_route(other)),
    }
}

async fn list(app: &App, req: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let visible = caller.visible_study_ids(app).await?;
    let q = Query::new(Index::Primary, keys::tenant(&caller.tenant_id), SortKey::Prefix(keys::STUDY_PREFIX.into()))
        .limit(page_limit(req)?)
        .after(request::query_param(req, "cursor").map(str::to_owned));
    let page = app.store.query(&q).await?;
    let items: Vec<Study> = records::decode_all::<Study>(&page.items)?
        .into_iter()
        .filter(|s| visible.as_ref().is_none_or(|v| v.contains(&s.id)))
        .collect();
    response::json(200, &List { items, next_cursor: page.next_cursor })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStudy {
    protocol_id: String,
    title: String,
    phase: Phase,
}

async fn create(app: &App, req: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let ctx = caller.authorize_tenant(Action::StudyCreate)?;
    let idem = match idempotency::begin(app, caller, req).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Fresh(i) => i,
    };
    let input: NewStudy = request::json_body(req)?;
    let protocol = ProtocolId::parse(&input.protocol_id)?;
    let mut changes = Changes::new(&ctx);
    let study = Study::new(caller.tenant_id.clone(), protocol.clone(), &input.title, input.phase, actor_user(caller)?, changes.now())?;
    changes.claim_unique(
        keys::tenant(&caller.tenant_id),
        keys::protocol_sk(&protocol.unique_key()),
        study.id.as_str(),
        format!("a study with protocol id {} already exists", protocol.as_str()),
    );
    changes.create(&study_ref(&study), &study, None)?;
    let resp = response::json_with_etag(201, &study, 1)?;
    idempotency::commit(app, idem, changes, resp).await
}

/// Records name the user who created them; machine clients cannot create configuration.
pub(crate) fn actor_user(caller: &Caller) -> Result<ctp_domain::ids::UserId, ApiError> {
    match caller.user() {
        Some(u) => Ok(u.id.clone()),
        None => Err(ApiError::Forbidden("machine clients cannot create records of this kind".into())),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyPatch {
    title: Option<String>,
    phase: Option<Phase>,
    status: Option<StudyStatus>,
    reason: Option<String>,
}

async fn update(app: &App, req: &Request, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let id = request::path_id(req, "studyId", StudyId::parse)?;
    let s = caller.in_study(app, &id, Action::StudyUpdate).await?;
    let expected = request::if_match(req)?;
    let patch: StudyPatch = request::json_body(req)?;
    let current = s.study.value;
    let reason = records::reason(
        patch.reason.as_deref(),
        current.configuration_change_needs_reason(),
        "changes to an active study's configuration",
    )?;
    let mut next = current.clone();
    if let Some(t) = patch.title {
        next.title = ctp_domain::text::bounded("title", &t, 300)?;
    }
    if let Some(p) = patch.phase {
        next.phase = p;
    }
    if let Some(to) = patch.status {
        next.status = current.status.transition(to)?;
    }
    let mut changes = Changes::new(&s.audit);
    changes.update(&study_ref(&next), &current, &next, expected, true, reason.as_ref())?;
    changes.commit(app).await?;
    response::json_with_etag(200, &next, expected + 1)
}
