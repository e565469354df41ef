//! The platform's API: one module per resource (each deployed as one Lambda function), the write
//! path that pairs every change with its audit entry, and the stream consumers.

pub mod app;
pub mod archiver;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod demo;
pub mod health;
pub mod idempotency;
pub mod keys;
pub mod members;
pub mod records;
pub mod redrive;
pub mod runtime;
pub mod sites;
pub mod studies;
pub mod subjects;
pub mod tenants;
pub mod users;

pub use app::{App, Config};

use ctp_http::{ApiError, Body, Request, Response};

/// The HTTP functions, named as their crates under `functions/` and in template.yaml.
pub const HTTP_FUNCTIONS: [&str; 8] = ["auth", "users", "studies", "sites", "members", "subjects", "audit", "health"];

/// The functions triggered by the change stream.
pub const STREAM_FUNCTIONS: [&str; 1] = ["audit-archiver"];

/// The functions run on a schedule (EventBridge); they exist only in the AWS home.
pub const SCHEDULED_FUNCTIONS: [&str; 1] = ["stream-redrive"];

/// Answer one API Gateway v2.0 request for the named function. Errors of every kind become
/// problem+json here, once.
pub async fn handle_http(app: &App, function: &str, req: Request) -> Response<Body> {
    let meta = ctp_http::request::meta(&req);
    let result = match function {
        "auth" => auth::handle(app, req).await,
        "users" => users::handle(app, req).await,
        "studies" => studies::handle(app, req).await,
        "sites" => sites::handle(app, req).await,
        "members" => members::handle(app, req).await,
        "subjects" => subjects::handle(app, req).await,
        "audit" => audit::handle(app, req).await,
        "health" => health::handle(app, req).await,
        _ => Err(ApiError::NotFound),
    };
    match result {
        Ok(resp) => resp,
        Err(e) => {
            let (status, _) = e.status_and_type();
            tracing::info!(request_id = %meta.request_id, route = %meta.route_key, status, "request refused");
            e.into_response(&meta.request_id)
        }
    }
}

/// A route key the function does not serve: template.yaml and the handler disagree.
pub(crate) fn unknown_route(route_key: &str) -> ApiError {
    ApiError::Internal(format!("no handler for route {route_key}"))
}

/// Hand a batch of change-stream records to the named stream function.
pub async fn handle_stream(
    app: &App,
    function: &str,
    event: aws_lambda_events::dynamodb::Event,
) -> Option<aws_lambda_events::streams::DynamoDbEventResponse> {
    match function {
        "audit-archiver" => Some(archiver::handle(app, event).await),
        _ => None,
    }
}
