//! Every refusal the API can give, mapped to a status and a stable problem `type` here and only
//! here.

use ctp_domain::DomainError;
use ctp_identity::AuthError;
use ctp_identity::keys::KeyError;
use ctp_store::StoreError;
use lambda_http::{Body, Response};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(AuthError),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("invalid client credentials")]
    InvalidClient,
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    #[error("the account is locked after repeated failed logins; an administrator can unlock it")]
    AccountLocked,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Domain(DomainError),
    #[error("the resource has changed since it was read; fetch it again and retry with its ETag")]
    PreconditionFailed,
    #[error("this update needs an If-Match header with the ETag of the version you read")]
    PreconditionRequired,
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request bodies must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("storage is unavailable; retry later")]
    Unavailable,
    #[error("internal error")]
    Internal(String),
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            // The key service did not answer or refused: a retry may succeed.
            KeyError::Sign(_) | KeyError::PublicKey(_) | KeyError::Data(_) => {
                tracing::error!(error = %e, "key service unavailable");
                ApiError::Unavailable
            }
            KeyError::File { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Conditions the handler did not anticipate are lost races: the client may retry.
            StoreError::ConditionFailed { .. } => {
                ApiError::Conflict("the resource was changed concurrently; retry the request".into())
            }
            StoreError::ItemTooLarge { size } => ApiError::PayloadTooLarge(size),
            StoreError::InvalidCursor => ApiError::BadRequest("cursor is not valid for this listing".into()),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "storage unavailable");
                ApiError::Unavailable
            }
            StoreError::InvalidTransaction(m) | StoreError::Corrupt(m) => ApiError::Internal(m),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Unauthorized(e)
    }
}

impl ApiError {
    /// Status code and the stable slug of the problem type.
    pub fn status_and_type(&self) -> (u16, &'static str) {
        match self {
            ApiError::BadRequest(_) => (400, "invalid-request"),
            ApiError::Unauthorized(_) => (401, "unauthorized"),
            ApiError::InvalidCredentials => (401, "invalid-credentials"),
            ApiError::InvalidClient => (401, "invalid-client"),
            ApiError::UnsupportedGrantType => (400, "unsupported-grant-type"),
            ApiError::AccountLocked => (423, "account-locked"),
            ApiError::Forbidden(_) => (403, "forbidden"),
            ApiError::NotFound => (404, "not-found"),
            ApiError::MethodNotAllowed => (405, "method-not-allowed"),
            ApiError::Conflict(_) => (409, "conflict"),
            ApiError::Domain(DomainError::Invalid { .. }) => (422, "validation-failed"),
            ApiError::Domain(DomainError::ReasonRequired(_)) => (422, "reason-required"),
            ApiError::Domain(DomainError::InvalidTransition { .. }) => (409, "invalid-transition"),
            ApiError::Domain(DomainError::Rule(_)) => (409, "rule-violation"),
            ApiError::PreconditionFailed => (412, "stale-version"),
            ApiError::PreconditionRequired => (428, "if-match-required"),
            ApiError::IdempotencyKeyReused => (422, "idempotency-key-reused"),
            ApiError::PayloadTooLarge(_) => (413, "payload-too-large"),
            ApiError::UnsupportedMediaType => (415, "unsupported-media-type"),
            ApiError::Unavailable => (503, "unavailable"),
            ApiError::Internal(_) => (500, "internal"),
        }
    }

    /// The RFC 9457 problem document; `instance` is the request id, for support.
    pub fn problem(&self, request_id: &str) -> Value {
        let (status, slug) = self.status_and_type();
        let detail = match self {
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                "internal error; quote the request id to support".to_owned()
            }
            other => other.to_string(),
        };
        let mut p = json!({
            "type": format!("urn:ctp:problem:{slug}"),
            "title": title(status),
            "status": status,
            "detail": detail,
            "instance": format!("urn:ctp:request:{request_id}"),
        });
        match self {
            ApiError::Domain(DomainError::Invalid { field, reason }) => {
                p["errors"] = json!([{ "field": field, "reason": reason }]);
            }
            ApiError::Domain(DomainError::InvalidTransition { from, allowed, .. }) => {
                p["current"] = json!(from);
                p["allowed"] = json!(allowed);
            }
            _ => {}
        }
        p
    }

    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let (status, _) = self.status_and_type();
        let mut builder = Response::builder()
            .status(status)
            .header("content-type", "application/problem+json");
        if let ApiError::Unauthorized(_) = self {
            builder = builder.header("www-authenticate", "Bearer error=\"invalid_token\"");
        }
        let body = serde_json::to_string(&self.problem(request_id)).unwrap_or_default();
        builder.body(Body::from(body)).unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        423 => "Locked",
        428 => "Precondition Required",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_problems_name_the_allowed_moves() {
        let e = ApiError::from(DomainError::InvalidTransition {
            entity: "subject",
            from: "screening".into(),
            to: "completed".into(),
            allowed: vec!["enrolled".into(), "screen_failed".into()],
        });
        let p = e.problem("r1");
        assert_eq!(p["status"], 409);
        assert_eq!(p["type"], "urn:ctp:problem:invalid-transition");
        assert_eq!(p["allowed"], json!(["enrolled", "screen_failed"]));
    }

    #[test]
    fn internal_details_are_not_leaked() {
        let p = ApiError::Internal("sqlite said xyz".into()).problem("r2");
        assert_eq!(p["status"], 500);
        assert!(!p["detail"].as_str().unwrap().contains("xyz"));
    }

    #[test]
    fn store_races_are_conflicts_not_server_errors() {
        let e = ApiError::from(StoreError::ConditionFailed {
            index: 0,
            reason: ctp_store::ConditionFailure::VersionMismatch,
        });
        assert_eq!(e.status_and_type().0, 409);
    }
}
