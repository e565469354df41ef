//! Idempotency-Key on POST: the first response is stored in the transaction that made the change,
//! and a replay of the same request returns it without changing anything. The same key with a
//! different request is refused (422).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ctp_http::request::{self, RequestMeta};
use ctp_http::{ApiError, Body, Request, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::records::Changes;
use crate::{App, keys};

/// Replays are answered for 24 hours (DynamoDB TTL expires the record after that).
pub const RETENTION_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
}

/// An idempotent POST in progress.
pub struct Idempotent {
    pk: String,
    fingerprint: String,
}

pub enum Begin {
    /// First time: do the work, then [`Idempotent::finish`].
    Fresh(Option<Idempotent>),
    /// Seen before: answer with the stored response.
    Replay(Response<Body>),
}

fn fingerprint(meta: &RequestMeta, req: &Request) -> String {
    let mut h = Sha256::new();
    h.update(meta.route_key.as_bytes());
    h.update([0]);
    h.update(req.uri().path().as_bytes());
    h.update([0]);
    h.update(request::body_bytes(req));
    URL_SAFE_NO_PAD.encode(h.finalize())
}

fn replay(stored: Stored) -> Response<Body> {
    let mut b = Response::builder()
        .status(stored.status)
        .header("content-type", "application/json")
        .header("idempotent-replayed", "true");
    if let Some(e) = stored.etag {
        b = b.header("etag", e);
    }
    b.body(Body::from(stored.body)).unwrap_or_else(|_| Response::new(Body::Empty))
}

pub async fn begin(app: &App, caller: &Caller, req: &Request) -> Result<Begin, ApiError> {
    let Some(key) = request::idempotency_key(req)? else { return Ok(Begin::Fresh(None)) };
    let pk = keys::idempotency_pk(&caller.tenant_id, caller.subject_id(), &key);
    let fingerprint = fingerprint(&request::meta(req), req);
    match lookup(app, &pk, &fingerprint).await? {
        Some(resp) => Ok(Begin::Replay(resp)),
        None => Ok(Begin::Fresh(Some(Idempotent { pk, fingerprint }))),
    }
}

async fn lookup(app: &App, pk: &str, fingerprint: &str) -> Result<Option<Response<Body>>, ApiError> {
    match app.store.get(pk, keys::IDEMPOTENCY_SK).await? {
        Some(item) => {
            let stored: Stored = item.decode()?;
            if stored.fingerprint != fingerprint {
                return Err(ApiError::IdempotencyKeyReused);
            }
            Ok(Some(replay(stored)))
        }
        None => Ok(None),
    }
}

/// Commit `changes` together with the response; if a concurrent request with the same key won,
/// answer with its response instead.
pub async fn commit(
    app: &App,
    idem: Option<Idempotent>,
    mut changes: Changes<'_>,
    response: Response<Body>,
) -> Result<Response<Body>, ApiError> {
    let Some(idem) = idem else {
        changes.commit(app).await?;
        return Ok(response);
    };
    let stored = Stored {
        fingerprint: idem.fingerprint.clone(),
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(request::body_bytes_of(response.body())).into_owned(),
        etag: response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    changes.remember_response(stored, idem.pk.clone())?;
    match changes.commit(app).await {
        Ok(()) => Ok(response),
        Err(crate::records::CommitError::IdempotencyRace) => {
            lookup(app, &idem.pk, &idem.fingerprint).await?.ok_or_else(|| ApiError::Conflict("retry the request".into()))
        }
        Err(e) => Err(e.into()),
    }
}
