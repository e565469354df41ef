//! The `sites` function: a study's sites.

use ctp_domain::ids::{SiteId, StudyId};
use ctp_domain::lifecycle::Lifecycle;
use ctp_domain::permissions::Action;
use ctp_domain::site::{Country, Site, SiteStatus, parse_enrollment_cap, parse_site_number};
use ctp_http::request::{self, page_limit};
use ctp_http::response::{self, List};
use ctp_http::{ApiError, Body, Request, Response};
use ctp_store::{Index, Query, SortKey};
use serde::Deserialize;

use crate::caller::{self, Caller};
use crate::idempotency::{self, Begin};
use crate::records::{self, Changes, RecordRef, Versioned};
use crate::studies::actor_user;
use crate::{App, keys};

pub fn site_ref(tenant: &ctp_domain::ids::TenantId, s: &Site) -> RecordRef {
    RecordRef {
        entity_type: "site",
        entity_id: s.id.to_string(),
        study_id: Some(s.study_id.clone()),
        pk: keys::study_partition(tenant, &s.study_id),
        sk: keys::site_sk(&s.id),
        gsi1: None,
    }
}

pub async fn load(app: &App, tenant: &ctp_domain::ids::TenantId, study: &StudyId, id: &SiteId) -> Result<Option<Versioned<Site>>, ApiError> {
    records::load(app, &keys::study_partition(tenant, study), &keys::site_sk(id)).await
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let study_id = request::path_id(&req, "studyId", StudyId::parse)?;
    let route = caller.meta.route_key.clone();
    match route.as_str() {
        "GET /v1/studies/{studyId}/sites" => list(app, &req, &caller, &study_id).await,
        "POST /v1/studies/{studyId}/sites" => create(app, &req, &caller, &study_id).await,
        "GET /v1/studies/{studyId}/sites/{siteId}" => {
            let s = caller.in_study(app, &study_id, Action::SiteRead).await?;
            let id = request::path_id(&req, "siteId", SiteId::parse)?;
            let site = load(app, &caller.tenant_id, &study_id, &id).await?.ok_or(ApiError::NotFound)?;
            if !s.access.allows(&site.value.id) {
                return Err(ApiError::NotFound);
            }
            response::json_with_etag(200, &site.value, site.version)
        }
        "PATCH /v1/studies/{studyId}/sites/{siteId}" => update(app, &req, &caller, &study_id).await,
        other => Err(crate::unknown_route(other)),
    }
}

async fn list(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SiteRead).await?;
    let q = Query::new(Index::Primary, keys::study_partition(&caller.tenant_id, study_id), SortKey::Prefix(keys::SITE_PREFIX.into()))
        .limit(page_limit(req)?)
        .after(request::query_param(req, "cursor").map(str::to_owned));
    let page = app.store.query(&q).await?;
    let items: Vec<Site> =
        records::decode_all::<Site>(&page.items)?.into_iter().filter(|site| s.access.allows(&site.id)).collect();
    response::json(200, &List { items, next_cursor: page.next_cursor })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSite {
    site_number: String,
    name: String,
    country: String,
    principal_investigator: String,
    enrollment_cap: u32,
    reason: Option<String>,
}

async fn create(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SiteManage).await?;
    let idem = match idempotency::begin(app, caller, req).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Fresh(i) => i,
    };
    let input: NewSite = request::json_body(req)?;
    let study = &s.study.value;
    study.ensure_open()?;
    let reason = records::reason(input.reason.as_deref(), study.configuration_change_needs_reason(), "adding a site to an active study")?;
    let mut changes = Changes::new(&s.audit);
    let site = Site {
        id: SiteId::generate(),
        study_id: study_id.clone(),
        site_number: parse_site_number(&input.site_number)?,
        name: Site::name_checked(&input.name)?,
        country: Country::parse(&input.country)?,
        principal_investigator: Site::investigator_checked(&input.principal_investigator)?,
        enrollment_cap: parse_enrollment_cap(input.enrollment_cap)?,
        enrolled_count: 0,
        status: SiteStatus::Pending,
        created_at: changes.now(),
        created_by: actor_user(caller)?,
    };
    let partition = keys::study_partition(&caller.tenant_id, study_id);
    changes.claim_unique(
        partition,
        keys::site_number_sk(&site.site_number),
        site.id.as_str(),
        format!("site number {} is already used in this study", site.site_number),
    );
    // The decision rests on the study's status: it must not change under us.
    changes.require_unchanged(keys::tenant(&caller.tenant_id), keys::study_sk(study_id), s.study.version);
    changes.create(&site_ref(&caller.tenant_id, &site), &site, reason.as_ref())?;
    let resp = response::json_with_etag(201, &site, 1)?;
    idempotency::commit(app, idem, changes, resp).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    name: Option<String>,
    principal_investigator: Option<String>,
    enrollment_cap: Option<u32>,
    status: Option<SiteStatus>,
    reason: Option<String>,
}

async fn update(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::SiteManage).await?;
    let id = request::path_id(req, "siteId", SiteId::parse)?;
    let current = load(app, &caller.tenant_id, study_id, &id).await?.ok_or(ApiError::NotFound)?;
    let expected = request::if_match(req)?;
    let patch: SitePatch = request::json_body(req)?;
    let reason = records::reason(
        patch.reason.as_deref(),
        s.study.value.configuration_change_needs_reason(),
        "changes to an active study's configuration",
    )?;
    let mut next = current.value.clone();
    if let Some(n) = patch.name {
        next.name = Site::name_checked(&n)?;
    }
    if let Some(pi) = patch.principal_investigator {
        next.principal_investigator = Site::investigator_checked(&pi)?;
    }
    if let Some(cap) = patch.enrollment_cap {
        let cap = parse_enrollment_cap(cap)?;
        if cap < next.enrolled_count {
            return Err(ctp_domain::DomainError::Rule(format!(
                "the cap cannot be below the {} subjects already enrolled",
                next.enrolled_count
            ))
            .into());
        }
        next.enrollment_cap = cap;
    }
    if let Some(to) = patch.status {
        next.status = current.value.status.transition(to)?;
    }
    let mut changes = Changes::new(&s.audit);
    changes.update(&site_ref(&caller.tenant_id, &next), &current.value, &next, expected, true, reason.as_ref())?;
    changes.commit(app).await?;
    response::json_with_etag(200, &next, expected + 1)
}
