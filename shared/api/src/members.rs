//! The `members` function: who holds which role in a study, optionally limited to one site.

use ctp_domain::ids::{MemberId, SiteId, StudyId, UserId};
use ctp_domain::member::{Membership, Role};
use ctp_domain::permissions::Action;
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

pub fn member_ref(tenant: &ctp_domain::ids::TenantId, m: &Membership) -> RecordRef {
    RecordRef {
        entity_type: "member",
        entity_id: m.id.to_string(),
        study_id: Some(m.study_id.clone()),
        pk: keys::study_partition(tenant, &m.study_id),
        sk: keys::member_sk(&m.id),
        gsi1: Some((keys::user_memberships(tenant, &m.user_id), keys::membership_gsi_sk(&m.study_id, &m.id))),
    }
}

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let caller = caller::authenticate(app, &req).await?;
    let study_id = request::path_id(&req, "studyId", StudyId::parse)?;
    let route = caller.meta.route_key.clone();
    match route.as_str() {
        "GET /v1/studies/{studyId}/members" => {
            caller.in_study(app, &study_id, Action::MemberRead).await?;
            let q = Query::new(
                Index::Primary,
                keys::study_partition(&caller.tenant_id, &study_id),
                SortKey::Prefix(keys::MEMBER_PREFIX.into()),
            )
            .limit(page_limit(&req)?)
            .after(request::query_param(&req, "cursor").map(str::to_owned));
            let page = app.store.query(&q).await?;
            response::json(200, &List { items: records::decode_all::<Membership>(&page.items)?, next_cursor: page.next_cursor })
        }
        "POST /v1/studies/{studyId}/members" => create(app, &req, &caller, &study_id).await,
        "DELETE /v1/studies/{studyId}/members/{memberId}" => delete(app, &req, &caller, &study_id).await,
        other => Err(crate::unknown_route(other)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    user_id: String,
    role: Role,
    site_id: Option<String>,
    reason: Option<String>,
}

async fn create(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::MemberManage).await?;
    let idem = match idempotency::begin(app, caller, req).await? {
        Begin::Replay(r) => return Ok(r),
        Begin::Fresh(i) => i,
    };
    let input: NewMember = request::json_body(req)?;
    s.study.value.ensure_open()?;
    let reason = records::reason(input.reason.as_deref(), s.study.value.configuration_change_needs_reason(), "changing access to an active study")?;
    let not_found = |field: &'static str| ctp_domain::DomainError::invalid(field, "no such record in this tenant");
    let user_id = UserId::parse(&input.user_id)?;
    let user = crate::auth::load_user(app, &caller.tenant_id, &user_id).await?.ok_or_else(|| not_found("user_id"))?;
    if !user.value.active {
        return Err(ctp_domain::DomainError::Rule("the user is deactivated".into()).into());
    }
    let site_id = match input.site_id.as_deref() {
        None => None,
        Some(raw) => {
            let id = SiteId::parse(raw)?;
            crate::sites::load(app, &caller.tenant_id, study_id, &id).await?.ok_or_else(|| not_found("site_id"))?;
            Some(id)
        }
    };
    let mut changes = Changes::new(&s.audit);
    let member = Membership {
        id: MemberId::generate(),
        study_id: study_id.clone(),
        user_id,
        role: input.role,
        site_id,
        created_at: changes.now(),
        created_by: actor_user(caller)?,
    };
    let partition = keys::study_partition(&caller.tenant_id, study_id);
    changes.claim_unique(
        partition,
        keys::member_guard_sk(&member.user_id, member.site_id.as_ref()),
        member.id.as_str(),
        "the user already has a membership in this study with the same site scope".into(),
    );
    changes.create(&member_ref(&caller.tenant_id, &member), &member, reason.as_ref())?;
    let resp = response::json_with_etag(201, &member, 1)?;
    idempotency::commit(app, idem, changes, resp).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Removal {
    reason: Option<String>,
}

async fn delete(app: &App, req: &Request, caller: &Caller, study_id: &StudyId) -> Result<Response<Body>, ApiError> {
    let s = caller.in_study(app, study_id, Action::MemberManage).await?;
    let id = request::path_id(req, "memberId", MemberId::parse)?;
    let partition = keys::study_partition(&caller.tenant_id, study_id);
    let member: Versioned<Membership> = records::load(app, &partition, &keys::member_sk(&id)).await?.ok_or(ApiError::NotFound)?;
    let body: Removal = request::optional_json_body(req)?;
    let reason = records::reason(body.reason.as_deref(), s.study.value.configuration_change_needs_reason(), "changing access to an active study")?;
    let mut changes = Changes::new(&s.audit);
    changes.delete(&member_ref(&caller.tenant_id, &member.value), &member.value, member.version, reason.as_ref())?;
    changes.release_unique(partition, keys::member_guard_sk(&member.value.user_id, member.value.site_id.as_ref()));
    changes.commit(app).await?;
    response::no_content()
}
