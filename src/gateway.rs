//! The local twin of API Gateway (HTTP API, payload v2.0): matches template.yaml's routes,
//! verifies the JWT as API Gateway's JWT authorizer would, and hands the very same v2.0 request
//! to the function's handler.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Map, Value, json};

use crate::template::Route;
use ctp_api::App;

/// API Gateway's payload limit for HTTP APIs.
const MAX_GATEWAY_BODY: usize = 10 * 1024 * 1024;

pub struct Gateway {
    pub app: Arc<App>,
    pub routes: Vec<Route>,
}

fn plain(status: u16, message: &str) -> Response<Full<Bytes>> {
    // API Gateway's own refusals are `{"message": ...}`, not problem+json.
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json!({ "message": message }).to_string())))
        .unwrap_or_default()
}

impl Gateway {
    pub async fn serve(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Result<Response<Full<Bytes>>, Infallible> {
        let started = Instant::now();
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let response = self.route(req, peer).await;
        tracing::info!(
            target: "ctp::gateway",
            method = %method,
            path = %path,
            status = response.status().as_u16(),
            millis = started.elapsed().as_millis() as u64,
            "request"
        );
        Ok(response)
    }

    async fn route(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let Some((route, params)) = self.routes.iter().find_map(|r| r.matches(&method, &path).map(|p| (r, p))) else {
            return plain(404, "Not Found");
        };
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_GATEWAY_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return plain(413, "Request Entity Too Large"),
        };
        let claims = if route.authorized {
            let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
            let verifier = match self.app.verifier().await {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "the token signing key is unavailable");
                    return plain(503, "Service Unavailable");
                }
            };
            let verified = ctp_identity::jwt::bearer(header).and_then(|t| verifier.verify(t, App::now().timestamp()));
            match verified {
                Ok(c) => Some(c),
                Err(_) => return plain(401, "Unauthorized"),
            }
        } else {
            None
        };
        let event = v2_event(route, &params, &parts, &body, peer, claims.as_ref());
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not build the v2.0 request");
                return plain(500, "Internal Server Error");
            }
        };
        let resp = ctp_api::handle_http(&self.app, &route.function, request).await;
        let (parts, body) = resp.into_parts();
        let bytes = match body {
            lambda_http::Body::Empty => Bytes::new(),
            lambda_http::Body::Text(t) => Bytes::from(t),
            lambda_http::Body::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        Response::from_parts(parts, Full::new(bytes))
    }
}

/// The API Gateway HTTP API payload v2.0 for this request.
fn v2_event(
    route: &Route,
    params: &[(String, String)],
    parts: &http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
    claims: Option<&ctp_identity::Claims>,
) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        // API Gateway joins repeated headers with commas.
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(v));
            }
        }
    }
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let mut query = Map::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let path_params: Map<String, Value> = params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let (body_value, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let now = ctp_api::App::now();
    let mut ctx = json!({
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": headers.get("host").cloned().unwrap_or(Value::String("localhost".into())),
        "domainPrefix": "local",
        "http": {
            "method": route.method,
            "path": parts.uri.path(),
            "protocol": format!("{:?}", parts.version),
            "sourceIp": peer.ip().to_string(),
            "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
        },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route.key(),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    if let Some(c) = claims {
        let as_strings: Map<String, Value> = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(match v { Value::String(s) => s, other => other.to_string() })))
            .collect();
        ctx["authorizer"] = json!({ "jwt": { "claims": as_strings, "scopes": Value::Null } });
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": ctx,
        "isBase64Encoded": is_base64,
    });
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_params.is_empty() {
        event["pathParameters"] = Value::Object(path_params);
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    event
}
