//! The `subjects` function: screening, enrolment and follow-up of subjects at sites. Site-scoped
//! staff see and touch only their sites' subjects; every change needs a reason.

use ctp_domain::ids::{SiteId, StudyId, SubjectId, TenantId};
use ctp_domain::permissions::Action;
use ctp_domain::study::StudyStatus;
use ctp_domain::subject::{Subject, SubjectChange, SubjectStatus, parse_subject_number};
use ctp_http::request::{self, page_limit};
use ctp_http::response::{self, List};
use ctp_http::{ApiError, Body, Request, Response};
use ctp_store::{Index, Query, SortKey};
use serde::Deserialize;

use crate::caller::{self, Caller};
use crate::idempotency::{self, Begin};
use crate::records::{self, Changes, RecordRef, Versioned};
use crate::{App, keys, sites};

pub fn subject_ref(tenant: &TenantId, s: &Subject) -> RecordRef {
    RecordRef {
        entity_type: "subject",
        entity_id: s.id.to_string(),
        study_id: Some(s.study_id.clone()),
        pk: keys::study_partition(tenant, &s.study_id),
        sk: keys::subject_sk(&s.id),
        gsi1: Some((keys::site_subjects(tenant, &s.study_id, &s.site_id), keys::subject_number_sk(&s.subject_number))),
    }
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let study_id = request::path_id(&req, "studyId", StudyId::parse)?;
    let route = caller.meta.route_key.clone();
    match route.as_str() {
        "GET /v1/studies/{studyId}/subjects" => list(app, &req, &caller, &study_id).await,
        "POST /v1/studies/{studyId}/subjects" => create(app, &req, &caller, &study_id).await,
        "GET /v1/studies/{studyId}/subjects/{subjectId}" => {
            let s = caller.in_study(app, &study_id, Action::SubjectRead).await?;
            let subject = load_visible(app, &req, &caller, &study_id, &s.access).await?;
            response::json_with_etag(200, &subject.value, subject.version)
        }
        "PATCH /v1/studies/{studyId}/subjects/{subjectId}" => update(app, &req, &caller, &study_id).await,
        other => Err(crate::unknown_route(other)),
    }
}

/// The subject named in the path, if the caller's sites include its site (otherwise 404).
async fn load_visible(
    app: &App,
    req: &Request,
    caller: &Caller,
    study_id: &StudyId,
    access: &ctp_domain::permissions::SiteAccess,
) -> Result<Versioned<Subject>, ApiError> {
    let id = request::path_id(req, "subjectId", SubjectId::parse)?;
    let subject: Versioned<Subject> = records::load(app, &keys::study_partition(&caller.tenant_id, study_id), &keys::subject_sk(&id))
        .await?
        .ok_or(ApiError::NotFound)?;
    if access.allows(&subject.value.site_id) { Ok(subject) } else { Err(ApiError::NotFound) }
}

async fn list(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SubjectRead).await?;
    let cursor = request::query_param(req, "cursor").map(str::to_owned);
    let q = match request::query_param(req, "site_id") {
        Some(raw) => {
            let site = SiteId::parse(raw).map_err(|_| ApiError::BadRequest("site_id is not a site id".into()))?;
            Query::new(Index::Gsi1, keys::site_subjects(&caller.tenant_id, study_id, &site), SortKey::Any)
        }
        None => Query::new(Index::Primary, keys::study_partition(&caller.tenant_id, study_id), SortKey::Prefix(keys::SUBJECT_PREFIX.into())),
    }
    .limit(page_limit(req)?)
    .after(cursor);
    let page = app.store.query(&q).await?;
    let items: Vec<Subject> =
        records::decode_all::<Subject>(&page.items)?.into_iter().filter(|x| s.access.allows(&x.site_id)).collect();
    response::json(200, &List { items, next_cursor: page.next_cursor })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubject {
    subject_number: String,
    site_id: String,
    reason: Option<String>,
}

async fn create(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SubjectCreate).await?;
    let idem = match idempotency::begin(app, caller, req).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Fresh(i) => i,
    };
    let input: NewSubject = request::json_body(req)?;
    if s.study.value.status != StudyStatus::Active {
        return Err(ctp_domain::DomainError::Rule(format!("the study is {}; subjects can only be screened in an active study", s.study.value.status)).into());
    }
    let site_id = SiteId::parse(&input.site_id)?;
    if !s.access.allows(&site_id) {
        return Err(ApiError::Forbidden("you can only screen subjects at your own sites".into()));
    }
    let site = sites::load(app, &caller.tenant_id, study_id, &site_id)
        .await?
        .ok_or_else(|| ctp_domain::DomainError::invalid("site_id", "no such site in this study"))?;
    site.value.ensure_screening_open()?;
    let reason = records::reason(input.reason.as_deref(), false, "screening")?;
    let mut changes = Changes::new(&s.audit);
    let subject = Subject::screen(
        study_id.clone(),
        site_id,
        parse_subject_number(&input.subject_number)?,
        crate::studies::actor_user(caller)?,
        changes.now(),
    );
    let partition = keys::study_partition(&caller.tenant_id, study_id);
    changes.claim_unique(
        partition.clone(),
        keys::subject_number_sk(&subject.subject_number),
        subject.id.as_str(),
        format!("subject number {} is already used in this study", subject.subject_number),
    );
    changes.require_unchanged(partition, keys::site_sk(&site.value.id), site.version);
    changes.create(&subject_ref(&caller.tenant_id, &subject), &subject, reason.as_ref())?;
    let resp = response::json_with_etag(201, &subject, 1)?;
    idempotency::commit(app, idem, changes, resp).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectPatch {
    status: Option<SubjectStatus>,
    consent_date: Option<chrono::NaiveDate>,
    reason: Option<String>,
}

async fn update(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SubjectUpdate).await?;
    let current = load_visible(app, req, caller, study_id, &s.access).await?;
    let expected = request::if_match(req)?;
    let patch: SubjectPatch = request::json_body(req)?;
    let reason = records::reason(patch.reason.as_deref(), true, "every change to a subject")?;
    if s.study.value.status == StudyStatus::Closed {
        return Err(ctp_domain::DomainError::Rule("the study is closed".into()).into());
    }
    let mut changes = Changes::new(&s.audit);
    let mut next = current.value.clone();
    let enrols = next.apply(SubjectChange { status: patch.status, consent_date: patch.consent_date }, changes.now())?;
    if enrols {
        // Enrolment takes a place under the site's cap, in the same transaction.
        let site = sites::load(app, &caller.tenant_id, study_id, &next.site_id).await?.ok_or(ApiError::NotFound)?;
        let mut counted = site.value.clone();
        counted.take_enrollment_place()?;
        changes.update(&sites::site_ref(&caller.tenant_id, &counted), &site.value, &counted, site.version, false, reason.as_ref())?;
    }
    changes.update(&subject_ref(&caller.tenant_id, &next), &current.value, &next, expected, true, reason.as_ref())?;
    changes.commit(app).await?;
    response::json_with_etag(200, &next, expected + 1)
}
