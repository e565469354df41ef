//! The `health` function: liveness with a storage round trip, and the OpenAPI document.

use ctp_http::response;
use ctp_http::{ApiError, Body, Request, Response};
use serde_json::json;

use crate::App;

/// The API description, checked in as docs/openapi.json and kept equal to the handlers by a test.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, ApiError> {
    let meta = ctp_http::request::meta(&req);
    match meta.route_key.as_str() {
        "GET /v1/health" => {
            app.store.get("HEALTH", "HEALTH").await?;
            response::json(200, &json!({ "status": "ok", "region": app.config.region, "version": env!("CARGO_PKG_VERSION") }))
        }
        "GET /v1/openapi.json" => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(OPENAPI))
            .map_err(|e| ApiError::Internal(e.to_string())),
        other => Err(crate::unknown_route(other)),
    }
}
