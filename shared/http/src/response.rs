//! Building JSON responses.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::ApiError;
use crate::request::etag;

pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>, ApiError> {
    build(status, value, None)
}

/// A single resource with its ETag, for reads and writes of versioned records.
pub fn json_with_etag<T: Serialize>(status: u16, value: &T, version: u64) -> Result<Response<Body>, ApiError> {
    build(status, value, Some(version))
}

fn build<T: Serialize>(status: u16, value: &T, version: Option<u64>) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut b = Response::builder().status(status).header("content-type", "application/json");
    if let Some(v) = version {
        b = b.header("etag", etag(v));
    }
    b.body(Body::from(body)).map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn no_content() -> Result<Response<Body>, ApiError> {
    Response::builder().status(204).body(Body::Empty).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `{items, next_cursor}`, the shape of every listing.
#[derive(Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
