//! Reading API Gateway HTTP API (payload v2.0) requests: route, ids, metadata, bodies and
//! conditional headers. The same requests arrive from API Gateway on AWS and from the local
//! gateway, so nothing here knows which home it runs in.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Largest JSON body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Who sent the request and how to refer to it, for audit entries and logs.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    /// `GET /v1/studies/{studyId}`, as API Gateway names the matched route.
    pub route_key: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn meta(req: &Request) -> RequestMeta {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => RequestMeta {
            request_id: ctx.request_id.clone().unwrap_or_default(),
            route_key: ctx.route_key.clone().unwrap_or_default(),
            client_ip: ctx.http.source_ip.clone(),
            user_agent: ctx.http.user_agent.clone(),
        },
        _ => RequestMeta::default(),
    }
}

/// A path parameter; an absent one means the route and the handler disagree.
pub fn path_param<'a>(req: &'a Request, name: &str) -> Result<&'a str, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .ok_or_else(|| ApiError::Internal(format!("route has no path parameter {name}")))
}

/// A path id; a malformed id cannot name anything, so it answers 404 like an unknown one.
pub fn path_id<T>(req: &Request, name: &str, parse: impl Fn(&str) -> Result<T, ctp_domain::DomainError>) -> Result<T, ApiError> {
    parse(path_param(req, name)?).map_err(|_| ApiError::NotFound)
}

pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref().and_then(|q| q.first(name))
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn body_bytes(req: &Request) -> &[u8] {
    body_bytes_of(req.body())
}

pub fn body_bytes_of(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// The JSON body as `T`. Types passed here deny unknown fields, so a misspelt or forbidden field
/// (`id`, `status`, `tenant_id`) is a 400 that names it, never silently ignored.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let is_json = header(req, "content-type")
        .map(|ct| ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// A JSON body that may be absent (e.g. on DELETE).
pub fn optional_json_body<T: DeserializeOwned + Default>(req: &Request) -> Result<T, ApiError> {
    if body_bytes(req).is_empty() { Ok(T::default()) } else { json_body(req) }
}

/// The ETag of an item version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version named by `If-Match`: required on updates (428 without it).
pub fn if_match(req: &Request) -> Result<u64, ApiError> {
    let raw = header(req, "if-match").ok_or(ApiError::PreconditionRequired)?;
    let tag = raw.trim().trim_start_matches("W/");
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse::<u64>().ok())
        // An ETag we never issued cannot match the current version.
        .ok_or(ApiError::PreconditionFailed)
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    match header(req, "idempotency-key") {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_owned())),
        Some(_) => Err(ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into())),
    }
}

/// Page size from `?limit=` (default 50, at most 200).
pub fn page_limit(req: &Request) -> Result<u32, ApiError> {
    match query_param(req, "limit") {
        None => Ok(50),
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest("limit must be a whole number from 1 to 200".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], body: &str) -> Request {
        let mut b = lambda_http::http::Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::from(body.to_owned())).unwrap()
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        title: String,
    }

    #[test]
    fn unknown_fields_are_named_in_the_error() {
        let r = request(&[("content-type", "application/json")], r#"{"title":"t","status":"active"}"#);
        match json_body::<Thing>(&r) {
            Err(ApiError::BadRequest(m)) => assert!(m.contains("unknown field `status`"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bodies_must_be_json_and_small() {
        assert!(matches!(json_body::<Thing>(&request(&[], r#"{"title":"t"}"#)), Err(ApiError::UnsupportedMediaType)));
        let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let r = request(&[("content-type", "application/json")], &big);
        assert!(matches!(json_body::<Thing>(&r), Err(ApiError::PayloadTooLarge(_))));
    }

    #[test]
    fn if_match_is_required_and_parsed() {
        assert!(matches!(if_match(&request(&[], "")), Err(ApiError::PreconditionRequired)));
        assert_eq!(if_match(&request(&[("if-match", "\"7\"")], "")).unwrap(), 7);
        assert_eq!(if_match(&request(&[("if-match", "W/\"7\"")], "")).unwrap(), 7);
        assert!(matches!(if_match(&request(&[("if-match", "*")], "")), Err(ApiError::PreconditionFailed)));
    }
}
