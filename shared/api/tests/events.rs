//! Handler tests fed with the sample events in `events/`: each sample is a real API Gateway
//! v2.0 (or DynamoDB stream) payload; the test swaps in a live token and the demo's ids, then
//! checks what the handler answers.
//!
//! - Every route of template.yaml has exactly one sample, `<function>-<verb>.json`, named after
//!   the function the template routes it to, and shaped as API Gateway sends that route.
//! - Every API sample, fed to its function on the seeded demo, gets the status its route
//!   promises (and docs/openapi.json documents).
//! - The stream sample is archived once, however often it is delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ctp_api::{App, Config, handle_http};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample exists")).expect("sample is JSON")
}

fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).expect("a v2.0 request")
}

async fn call(app: &App, function: &str, event: &Value) -> (u16, Value) {
    let resp = handle_http(app, function, request(event)).await;
    let status = resp.status().as_u16();
    let body = match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

fn with_token(mut event: Value, token: &str) -> Value {
    event["headers"]["authorization"] = Value::String(format!("Bearer {token}"));
    event
}

fn in_study(mut event: Value, study: &str) -> Value {
    let old = event["pathParameters"]["studyId"].as_str().unwrap().to_owned();
    event["pathParameters"]["studyId"] = Value::String(study.to_owned());
    let path = event["rawPath"].as_str().unwrap().replace(&old, study);
    event["rawPath"] = Value::String(path.clone());
    event["requestContext"]["http"]["path"] = Value::String(path);
    event
}

async fn login(app: &App, logins: &[ctp_api::demo::DemoLogin], role: &str) -> String {
    let l = logins.iter().find(|l| l.tenant == "acme-pharma" && l.role == role).unwrap();
    let mut e = sample("auth-login.json");
    e["body"] = Value::String(serde_json::json!({"email": l.email, "password": l.password}).to_string());
    let (status, body) = call(app, "auth", &e).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_http_sample_event_is_answered_by_its_handler() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { issuer: "http://test".into(), audience: "ctp-api".into(), region: "eu-central-1".into() };
    let (app, _) = App::local(dir.path(), config).unwrap();
    let logins = ctp_api::demo::seed(&app).await.unwrap();

    // As recorded, the login sample names a password that is not the seeded one.
    let (status, body) = call(&app, "auth", &sample("auth-login.json")).await;
    assert_eq!((status, body["type"].as_str()), (401, Some("urn:ctp:problem:invalid-credentials")));
    // As recorded, the token in the samples is not one this platform signed.
    let (status, _) = call(&app, "studies", &sample("studies-list.json")).await;
    assert_eq!(status, 401);

    let (status, body) = call(&app, "health", &sample("health-get.json")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let admin = login(&app, &logins, "tenant_admin").await;
    let (status, body) = call(&app, "users", &with_token(sample("users-list.json"), &admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 6);

    let coord = login(&app, &logins, "coordinator").await;
    let (status, body) = call(&app, "studies", &with_token(sample("studies-list.json"), &coord)).await;
    assert_eq!(status, 200);
    let study = body["items"][0]["id"].as_str().unwrap().to_owned();

    let (status, body) = call(&app, "sites", &in_study(with_token(sample("sites-list.json"), &coord), &study)).await;
    assert_eq!(status, 200);
    let site = body["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "the coordinator is scoped to one site");

    let mut create = in_study(with_token(sample("subjects-create.json"), &coord), &study);
    create["body"] = Value::String(serde_json::json!({"subject_number": "101-001", "site_id": site}).to_string());
    let (status, body) = call(&app, "subjects", &create).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "screening");

    let dm = login(&app, &logins, "data_manager").await;
    let (status, body) = call(&app, "members", &in_study(with_token(sample("members-list.json"), &dm), &study)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 5);

    let (status, body) = call(&app, "audit", &in_study(with_token(sample("audit-list.json"), &dm), &study)).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert!(items.iter().all(|e| e["entity_type"] == "subject"));
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn the_stream_sample_is_archived_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { issuer: "http://test".into(), audience: "ctp-api".into(), region: "eu-central-1".into() };
    let (app, _) = App::local(dir.path(), config).unwrap();
    let event: aws_lambda_events::dynamodb::Event = serde_json::from_value(sample("stream-audit-insert.json")).unwrap();
    for _ in 0..2 {
        // Redelivery of the same batch is harmless.
        let resp = ctp_api::handle_stream(&app, "audit-archiver", event.clone()).await.unwrap();
        assert!(resp.batch_item_failures.is_empty());
    }
    let key = "audit/acme/0193a6b0-0000-7000-8000-000000000001/2026-12-04/0193a6b0-0000-7000-8000-0000000000aa.json";
    let stored: Value = serde_json::from_slice(&app.objects.get(key).await.unwrap().expect("archived")).unwrap();
    assert_eq!(stored["actor"]["name"], "Ada Admin");
    assert_eq!(stored["changes"][0]["new"], "Cardio 301");

    // A record that cannot be decoded is reported for retry, not dropped.
    let mut broken = event.clone();
    broken.records[0].event_name = "UPSERT".into();
    let resp = ctp_api::handle_stream(&app, "audit-archiver", broken).await.unwrap();
    assert_eq!(resp.batch_item_failures.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// One sample per route: the samples in events/ are the routes of template.yaml, each once.

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// Every sample in events/: file name → event.
fn all_samples() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(events_dir()).expect("events/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name").to_owned();
        out.insert(name.clone(), sample(&name));
    }
    out
}

/// An API Gateway HTTP API (payload v2.0) request sample, as opposed to a stream batch.
fn is_api_sample(event: &Value) -> bool {
    event["version"] == "2.0" && event["routeKey"].is_string()
}

fn api_samples() -> BTreeMap<String, Value> {
    all_samples().into_iter().filter(|(_, e)| is_api_sample(e)).collect()
}

/// A route of template.yaml: the function API Gateway hands it to, and whether it is public.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    function: String,
    public: bool,
}

fn template() -> Yaml {
    let raw = std::fs::read_to_string(events_dir().join("../template.yaml")).expect("template.yaml is readable");
    // !Ref, !GetAtt and !Sub become Yaml::Tagged values; nothing read here is tagged.
    serde_norway::from_str(&raw).expect("template.yaml parses")
}

fn yaml_str<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

/// The template's functions (the directory under functions/) with the types of their events.
fn template_functions(t: &Yaml) -> BTreeMap<String, Vec<String>> {
    let resources = t.get("Resources").and_then(Yaml::as_mapping).expect("Resources");
    let mut out = BTreeMap::new();
    for (_, res) in resources.iter().filter(|(_, r)| yaml_str(r, "Type") == Some("AWS::Serverless::Function")) {
        let props = res.get("Properties").expect("function properties");
        let code_uri = yaml_str(props, "CodeUri").expect("a plain CodeUri");
        let name = code_uri.strip_prefix("functions/").expect("CodeUri is functions/<name>").trim_end_matches('/');
        let types = props
            .get("Events")
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(_, ev)| yaml_str(ev, "Type").map(str::to_owned))
            .collect();
        out.insert(name.to_owned(), types);
    }
    out
}

/// The template's routes: `METHOD /path` → route.
fn template_routes(t: &Yaml) -> BTreeMap<String, Route> {
    let resources = t.get("Resources").and_then(Yaml::as_mapping).expect("Resources");
    let mut out = BTreeMap::new();
    for (_, res) in resources.iter().filter(|(_, r)| yaml_str(r, "Type") == Some("AWS::Serverless::Function")) {
        let props = res.get("Properties").expect("function properties");
        let function = yaml_str(props, "CodeUri").and_then(|c| c.strip_prefix("functions/")).expect("CodeUri is functions/<name>");
        for (_, ev) in props.get("Events").and_then(Yaml::as_mapping).into_iter().flatten() {
            if yaml_str(ev, "Type") != Some("HttpApi") {
                continue;
            }
            let p = ev.get("Properties").expect("HttpApi event properties");
            let key = format!("{} {}", yaml_str(p, "Method").expect("Method").to_uppercase(), yaml_str(p, "Path").expect("Path"));
            let public = p.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Yaml::as_str) == Some("NONE");
            let route = Route { function: function.trim_end_matches('/').to_owned(), public };
            assert!(out.insert(key.clone(), route).is_none(), "{key} is declared twice in template.yaml");
        }
    }
    out
}

/// The function a sample is named after: `<function>-<verb>.json`, longest function name first
/// (so `audit-archiver-…` would not be taken for `audit`).
fn function_of_file<'a>(file: &str, functions: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let stem = file.strip_suffix(".json")?;
    functions
        .into_iter()
        .filter(|f| stem.strip_prefix(f.as_str()).is_some_and(|rest| rest.starts_with('-') && rest.len() > 1))
        .max_by_key(|f| f.len())
        .cloned()
}

fn path_params(route_path: &str) -> BTreeSet<&str> {
    route_path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

#[test]
fn every_route_of_the_template_has_exactly_one_sample_named_after_its_function() {
    let t = template();
    let routes = template_routes(&t);
    let functions = template_functions(&t);
    let samples = all_samples();

    // Every sample is an API Gateway v2.0 request, a DynamoDB stream batch or an EventBridge
    // scheduled event.
    let is_schedule = |e: &Value| e["source"] == "aws.events" && e["detail-type"] == "Scheduled Event";
    for (file, event) in &samples {
        if !is_api_sample(event) && !is_schedule(event) {
            let records = event["Records"].as_array().unwrap_or_else(|| panic!("{file} is neither a v2.0 request, a stream batch nor a schedule"));
            assert!(!records.is_empty() && records.iter().all(|r| r["eventSource"] == "aws:dynamodb"), "{file}: a DynamoDB stream batch");
        }
    }
    let has_trigger = |kind: &str| functions.values().any(|types| types.iter().any(|t| t == kind));
    assert!(
        samples.values().any(|e| !is_api_sample(e) && !is_schedule(e)) == has_trigger("DynamoDB"),
        "a stream sample exists exactly when a function of the template consumes the table's stream"
    );
    assert!(
        samples.values().any(is_schedule) == has_trigger("Schedule"),
        "a schedule sample exists exactly when a function of the template runs on a schedule"
    );

    // The samples' route keys are the template's routes, each exactly once.
    let mut by_route: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (file, event) in samples.iter().filter(|(_, e)| is_api_sample(e)) {
        by_route.entry(event["routeKey"].as_str().unwrap().to_owned()).or_default().push(file);
    }
    let twice: Vec<_> = by_route.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(twice.is_empty(), "routes with more than one sample: {twice:?}");
    let sampled: BTreeSet<&String> = by_route.keys().collect();
    let declared: BTreeSet<&String> = routes.keys().collect();
    let unsampled: Vec<_> = declared.difference(&sampled).collect();
    let undeclared: Vec<_> = sampled.difference(&declared).collect();
    assert!(unsampled.is_empty() && undeclared.is_empty(), "routes without a sample: {unsampled:?}; samples of no route: {undeclared:?}");

    for (key, files) in &by_route {
        let (file, route) = (files[0], &routes[key]);
        let event = &samples[file];
        // Named after the function the template routes it to.
        assert_eq!(function_of_file(file, functions.keys()).as_deref(), Some(route.function.as_str()), "{file}: {key} belongs to {}", route.function);

        // A request API Gateway could have sent for this route.
        let (method, route_path) = key.split_once(' ').unwrap();
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"], "{file}: requestContext.routeKey");
        assert_eq!(event["requestContext"]["http"]["method"], method, "{file}: requestContext.http.method");
        assert_eq!(event["requestContext"]["http"]["path"], event["rawPath"], "{file}: requestContext.http.path");
        assert_eq!(event["isBase64Encoded"], false, "{file}: isBase64Encoded");
        let params: BTreeMap<String, String> = serde_json::from_value(event.get("pathParameters").cloned().unwrap_or(json!({})))
            .unwrap_or_else(|_| panic!("{file}: pathParameters are strings"));
        assert_eq!(params.keys().map(String::as_str).collect::<BTreeSet<_>>(), path_params(route_path), "{file}: pathParameters");
        let filled = params.iter().fold(route_path.to_owned(), |p, (name, value)| p.replace(&format!("{{{name}}}"), value));
        assert_eq!(event["rawPath"], filled.as_str(), "{file}: rawPath is the route's path with the pathParameters");
        if let Some(body) = event.get("body") {
            assert!(body.is_string(), "{file}: the body is a string");
            assert!(event["headers"]["content-type"].is_string(), "{file}: a body comes with its content-type");
        }
        assert_eq!(event["headers"].get("authorization").is_some(), !route.public, "{file}: a bearer token exactly on the non-public routes");
        let parsed = request(event);
        assert_eq!(ctp_http::request::meta(&parsed).route_key, *key, "{file}: lambda_http reads the route key");
    }
}

// ---------------------------------------------------------------------------------------------
// Every API sample, fed to its function on the seeded demo, gets the answer the route promises.

/// The placeholders the samples were recorded with.
const STUDY: &str = "0193a6b0-0000-7000-8000-000000000001";
const SITE: &str = "0193a6b0-0000-7000-8000-000000000002";
const USER: &str = "0193a6b0-0000-7000-8000-000000000003";
const SUBJECT: &str = "0193a6b0-0000-7000-8000-000000000004";
const MEMBER: &str = "0193a6b0-0000-7000-8000-000000000005";
const CLIENT: &str = "0193a6b0-0000-7000-8000-000000000006";
const CLIENT_SECRET: &str = "cts__ywy2ZSnviVYwd2f6eTcuUGB1mFWzSZg1XmYV1sfh1w";
const PASSWORD: &str = "Demo-password-from-seed";

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Value,
}

/// Feeds samples to the functions the template routes them to, with the placeholders replaced
/// by the live values bound so far, and remembers which samples were fed.
struct Replay<'a> {
    app: &'a App,
    routes: BTreeMap<String, Route>,
    doc: Value,
    bound: Vec<(&'static str, String)>,
    fed: BTreeSet<String>,
}

impl Replay<'_> {
    /// From now on, `placeholder` in a sample means `live`.
    fn bind(&mut self, placeholder: &'static str, live: &str) {
        self.bound.retain(|(p, _)| *p != placeholder);
        self.bound.push((placeholder, live.to_owned()));
    }

    /// Feed `file` as the holder of `token` (a public route: `None`), with `headers` set, and
    /// expect `status`, which docs/openapi.json must document for the route.
    async fn expect(&mut self, file: &str, token: Option<&str>, headers: &[(&str, &str)], status: u16) -> Answer {
        let mut text = sample(file).to_string();
        for (placeholder, live) in &self.bound {
            text = text.replace(placeholder, live);
        }
        let mut event: Value = serde_json::from_str(&text).unwrap();
        if let Some(t) = token {
            event = with_token(event, t);
        }
        for (name, value) in headers {
            event["headers"][*name] = Value::String((*value).to_owned());
        }
        let key = event["routeKey"].as_str().unwrap().to_owned();
        let route = self.routes.get(&key).unwrap_or_else(|| panic!("{file}: {key} is not in template.yaml")).clone();
        let (method, path) = key.split_once(' ').unwrap();
        assert!(
            self.doc["paths"][path][method.to_lowercase()]["responses"].get(status.to_string()).is_some(),
            "{file}: docs/openapi.json does not document {status} for {key}"
        );

        let resp = handle_http(self.app, &route.function, request(&event)).await;
        let bytes = ctp_http::request::body_bytes_of(resp.body());
        let answer = Answer {
            status: resp.status().as_u16(),
            etag: resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned),
            body: if bytes.is_empty() { Value::Null } else { serde_json::from_slice(bytes).unwrap_or(Value::Null) },
        };
        assert_eq!(answer.status, status, "{file} ({key} by {}): {}", route.function, answer.body);
        self.fed.insert(file.to_owned());
        answer
    }
}

impl Answer {
    fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("an id in {}", self.body)).to_owned()
    }
    fn etag(&self) -> String {
        self.etag.clone().unwrap_or_else(|| panic!("an ETag with {}", self.body))
    }
}

#[tokio::test]
async fn every_api_sample_gets_the_answer_its_route_promises() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { issuer: "http://test".into(), audience: "ctp-api".into(), region: "eu-central-1".into() };
    let (app, _) = App::local(dir.path(), config).unwrap();
    let logins = ctp_api::demo::seed(&app).await.unwrap();
    let password_of = |role: &str| logins.iter().find(|l| l.tenant == "acme-pharma" && l.role == role).unwrap().password.clone();
    let tenant = ctp_domain::ids::TenantId::parse("acme-pharma").unwrap();
    let scopes = [ctp_domain::permissions::Scope::StudiesRead].into();
    let (client, secret) = ctp_api::tenants::create_client(&app, &tenant, "EDC partner", scopes, Default::default()).await.unwrap();
    let mut run = Replay { app: &app, routes: template_routes(&template()), doc: serde_json::from_str(ctp_api::health::OPENAPI).unwrap(), bound: Vec::new(), fed: BTreeSet::new() };
    let none: &[(&str, &str)] = &[];

    // Public routes answer without a token.
    let a = run.expect("health-get.json", None, none, 200).await;
    assert_eq!(a.body["status"], "ok");
    let a = run.expect("health-openapi.json", None, none, 200).await;
    assert_eq!(a.body["openapi"], "3.1.0");
    let a = run.expect("auth-jwks.json", None, none, 200).await;
    assert_eq!(a.body["keys"][0]["alg"], "ES256", "{}", a.body);
    let a = run.expect("auth-openid.json", None, none, 200).await;
    assert_eq!(a.body["jwks_uri"], "http://test/.well-known/jwks.json", "API Gateway finds the keys from the issuer");

    // The login sample is the coordinator's; with the seeded password it signs them in.
    run.bind(PASSWORD, &password_of("coordinator"));
    let a = run.expect("auth-login.json", None, none, 200).await;
    assert_eq!(a.body["token_type"], "Bearer");
    let coord = a.body["access_token"].as_str().unwrap().to_owned();

    // The token sample is a partner's client_credentials request, form-encoded.
    run.bind(CLIENT, client.id.as_str());
    run.bind(CLIENT_SECRET, &secret);
    let a = run.expect("auth-token.json", None, none, 200).await;
    assert_eq!(a.body["scope"], "studies:read");

    let a = run.expect("auth-me.json", Some(&coord), none, 200).await;
    assert_eq!((a.body["kind"].as_str(), a.body["memberships"].as_array().map(Vec::len)), (Some("user"), Some(1)));

    // Users: tenant admin only.
    let admin = login(&app, &logins, "tenant_admin").await;
    let a = run.expect("users-list.json", Some(&admin), none, 200).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 6, "one demo user per role");
    let a = run.expect("users-create.json", Some(&admin), none, 201).await;
    assert_eq!((a.body["email"].as_str(), a.etag.as_deref()), (Some("mona.becker@acme.example"), Some("\"1\"")));
    run.bind(USER, &a.id());
    let etag = run.expect("users-get.json", Some(&admin), none, 200).await.etag();
    let a = run.expect("users-update.json", Some(&admin), &[("if-match", &etag)], 200).await;
    assert_eq!((a.body["name"].as_str(), a.etag.as_deref()), (Some("Mona Becker-Schulz"), Some("\"2\"")));

    // Studies: the coordinator sees the demo study; the admin creates one; the data manager
    // changes the active demo study's configuration, with a reason.
    let dm = login(&app, &logins, "data_manager").await;
    let a = run.expect("studies-list.json", Some(&coord), none, 200).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    run.bind(STUDY, a.body["items"][0]["id"].as_str().unwrap());
    let a = run.expect("studies-create.json", Some(&admin), none, 201).await;
    assert_eq!((a.body["protocol_id"].as_str(), a.body["status"].as_str()), (Some("ACME-302"), Some("draft")));
    let etag = run.expect("studies-get.json", Some(&coord), none, 200).await.etag();
    let a = run.expect("studies-update.json", Some(&dm), &[("if-match", &etag)], 200).await;
    assert!(a.body["title"].as_str().unwrap().contains("placebo-controlled"), "{}", a.body);

    // Sites: the coordinator sees their own site only; the data manager adds and changes sites.
    let a = run.expect("sites-list.json", Some(&coord), none, 200).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "the coordinator is scoped to one site");
    run.bind(SITE, a.body["items"][0]["id"].as_str().unwrap());
    let a = run.expect("sites-create.json", Some(&dm), none, 201).await;
    assert_eq!((a.body["site_number"].as_str(), a.body["status"].as_str()), (Some("301"), Some("pending")));
    let etag = run.expect("sites-get.json", Some(&coord), none, 200).await.etag();
    let a = run.expect("sites-update.json", Some(&dm), &[("if-match", &etag)], 200).await;
    assert_eq!(a.body["enrollment_cap"], 40);

    // Members: the new user joins the coordinator's site, then leaves it.
    let a = run.expect("members-list.json", Some(&dm), none, 200).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 5, "every demo role but the tenant admin");
    let a = run.expect("members-create.json", Some(&dm), none, 201).await;
    assert_eq!(a.body["role"], "investigator");
    run.bind(MEMBER, &a.id());
    let a = run.expect("members-remove.json", Some(&dm), none, 204).await;
    assert!(a.body.is_null());

    // Subjects: the coordinator screens a subject at their site and enrols them.
    let a = run.expect("subjects-create.json", Some(&coord), none, 201).await;
    assert_eq!(a.body["status"], "screening");
    run.bind(SUBJECT, &a.id());
    let a = run.expect("subjects-list.json", Some(&coord), none, 200).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    let etag = run.expect("subjects-get.json", Some(&coord), none, 200).await.etag();
    let a = run.expect("subjects-update.json", Some(&coord), &[("if-match", &etag)], 200).await;
    assert_eq!((a.body["status"].as_str(), a.body["consent_date"].as_str()), (Some("enrolled"), Some("2026-12-03")));

    // Audit: the sample asks for the subjects' entries, which are the screening and the enrolment.
    let a = run.expect("audit-list.json", Some(&dm), none, 200).await;
    let actions: Vec<&str> = a.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "update"], "{}", a.body);

    // Last, the coordinator changes their password: every token issued before stops working.
    let a = run.expect("auth-password.json", Some(&coord), none, 204).await;
    assert!(a.body.is_null());
    let (status, _) = call(&app, "auth", &with_token(sample("auth-me.json"), &coord)).await;
    assert_eq!(status, 401, "the old token is revoked");

    let all: BTreeSet<String> = api_samples().into_keys().collect();
    let unfed: Vec<_> = all.difference(&run.fed).collect();
    assert!(unfed.is_empty(), "API samples this test does not feed: {unfed:?}");
}
