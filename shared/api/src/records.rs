//! The write path. Every change to a record goes through [`Changes`], which adds the record's
//! audit entry to the same store transaction: there is no way to write a record without its entry.

use chrono::{DateTime, SecondsFormat, Utc};
use ctp_domain::audit::{Actor, AuditAction, AuditEntry, diff};
use ctp_domain::ids::{AuditEntryId, StudyId, TenantId};
use ctp_domain::text::Reason;
use ctp_http::ApiError;
use ctp_http::request::RequestMeta;
use ctp_store::{Item, StoreError, Write};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{App, keys};

/// Where a record lives and how its audit trail names it.
#[derive(Debug, Clone)]
pub struct RecordRef {
    pub entity_type: &'static str,
    pub entity_id: String,
    pub study_id: Option<StudyId>,
    pub pk: String,
    pub sk: String,
    pub gsi1: Option<(String, String)>,
}

/// A record read from the store, with the version its ETag names.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// Who is changing things, and through which request: copied into every audit entry.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub meta: RequestMeta,
}

/// What a failed condition on a write means to the client.
#[derive(Debug, Clone)]
enum OnConflict {
    /// A uniqueness guard: the message says what already exists.
    Taken(String),
    /// The record changed since the client read it (If-Match named an old version).
    Stale,
    /// Another request changed the record between our read and our write.
    Race,
    /// The idempotency key was recorded by a concurrent request.
    Idempotency,
}

pub struct Changes<'a> {
    ctx: &'a AuditContext,
    now: DateTime<Utc>,
    writes: Vec<Write>,
    meanings: Vec<OnConflict>,
}

/// The outcome of a failed commit, for handlers that react to a concurrent idempotent request.
pub enum CommitError {
    IdempotencyRace,
    Api(ApiError),
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Api(e) => e,
            CommitError::IdempotencyRace => ApiError::Conflict("a request with this Idempotency-Key is in progress".into()),
        }
    }
}

fn to_map<T: Serialize>(value: &T) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::Internal("records serialize as JSON objects".into())),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

fn item_for<T: Serialize>(r: &RecordRef, value: &T) -> Result<Item, ApiError> {
    let mut item = Item::new(&r.pk, &r.sk, r.entity_type, to_map(value)?);
    if let Some((gpk, gsk)) = &r.gsi1 {
        item = item.with_gsi1(gpk, gsk);
    }
    Ok(item)
}

impl<'a> Changes<'a> {
    pub fn new(ctx: &'a AuditContext) -> Self {
        Changes { ctx, now: App::now(), writes: Vec::new(), meanings: Vec::new() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Bookkeeping items that belong to a record audited in this transaction (a user's password
    /// hash, a client's secret digest): written with it, but not records of their own, so their
    /// values never enter the audit trail.
    pub(crate) fn create_bookkeeping<T: Serialize>(&mut self, pk: String, sk: &str, entity: &str, value: &T) -> Result<(), ApiError> {
        let item = Item::new(pk, sk, entity, to_map(value)?);
        self.push(Write::Create(item), OnConflict::Race);
        Ok(())
    }
    pub(crate) fn replace_bookkeeping<T: Serialize>(
        &mut self,
        pk: String,
        sk: &str,
        entity: &str,
        value: &T,
        expected_version: u64,
    ) -> Result<(), ApiError> {
        let item = Item::new(pk, sk, entity, to_map(value)?);
        self.push(Write::Replace { item, expected_version }, OnConflict::Race);
        Ok(())
    }

    fn push(&mut self, w: Write, meaning: OnConflict) {
        self.writes.push(w);
        self.meanings.push(meaning);
    }

    fn audit(&mut self, r: &RecordRef, action: AuditAction, old: &Value, new: &Value, reason: Option<&Reason>) -> Result<(), ApiError> {
        let entry = AuditEntry {
            id: AuditEntryId::generate(),
            tenant_id: self.ctx.tenant_id.clone(),
            study_id: r.study_id.clone(),
            entity_type: r.entity_type.to_owned(),
            entity_id: r.entity_id.clone(),
            action,
            actor: self.ctx.actor.clone(),
            at: self.now,
            changes: diff(old, new),
            reason: reason.map(|r| r.as_str().to_owned()),
            request_id: self.ctx.meta.request_id.clone(),
            client_ip: self.ctx.meta.client_ip.clone(),
            user_agent: self.ctx.meta.user_agent.clone(),
        };
        let item = audit_item(&entry)?;
        self.push(Write::Create(item), OnConflict::Race);
        Ok(())
    }

    pub fn create<T: Serialize>(&mut self, r: &RecordRef, value: &T, reason: Option<&Reason>) -> Result<(), ApiError> {
        let item = item_for(r, value)?;
        let new = Value::Object(item.data.clone());
        self.push(Write::Create(item), OnConflict::Taken(format!("{} {} already exists", r.entity_type, r.entity_id)));
        self.audit(r, AuditAction::Create, &Value::Null, &new, reason)
    }

    /// Replace `old` (read at `version`) with `new`. `from_if_match`: the version came from the
    /// client's If-Match, so a mismatch is a 412; otherwise it is a lost race (409).
    pub fn update<T: Serialize>(
        &mut self,
        r: &RecordRef,
        old: &T,
        new: &T,
        version: u64,
        from_if_match: bool,
        reason: Option<&Reason>,
    ) -> Result<(), ApiError> {
        let item = item_for(r, new)?;
        let old_v = Value::Object(to_map(old)?);
        let new_v = Value::Object(item.data.clone());
        self.push(
            Write::Replace { item, expected_version: version },
            if from_if_match { OnConflict::Stale } else { OnConflict::Race },
        );
        self.audit(r, AuditAction::Update, &old_v, &new_v, reason)
    }

    pub fn delete<T: Serialize>(&mut self, r: &RecordRef, old: &T, version: u64, reason: Option<&Reason>) -> Result<(), ApiError> {
        let old_v = Value::Object(to_map(old)?);
        self.push(
            Write::Delete { pk: r.pk.clone(), sk: r.sk.clone(), expected_version: version },
            OnConflict::Stale,
        );
        self.audit(r, AuditAction::Delete, &old_v, &Value::Null, reason)
    }

    /// A uniqueness guard item (not a record: it has no audit entry of its own).
    pub fn claim_unique(&mut self, pk: String, sk: String, points_to: &str, taken_message: String) {
        let mut data = Map::new();
        data.insert("ref".into(), Value::String(points_to.to_owned()));
        self.push(Write::Create(Item::new(pk, sk, "unique", data)), OnConflict::Taken(taken_message));
    }

    /// Release a uniqueness guard (when the value it reserved is deleted or changed).
    pub fn release_unique(&mut self, pk: String, sk: String) {
        // Guards are never replaced, so they are always at version 1.
        self.push(Write::Delete { pk, sk, expected_version: 1 }, OnConflict::Race);
    }

    /// Require that another record is still at the version the decision was based on.
    pub fn require_unchanged(&mut self, pk: String, sk: String, version: u64) {
        self.push(Write::Check { pk, sk, expected_version: version }, OnConflict::Race);
    }

    /// Remember the response of an idempotent request in the same transaction.
    pub fn remember_response(&mut self, record: crate::idempotency::Stored, pk: String) -> Result<(), ApiError> {
        let item = Item::new(pk, keys::IDEMPOTENCY_SK, "idempotency", to_map(&record)?)
            .with_ttl(self.now.timestamp() + crate::idempotency::RETENTION_SECONDS);
        self.push(Write::Create(item), OnConflict::Idempotency);
        Ok(())
    }

    pub async fn commit(self, app: &App) -> Result<(), CommitError> {
        match app.store.transact(self.writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index, .. }) => Err(match self.meanings.get(index) {
                Some(OnConflict::Taken(m)) => CommitError::Api(ApiError::Conflict(m.clone())),
                Some(OnConflict::Stale) => CommitError::Api(ApiError::PreconditionFailed),
                Some(OnConflict::Idempotency) => CommitError::IdempotencyRace,
                Some(OnConflict::Race) | None => CommitError::Api(ApiError::Conflict(
                    "the resource was changed concurrently; read it again and retry".into(),
                )),
            }),
            Err(e) => Err(CommitError::Api(e.into())),
        }
    }
}

/// An audit entry as an immutable item: by time in its study's partition, by record in GSI1.
pub fn audit_item(entry: &AuditEntry) -> Result<Item, ApiError> {
    let sort = format!("{}#{}", entry.at.to_rfc3339_opts(SecondsFormat::Micros, true), entry.id);
    Ok(Item::new(keys::audit_partition(&entry.tenant_id, entry.study_id.as_ref()), &sort, "audit", to_map(entry)?)
        .with_gsi1(keys::audit_entity(&entry.tenant_id, entry.study_id.as_ref(), &entry.entity_type, &entry.entity_id), sort)
        .immutable())
}

/// Read and decode one record.
pub async fn load<T: DeserializeOwned>(app: &App, pk: &str, sk: &str) -> Result<Option<Versioned<T>>, ApiError> {
    match app.store.get(pk, sk).await? {
        Some(item) => Ok(Some(Versioned { value: item.decode()?, version: item.version })),
        None => Ok(None),
    }
}

/// Decode a page of items.
pub fn decode_all<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, ApiError> {
    items.iter().map(|i| i.decode().map_err(ApiError::from)).collect()
}

/// A reason from the body, required when `required` is set.
pub fn reason(raw: Option<&str>, required: bool, what: &'static str) -> Result<Option<Reason>, ApiError> {
    match raw {
        Some(r) => Ok(Some(Reason::parse(r)?)),
        None if required => Err(ctp_domain::DomainError::ReasonRequired(what).into()),
        None => Ok(None),
    }
}
