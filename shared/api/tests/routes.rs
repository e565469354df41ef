//! template.yaml is the single source of the API's routes. These tests keep it, the functions
//! under functions/, the handlers in this crate and docs/openapi.json equal:
//!
//! (a) the template's routes are exactly the document's operations (with the function as tag and
//!     `security: []` exactly on the public routes);
//! (b) every function of the template is in `HTTP_FUNCTIONS` / `STREAM_FUNCTIONS` and has a crate;
//! (c) every route is handled by its function (an unhandled route key answers 500), public routes
//!     answer without a token and the others refuse a request without one (401);
//! (d) the embedded document is the checked-in one and is OpenAPI 3.1.0;
//! (e) what the handlers answer (status, ETag, body) is what the document declares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctp_api::{App, Config};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    function: String,
    public: bool,
}

impl Route {
    fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A function of the template: its name (the directory under functions/) and its event types.
struct Function {
    name: String,
    event_types: Vec<String>,
}

fn template() -> Yaml {
    let raw = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml is readable");
    // !Ref, !GetAtt and !Sub become Yaml::Tagged values; nothing read here is tagged.
    serde_norway::from_str(&raw).expect("template.yaml parses")
}

fn yaml_str<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

fn template_functions(t: &Yaml) -> Vec<(Function, Vec<Route>)> {
    let resources = t.get("Resources").and_then(Yaml::as_mapping).expect("Resources");
    let mut out = Vec::new();
    for (logical_id, res) in resources {
        if yaml_str(res, "Type") != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = res.get("Properties").expect("function properties");
        let code_uri = yaml_str(props, "CodeUri").unwrap_or_else(|| panic!("{logical_id:?} has a plain CodeUri"));
        let name = code_uri
            .strip_prefix("functions/")
            .unwrap_or_else(|| panic!("{logical_id:?}: CodeUri {code_uri} is not functions/<name>"))
            .trim_end_matches('/')
            .to_owned();
        let mut event_types = Vec::new();
        let mut routes = Vec::new();
        if let Some(events) = props.get("Events").and_then(Yaml::as_mapping) {
            for (event_id, ev) in events {
                let ty = yaml_str(ev, "Type").unwrap_or_else(|| panic!("{event_id:?} has a Type")).to_owned();
                if ty == "HttpApi" {
                    let p = ev.get("Properties").expect("HttpApi event properties");
                    let method = yaml_str(p, "Method").expect("Method").to_uppercase();
                    let path = yaml_str(p, "Path").expect("Path").to_owned();
                    let public = p.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Yaml::as_str) == Some("NONE");
                    routes.push(Route { method, path, function: name.clone(), public });
                }
                event_types.push(ty);
            }
        }
        out.push((Function { name, event_types }, routes));
    }
    out
}

fn template_routes() -> Vec<Route> {
    template_functions(&template()).into_iter().flat_map(|(_, r)| r).collect()
}

fn openapi() -> Value {
    let raw = std::fs::read_to_string(repo_root().join("docs/openapi.json")).expect("docs/openapi.json is readable");
    serde_json::from_str(&raw).expect("docs/openapi.json is JSON")
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// (method, path) → operation object.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    ops
}

/// Follow a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = doc
                .pointer(r.strip_prefix('#').unwrap_or_else(|| panic!("{r} is not a local reference")))
                .unwrap_or_else(|| panic!("{r} does not resolve"));
            resolve(doc, target)
        }
        None => v,
    }
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

// ---------------------------------------------------------------------------------------------
// (a) routes of the template = operations of the document

#[test]
fn template_routes_equal_openapi_operations() {
    let routes = template_routes();
    let from_template: BTreeSet<(String, String)> = routes.iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    assert_eq!(from_template.len(), routes.len(), "a route is declared twice in template.yaml");
    let doc = openapi();
    let ops = operations(&doc);
    let from_doc: BTreeSet<(String, String)> = ops.keys().cloned().collect();
    let missing: Vec<_> = from_template.difference(&from_doc).collect();
    let extra: Vec<_> = from_doc.difference(&from_template).collect();
    assert!(missing.is_empty() && extra.is_empty(), "not in docs/openapi.json: {missing:?}; not in template.yaml: {extra:?}");

    let global_security = doc.get("security").cloned().unwrap_or(json!([]));
    let mut operation_ids = BTreeSet::new();
    for r in &routes {
        let op = &ops[&(r.method.clone(), r.path.clone())];
        let key = r.key();
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{key}: operationId"));
        assert!(operation_ids.insert(id.to_owned()), "{key}: operationId {id} is used twice");
        assert_eq!(op["tags"], json!([r.function]), "{key}: tagged with its function");
        let security = op.get("security").unwrap_or(&global_security);
        if r.public {
            assert_eq!(security, &json!([]), "{key} is public in template.yaml: security must be []");
        } else {
            let schemes: Vec<&str> =
                security.as_array().into_iter().flatten().filter_map(Value::as_object).flat_map(|o| o.keys()).map(String::as_str).collect();
            assert_eq!(schemes, ["bearerAuth"], "{key} needs the bearer token");
        }

        // Path parameters: exactly the template's, all required.
        let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().map(|p| resolve(&doc, p)).collect();
        let documented: BTreeSet<&str> =
            params.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(documented, path_params(&r.path).into_iter().collect::<BTreeSet<_>>(), "{key}: path parameters");
        assert!(params.iter().filter(|p| p["in"] == "path").all(|p| p["required"] == true), "{key}: path parameters are required");

        let header = |name: &str| params.iter().find(|p| p["in"] == "header" && p["name"] == name).copied();
        if r.method == "PATCH" {
            assert_eq!(header("If-Match").map(|p| &p["required"]), Some(&json!(true)), "{key}: If-Match is required");
        }
        if r.method == "POST" && !r.path.starts_with("/v1/auth/") {
            assert_eq!(header("Idempotency-Key").map(|p| &p["required"]), Some(&json!(false)), "{key}: optional Idempotency-Key");
        }
        if r.path.starts_with("/v1/auth/") {
            assert!(header("Idempotency-Key").is_none(), "{key}: auth routes take no Idempotency-Key");
        }

        // Error responses are problem documents.
        for (status, resp) in op["responses"].as_object().unwrap_or_else(|| panic!("{key}: responses")) {
            let resp = resolve(&doc, resp);
            if status.starts_with('4') || status.starts_with('5') {
                assert!(resp["content"].get("application/problem+json").is_some(), "{key} {status}: problem+json");
            }
        }
        if !r.public {
            assert!(op["responses"].get("401").is_some(), "{key}: documents 401");
        }
    }
    check_refs(&doc, &doc);
}

/// Every `$ref` anywhere in the document resolves.
fn check_refs(doc: &Value, v: &Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("$ref") {
                resolve(doc, v);
            }
            m.values().for_each(|x| check_refs(doc, x));
        }
        Value::Array(a) => a.iter().for_each(|x| check_refs(doc, x)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// (b) functions of the template = the crate's function lists = crates under functions/

#[test]
fn template_functions_equal_function_lists_and_crates() {
    let t = template();
    let functions = template_functions(&t);
    let http: BTreeSet<String> =
        functions.iter().filter(|(_, routes)| !routes.is_empty()).map(|(f, _)| f.name.clone()).collect();
    let listed_http: BTreeSet<String> = ctp_api::HTTP_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(http, listed_http, "functions with HttpApi events in template.yaml vs ctp_api::HTTP_FUNCTIONS");

    let stream: BTreeSet<String> = functions
        .iter()
        .filter(|(f, _)| f.event_types.iter().any(|t| t == "DynamoDB"))
        .map(|(f, _)| f.name.clone())
        .collect();
    let listed_stream: BTreeSet<String> = ctp_api::STREAM_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(stream, listed_stream, "functions with DynamoDB stream events in template.yaml vs ctp_api::STREAM_FUNCTIONS");

    let scheduled: BTreeSet<String> = functions
        .iter()
        .filter(|(f, _)| f.event_types.iter().any(|t| t == "Schedule"))
        .map(|(f, _)| f.name.clone())
        .collect();
    let listed_scheduled: BTreeSet<String> = ctp_api::SCHEDULED_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(scheduled, listed_scheduled, "functions with Schedule events in template.yaml vs ctp_api::SCHEDULED_FUNCTIONS");

    let all: BTreeSet<String> = functions.iter().map(|(f, _)| f.name.clone()).collect();
    assert_eq!(
        all,
        &(&listed_http | &listed_stream) | &listed_scheduled,
        "every function in template.yaml is an HTTP, a stream or a scheduled function"
    );

    let missing: Vec<String> = ctp_api::HTTP_FUNCTIONS
        .iter()
        .chain(ctp_api::STREAM_FUNCTIONS.iter())
        .chain(ctp_api::SCHEDULED_FUNCTIONS.iter())
        .filter(|name| !repo_root().join("functions").join(name).join("Cargo.toml").is_file())
        .map(|name| format!("functions/{name}/Cargo.toml"))
        .collect();
    assert!(missing.is_empty(), "missing function crates: {missing:?}");
}

/// Least privilege: no function runs with SAM's broad policy templates or AWS managed policies,
/// no statement grants `*` actions or resources, and a stream function has its own role (for a
/// DynamoDB event SAM would attach AWSLambdaDynamoDBExecutionRole, which reads every stream).
#[test]
fn every_function_has_least_privilege_policies() {
    let t = template();
    let resources = t.get("Resources").and_then(Yaml::as_mapping).expect("Resources");
    let star = |v: Option<&Yaml>| match v {
        Some(Yaml::String(s)) => s == "*" || s.ends_with(":*") && !s.contains('/'),
        Some(Yaml::Sequence(items)) => items.iter().any(|i| i.as_str().is_some_and(|s| s == "*")),
        _ => false,
    };
    let statements = |policies: &Yaml| -> Vec<Yaml> {
        policies
            .as_sequence()
            .expect("Policies is a list")
            .iter()
            .map(|p| {
                let doc = p.get("PolicyDocument").unwrap_or(p);
                assert!(doc.get("Statement").is_some(), "only inline policy statements, not {p:?}");
                doc.get("Statement").cloned().unwrap()
            })
            .flat_map(|s| s.as_sequence().cloned().unwrap_or_default())
            .collect()
    };
    let mut checked = 0;
    for (id, res) in resources {
        let props = res.get("Properties");
        let (policies, kind) = match yaml_str(res, "Type") {
            Some("AWS::Serverless::Function") => {
                let p = props.expect("function properties");
                let streams = p
                    .get("Events")
                    .and_then(Yaml::as_mapping)
                    .is_some_and(|events| events.values().any(|e| yaml_str(e, "Type") == Some("DynamoDB")));
                if streams {
                    assert!(p.get("Role").is_some() && p.get("Policies").is_none(), "{id:?}: a stream function has its own role");
                    continue;
                }
                (p.get("Policies").unwrap_or_else(|| panic!("{id:?} has no policies")), "function")
            }
            Some("AWS::IAM::Role") => {
                assert!(props.and_then(|p| p.get("ManagedPolicyArns")).is_none(), "{id:?}: no managed policies");
                (props.and_then(|p| p.get("Policies")).expect("role policies"), "role")
            }
            _ => continue,
        };
        for st in statements(policies) {
            assert!(!star(st.get("Action")), "{kind} {id:?}: a wildcard action in {st:?}");
            assert!(!star(st.get("Resource")), "{kind} {id:?}: a wildcard resource in {st:?}");
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        ctp_api::HTTP_FUNCTIONS.len() + ctp_api::STREAM_FUNCTIONS.len() + ctp_api::SCHEDULED_FUNCTIONS.len()
    );
}

// ---------------------------------------------------------------------------------------------
// (c) every route is handled by its function

const SAMPLE_ID: &str = "0190a0b0-c0d0-7e00-8000-000000000001";

fn config() -> Config {
    Config { issuer: "http://test".into(), audience: "ctp-api".into(), region: "eu-central-1".into() }
}

fn local_app(dir: &Path) -> (App, Arc<ctp_store::SqliteStore>) {
    App::local(dir, config()).expect("local app")
}

/// An API Gateway HTTP API (payload v2.0) request for `route`, as API Gateway sends it.
fn gateway_request(
    method: &str,
    route_path: &str,
    ids: &BTreeMap<&str, String>,
    headers: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Option<&str>,
) -> lambda_http::Request {
    let mut raw_path = route_path.to_owned();
    let mut path_parameters = serde_json::Map::new();
    for name in path_params(route_path) {
        let value = ids.get(name).cloned().unwrap_or_else(|| SAMPLE_ID.to_owned());
        raw_path = raw_path.replace(&format!("{{{name}}}"), &value);
        path_parameters.insert(name.to_owned(), Value::String(value));
    }
    let header_map: serde_json::Map<String, Value> =
        headers.iter().map(|(k, v)| (k.to_lowercase(), Value::String((*v).to_owned()))).collect();
    let query_map: serde_json::Map<String, Value> =
        query.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect();
    let raw_query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let route_key = format!("{method} {route_path}");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": header_map,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "routes-test",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "routes-test"
            },
            "requestId": format!("req-{}", uuid::Uuid::new_v4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000_i64
        },
        "isBase64Encoded": false
    });
    if !path_parameters.is_empty() {
        event["pathParameters"] = Value::Object(path_parameters);
    }
    if !query_map.is_empty() {
        event["queryStringParameters"] = Value::Object(query_map);
    }
    if let Some(b) = body {
        event["body"] = Value::String(b.to_owned());
    }
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2.0 event")
}

struct Answer {
    status: u16,
    headers: lambda_http::http::HeaderMap,
    body: Value,
}

async fn call(app: &App, function: &str, req: lambda_http::Request) -> Answer {
    let resp = ctp_api::handle_http(app, function, req).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = ctp_http::request::body_bytes_of(resp.body()).to_vec();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer { status, headers, body }
}

#[tokio::test]
async fn every_route_is_handled_and_only_public_routes_answer_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _store) = local_app(dir.path());
    let doc = openapi();
    let no_ids = BTreeMap::new();
    for r in template_routes() {
        let req = gateway_request(&r.method, &r.path, &no_ids, &[], &[], None);
        let a = call(&app, &r.function, req).await;
        let key = r.key();
        assert_ne!(a.status, 500, "{key} is not handled by function {}: {}", r.function, a.body);
        if r.public {
            assert_ne!(a.status, 401, "{key} is public but asked for a token: {}", a.body);
        } else {
            assert_eq!(a.status, 401, "{key} answered without a token: {}", a.body);
            assert_eq!(a.body["type"], "urn:ctp:problem:unauthorized", "{key}");
            assert!(a.headers.contains_key("www-authenticate"), "{key}: WWW-Authenticate");
            // A token that is not one is refused just the same.
            let req = gateway_request(&r.method, &r.path, &no_ids, &[("authorization", "Bearer not.a.token")], &[], None);
            assert_eq!(call(&app, &r.function, req).await.status, 401, "{key} with a forged token");
        }
        conforms(&doc, &r, &a);
    }
}

/// With a valid token each authenticated route reaches its own handler: no route key falls
/// through to `unknown_route` (500), whatever the sample ids and empty bodies make of it.
#[tokio::test]
async fn every_authenticated_route_reaches_its_handler() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _store) = local_app(dir.path());
    let doc = openapi();
    let token = seed_admin(&app).await;
    let auth = format!("Bearer {token}");
    let no_ids = BTreeMap::new();
    for r in template_routes().into_iter().filter(|r| !r.public) {
        let mut headers = vec![("authorization", auth.as_str())];
        let body = match r.method.as_str() {
            "POST" | "PATCH" => {
                headers.push(("content-type", "application/json"));
                Some("{}")
            }
            _ => None,
        };
        let a = call(&app, &r.function, gateway_request(&r.method, &r.path, &no_ids, &headers, &[], body)).await;
        let key = r.key();
        assert_ne!(a.status, 500, "{key} is not handled by function {}: {}", r.function, a.body);
        assert_ne!(a.status, 401, "{key} refused a valid token: {}", a.body);
        conforms(&doc, &r, &a);
    }
}

// ---------------------------------------------------------------------------------------------
// (d) the embedded document

#[test]
fn embedded_openapi_is_the_checked_in_document() {
    let embedded: Value = serde_json::from_str(ctp_api::health::OPENAPI).expect("OPENAPI is JSON");
    assert_eq!(embedded["openapi"], "3.1.0");
    assert_eq!(embedded, openapi());
}

// ---------------------------------------------------------------------------------------------
// (e) answers conform to the document

/// A small JSON Schema check covering what docs/openapi.json uses: $ref, type, enum, const,
/// properties, required, additionalProperties: false, items, oneOf, minimum/maximum.
fn schema_errors(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                schema_errors(doc, o, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{at}: {matching} of the oneOf alternatives match {v}"));
        }
        return;
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: {v} is not of type {ty}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {allowed:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let Some(n) = v.as_f64()
        && (schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m)
            || schema.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m))
    {
        errors.push(format!("{at}: {v} is out of range"));
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = req.as_str()
                && !obj.contains_key(name)
            {
                errors.push(format!("{at}: required field {name} is missing"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => schema_errors(doc, s, x, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: field {k} is not documented"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            schema_errors(doc, items, x, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The answer's status is documented for the route, its body matches the documented schema of
/// that status, and a documented ETag header is present.
fn conforms(doc: &Value, r: &Route, a: &Answer) {
    let key = r.key();
    let op = &doc["paths"][&r.path][r.method.to_lowercase()];
    let Some(resp) = op["responses"].get(a.status.to_string()) else {
        panic!("{key} answered {} which docs/openapi.json does not document: {}", a.status, a.body);
    };
    let resp = resolve(doc, resp);
    let content_type = a.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match resp.get("content").and_then(Value::as_object) {
        Some(content) => {
            let media = content
                .get(content_type)
                .unwrap_or_else(|| panic!("{key} {}: content type {content_type:?} is not documented", a.status));
            let mut errors = Vec::new();
            schema_errors(doc, &media["schema"], &a.body, "body", &mut errors);
            assert!(errors.is_empty(), "{key} {}: the body does not match the document: {errors:?}\n{}", a.status, a.body);
        }
        None => assert!(a.body.is_null(), "{key} {}: undocumented body {}", a.status, a.body),
    }
    if resp.get("headers").and_then(|h| h.get("ETag")).is_some() {
        let etag = a.headers.get("etag").and_then(|v| v.to_str().ok());
        assert!(etag.is_some_and(|e| e.starts_with('"') && e.ends_with('"')), "{key} {}: ETag header, got {etag:?}", a.status);
    }
}

const ADMIN_EMAIL: &str = "admin@acme.example";
const PASSWORD: &str = "Violet-Harbor-Lantern-42";

/// A tenant with a tenant admin, as `ctp admin` creates them; returns the admin's access token.
async fn seed_admin(app: &App) -> String {
    let tenant = ctp_domain::ids::TenantId::parse("acme").unwrap();
    ctp_api::tenants::create_tenant(app, tenant.clone(), "Acme", "eu-central-1").await.unwrap();
    let ctx = ctp_api::tenants::admin_context(&tenant, "routes test");
    ctp_api::users::create(
        app,
        &ctx,
        &tenant,
        ctp_api::users::NewUser { email: ADMIN_EMAIL.into(), name: "Ada Admin".into(), password: PASSWORD.into(), tenant_admin: true },
    )
    .await
    .unwrap();
    login(app, ADMIN_EMAIL).await
}

async fn login(app: &App, email: &str) -> String {
    let body = json!({ "email": email, "password": PASSWORD }).to_string();
    let req = gateway_request("POST", "/v1/auth/login", &BTreeMap::new(), &[("content-type", "application/json")], &[], Some(&body));
    let a = call(app, "auth", req).await;
    assert_eq!(a.status, 200, "login: {}", a.body);
    a.body["access_token"].as_str().expect("access_token").to_owned()
}

/// Call `method path` as the holder of `token` and check the answer against the document.
struct Client<'a> {
    app: &'a App,
    doc: Value,
    routes: Vec<Route>,
}

impl Client<'_> {
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        ids: &BTreeMap<&str, String>,
        extra_headers: &[(&str, &str)],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let route = self
            .routes
            .iter()
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in template.yaml"))
            .clone();
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = extra_headers.to_vec();
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let a = call(self.app, &route.function, gateway_request(method, path, ids, &headers, query, body.as_deref())).await;
        conforms(&self.doc, &route, &a);
        a
    }
}

fn ids<S: AsRef<str>>(pairs: &[(&'static str, S)]) -> BTreeMap<&'static str, String> {
    pairs.iter().map(|(k, v)| (*k, v.as_ref().to_owned())).collect()
}

fn id_of(a: &Answer) -> String {
    a.body["id"].as_str().unwrap_or_else(|| panic!("an id in {}", a.body)).to_owned()
}

/// One study from draft to a screened subject, every answer checked against the document.
#[tokio::test]
async fn answers_match_the_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _store) = local_app(dir.path());
    let admin = seed_admin(&app).await;
    let c = Client { app: &app, doc: openapi(), routes: template_routes() };
    let none = BTreeMap::new();
    let admin = Some(admin.as_str());

    let a = c.send(None, "GET", "/v1/health", &none, &[], &[], None).await;
    assert_eq!(a.status, 200);
    let a = c.send(None, "GET", "/.well-known/jwks.json", &none, &[], &[], None).await;
    assert_eq!(a.status, 200);
    let a = c.send(None, "GET", "/v1/openapi.json", &none, &[], &[], None).await;
    assert_eq!(a.body["openapi"], "3.1.0");
    let a = c.send(admin, "GET", "/v1/me", &none, &[], &[], None).await;
    assert_eq!(a.body["kind"], "user");

    let study = c
        .send(admin, "POST", "/v1/studies", &none, &[("idempotency-key", "study-1")], &[],
            Some(json!({"protocol_id": "RT-301", "title": "Routes test", "phase": "phase2_3"})))
        .await;
    assert_eq!(study.status, 201, "{}", study.body);
    let replay = c
        .send(admin, "POST", "/v1/studies", &none, &[("idempotency-key", "study-1")], &[],
            Some(json!({"protocol_id": "RT-301", "title": "Routes test", "phase": "phase2_3"})))
        .await;
    assert_eq!((replay.status, &replay.body), (201, &study.body));
    assert!(replay.headers.contains_key("idempotent-replayed"));
    let study_id = id_of(&study);
    let s = ids(&[("studyId", &study_id)]);

    let site = c
        .send(admin, "POST", "/v1/studies/{studyId}/sites", &s, &[], &[],
            Some(json!({"site_number": "101", "name": "Charité", "country": "de", "principal_investigator": "Dr. A", "enrollment_cap": 10})))
        .await;
    assert_eq!(site.status, 201, "{}", site.body);
    let site_id = id_of(&site);
    let ss = ids(&[("studyId", &study_id), ("siteId", &site_id)]);

    let user = c
        .send(admin, "POST", "/v1/users", &none, &[], &[],
            Some(json!({"email": "ivy@acme.example", "name": "Ivy Investigator", "password": PASSWORD})))
        .await;
    assert_eq!(user.status, 201, "{}", user.body);
    let user_id = id_of(&user);
    let a = c.send(admin, "GET", "/v1/users/{userId}", &ids(&[("userId", &user_id)]), &[], &[], None).await;
    assert_eq!(a.status, 200);
    let a = c.send(admin, "GET", "/v1/users", &none, &[], &[("limit", "1")], None).await;
    assert_eq!(a.status, 200);
    assert!(a.body["next_cursor"].is_string(), "two users, pages of one");

    let member = c
        .send(admin, "POST", "/v1/studies/{studyId}/members", &s, &[], &[],
            Some(json!({"user_id": user_id, "role": "investigator", "site_id": site_id})))
        .await;
    assert_eq!(member.status, 201, "{}", member.body);

    let a = c.send(admin, "PATCH", "/v1/studies/{studyId}/sites/{siteId}", &ss, &[], &[], Some(json!({"status": "active"}))).await;
    assert_eq!(a.status, 428, "If-Match is required");
    let a = c
        .send(admin, "PATCH", "/v1/studies/{studyId}/sites/{siteId}", &ss, &[("if-match", "\"1\"")], &[], Some(json!({"status": "active"})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .send(admin, "PATCH", "/v1/studies/{studyId}/sites/{siteId}", &ss, &[("if-match", "\"1\"")], &[], Some(json!({"name": "x"})))
        .await;
    assert_eq!(a.status, 412, "stale ETag");
    let a = c
        .send(admin, "PATCH", "/v1/studies/{studyId}", &s, &[("if-match", "\"1\"")], &[], Some(json!({"status": "active"})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c
        .send(admin, "PATCH", "/v1/studies/{studyId}", &s, &[("if-match", "\"2\"")], &[], Some(json!({"status": "draft", "reason": "test"})))
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["allowed"], json!(["closed"]));

    let investigator = login(&app, "ivy@acme.example").await;
    let inv = Some(investigator.as_str());
    let a = c.send(inv, "GET", "/v1/me", &none, &[], &[], None).await;
    assert_eq!(a.body["memberships"].as_array().map(Vec::len), Some(1));
    let subject = c
        .send(inv, "POST", "/v1/studies/{studyId}/subjects", &s, &[], &[], Some(json!({"subject_number": "101-001", "site_id": site_id})))
        .await;
    assert_eq!(subject.status, 201, "{}", subject.body);
    let subject_id = id_of(&subject);
    let sub = ids(&[("studyId", &study_id), ("subjectId", &subject_id)]);
    let today = chrono::Utc::now().date_naive().to_string();
    let a = c
        .send(inv, "PATCH", "/v1/studies/{studyId}/subjects/{subjectId}", &sub, &[("if-match", "\"1\"")], &[],
            Some(json!({"status": "enrolled", "consent_date": today, "reason": "consent signed"})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c.send(inv, "GET", "/v1/studies/{studyId}/subjects/{subjectId}", &sub, &[], &[], None).await;
    assert_eq!(a.body["status"], "enrolled");
    let a = c.send(inv, "GET", "/v1/studies/{studyId}/subjects", &s, &[], &[("site_id", site_id.as_str())], None).await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(1));
    let a = c.send(inv, "GET", "/v1/studies/{studyId}/audit", &s, &[], &[], None).await;
    assert_eq!(a.status, 403, "investigators do not read the audit trail");
    let a = c.send(admin, "GET", "/v1/studies/{studyId}/subjects", &s, &[], &[], None).await;
    assert_eq!(a.status, 403, "tenant admins read no clinical data");

    let a = c.send(admin, "GET", "/v1/studies", &none, &[], &[], None).await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(1));
    let a = c.send(admin, "GET", "/v1/studies/{studyId}", &s, &[], &[], None).await;
    assert_eq!(a.body["status"], "active");
    let a = c.send(admin, "GET", "/v1/studies/{studyId}/sites", &s, &[], &[], None).await;
    assert_eq!(a.body["items"][0]["enrolled_count"], 1);
    let a = c.send(admin, "GET", "/v1/studies/{studyId}/sites/{siteId}", &ss, &[], &[], None).await;
    assert_eq!(a.status, 200);
    let a = c.send(admin, "GET", "/v1/studies/{studyId}/members", &s, &[], &[], None).await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(1));

    let a = c.send(admin, "GET", "/v1/studies/{studyId}/audit", &s, &[], &[], None).await;
    let entries = a.body["items"].as_array().cloned().unwrap_or_default();
    assert!(entries.len() >= 6, "{}", a.body);
    let a = c
        .send(admin, "GET", "/v1/studies/{studyId}/audit", &s, &[], &[("entity_type", "subject"), ("entity_id", subject_id.as_str()), ("action", "update")], None)
        .await;
    assert_eq!(a.body["items"].as_array().map(Vec::len), Some(1), "{}", a.body);
    assert_eq!(a.body["items"][0]["reason"], "consent signed");
    let a = c.send(admin, "GET", "/v1/studies/{studyId}/audit", &s, &[], &[("from", "yesterday")], None).await;
    assert_eq!(a.status, 400);

    let md = ids(&[("studyId", &study_id), ("memberId", &id_of(&member))]);
    let a = c.send(admin, "DELETE", "/v1/studies/{studyId}/members/{memberId}", &md, &[], &[], None).await;
    assert_eq!(a.status, 422, "removing access to an active study needs a reason: {}", a.body);
    let a = c
        .send(admin, "DELETE", "/v1/studies/{studyId}/members/{memberId}", &md, &[], &[], Some(json!({"reason": "left the site"})))
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = c.send(inv, "GET", "/v1/studies/{studyId}", &s, &[], &[], None).await;
    assert_eq!(a.status, 404, "no standing in the study any more");

    let a = c
        .send(admin, "PATCH", "/v1/users/{userId}", &ids(&[("userId", &user_id)]), &[("if-match", "\"1\"")], &[], Some(json!({"active": false})))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c.send(inv, "GET", "/v1/me", &none, &[], &[], None).await;
    assert_eq!(a.status, 401, "deactivation revokes the user's tokens");

    let a = c
        .send(admin, "POST", "/v1/auth/password", &none, &[], &[], Some(json!({"current_password": PASSWORD, "new_password": "password1234"})))
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["errors"][0]["field"], "new_password");
    let a = c.send(None, "POST", "/v1/auth/login", &none, &[], &[], Some(json!({"email": ADMIN_EMAIL, "password": "wrong"}))).await;
    assert_eq!(a.status, 401);
    let a = c.send(None, "POST", "/v1/auth/login", &none, &[], &[], Some(json!({"email": ADMIN_EMAIL, "password": PASSWORD, "x": 1}))).await;
    assert_eq!(a.status, 400, "unknown fields are refused");
}

/// The token endpoint and a machine client's view, checked against the document.
#[tokio::test]
async fn client_credentials_answers_match_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _store) = local_app(dir.path());
    let _admin = seed_admin(&app).await;
    let c = Client { app: &app, doc: openapi(), routes: template_routes() };
    let tenant = ctp_domain::ids::TenantId::parse("acme").unwrap();
    let scopes = [ctp_domain::permissions::Scope::StudiesRead].into();
    let (client, secret) = ctp_api::tenants::create_client(&app, &tenant, "EDC partner", scopes, Default::default()).await.unwrap();

    let route = c.routes.iter().find(|r| r.path == "/v1/auth/token").cloned().expect("token route");
    let form = format!("grant_type=client_credentials&client_id={}&client_secret={secret}", client.id);
    let req = gateway_request("POST", "/v1/auth/token", &BTreeMap::new(), &[("content-type", "application/x-www-form-urlencoded")], &[], Some(&form));
    let a = call(&app, "auth", req).await;
    conforms(&c.doc, &route, &a);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["scope"], "studies:read");
    let token = a.body["access_token"].as_str().unwrap_or_default().to_owned();

    let a = c.send(Some(&token), "GET", "/v1/me", &BTreeMap::new(), &[], &[], None).await;
    assert_eq!(a.body["kind"], "client");
    let a = c.send(Some(&token), "GET", "/v1/studies", &BTreeMap::new(), &[], &[], None).await;
    assert_eq!(a.status, 200);

    let bad = "grant_type=password&client_id=x&client_secret=y";
    let req = gateway_request("POST", "/v1/auth/token", &BTreeMap::new(), &[("content-type", "application/x-www-form-urlencoded")], &[], Some(bad));
    let a = call(&app, "auth", req).await;
    conforms(&c.doc, &route, &a);
    assert_eq!(a.body["type"], "urn:ctp:problem:unsupported-grant-type");
    let wrong = format!("grant_type=client_credentials&client_id={}&client_secret=nope", client.id);
    let req = gateway_request("POST", "/v1/auth/token", &BTreeMap::new(), &[("content-type", "application/x-www-form-urlencoded")], &[], Some(&wrong));
    let a = call(&app, "auth", req).await;
    conforms(&c.doc, &route, &a);
    assert_eq!(a.status, 401);
}
