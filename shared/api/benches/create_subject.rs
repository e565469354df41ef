//! Subject creation (and one read) through the handler, on the embedded SQLite store.
//!
//! Each benchmark builds its own App in a temp data dir, seeds the demo, logs in as the
//! acme-pharma coordinator through the `auth` function and finds the study and site 101 through
//! the `studies` and `sites` functions — the same calls a client makes. Then it times one full
//! `handle_http` call per iteration:
//!
//! * `create_subject`: POST /v1/studies/{studyId}/subjects with a fresh subject_number each
//!   iteration — token verification, user and membership lookup, site read, and one SQLite
//!   transaction (subject, subject-number uniqueness guard, site-unchanged check, audit entry,
//!   stream records) committed with synchronous=FULL.
//! * `get_subject`: GET /v1/studies/{studyId}/subjects/{subjectId} — token verification,
//!   membership lookup and one item read.
//!
//! Every iteration asserts the status code, so a broken path panics instead of producing a fast
//! number.
//!
//! Run: `cargo bench -p ctp-api --bench create_subject`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ctp_api::{App, Config, demo, handle_http};
use ctp_http::{Body, Request, Response};
use serde_json::{Value, json};

const TENANT: &str = "acme-pharma";
const ROLE: &str = "coordinator";

/// An API Gateway HTTP API payload v2.0 request, as the local gateway and AWS deliver it.
fn request(
    method: &str,
    route_key_path: &str,
    path: &str,
    path_params: Value,
    token: Option<&str>,
    body: Option<&Value>,
    request_id: &str,
) -> Request {
    let mut headers = json!({ "content-type": "application/json", "user-agent": "ctp-bench" });
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    let route_key = format!("{method} {route_key_path}");
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "pathParameters": path_params,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 1735689600000i64,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "ctp-bench"
            }
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid v2.0 request")
}

fn body_json(resp: &Response<Body>) -> Value {
    serde_json::from_slice(ctp_http::request::body_bytes_of(resp.body())).expect("a JSON body")
}

fn expect_status(resp: &Response<Body>, status: u16, what: &str) {
    if resp.status().as_u16() != status {
        panic!(
            "{what}: expected {status}, got {} {}",
            resp.status(),
            String::from_utf8_lossy(ctp_http::request::body_bytes_of(resp.body()))
        );
    }
}

/// A seeded data dir, the coordinator's token, and the study and site 101 found through the API.
struct Fixture {
    _dir: tempfile::TempDir,
    app: App,
    token: String,
    study_id: String,
    site_id: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        issuer: "http://127.0.0.1:8080".into(),
        audience: "ctp-api".into(),
        region: "eu-central-1".into(),
    };
    let (app, _store) = App::local(dir.path(), config).expect("local app");
    let logins = demo::seed(&app).await.expect("demo seed");
    let login = logins
        .iter()
        .find(|l| l.tenant == TENANT && l.role == ROLE)
        .expect("a demo coordinator in acme-pharma");

    let resp = handle_http(
        &app,
        "auth",
        request(
            "POST",
            "/v1/auth/login",
            "/v1/auth/login",
            Value::Null,
            None,
            Some(&json!({ "email": login.email, "password": login.password })),
            "setup-login",
        ),
    )
    .await;
    expect_status(&resp, 200, "login");
    let token = body_json(&resp)["access_token"].as_str().expect("access_token").to_owned();

    let resp = handle_http(
        &app,
        "studies",
        request("GET", "/v1/studies", "/v1/studies", Value::Null, Some(&token), None, "setup-studies"),
    )
    .await;
    expect_status(&resp, 200, "list studies");
    let studies = body_json(&resp);
    let items = studies["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "the coordinator sees one demo study: {studies}");
    let study_id = items[0]["id"].as_str().expect("study id").to_owned();

    let sites_path = format!("/v1/studies/{study_id}/sites");
    let resp = handle_http(
        &app,
        "sites",
        request(
            "GET",
            "/v1/studies/{studyId}/sites",
            &sites_path,
            json!({ "studyId": study_id }),
            Some(&token),
            None,
            "setup-sites",
        ),
    )
    .await;
    expect_status(&resp, 200, "list sites");
    let sites = body_json(&resp);
    let site_id = sites["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| s["site_number"] == "101")
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("site 101 among the coordinator's sites: {sites}"))
        .to_owned();

    Fixture { _dir: dir, app, token, study_id, site_id }
}

fn create_request(f: &Fixture, subject_number: &str, request_id: &str) -> Request {
    let path = format!("/v1/studies/{}/subjects", f.study_id);
    request(
        "POST",
        "/v1/studies/{studyId}/subjects",
        &path,
        json!({ "studyId": f.study_id }),
        Some(&f.token),
        Some(&json!({ "subject_number": subject_number, "site_id": f.site_id })),
        request_id,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

fn bench_create_subject(c: &mut Criterion) {
    let rt = runtime();
    let f = rt.block_on(fixture());
    let mut group = c.benchmark_group("subjects");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    let mut n: u64 = 0;
    group.bench_function("create_subject", |b| {
        b.iter(|| {
            n += 1;
            // Building the request is part of the iteration; it is small next to the handler.
            let req = create_request(&f, &format!("B-{n:07}"), &format!("bench-create-{n}"));
            let resp = rt.block_on(handle_http(&f.app, "subjects", req));
            expect_status(&resp, 201, "create subject");
            black_box(resp)
        })
    });
    group.finish();
    eprintln!("create_subject: {n} subjects created in total (warm-up and measurement)");
}

fn bench_get_subject(c: &mut Criterion) {
    let rt = runtime();
    let f = rt.block_on(fixture());
    let resp = rt.block_on(handle_http(&f.app, "subjects", create_request(&f, "R-0000001", "setup-create")));
    expect_status(&resp, 201, "create subject to read");
    let subject_id = body_json(&resp)["id"].as_str().expect("subject id").to_owned();
    let path = format!("/v1/studies/{}/subjects/{subject_id}", f.study_id);

    let mut group = c.benchmark_group("subjects");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    let mut n: u64 = 0;
    group.bench_function("get_subject", |b| {
        b.iter(|| {
            n += 1;
            let req = request(
                "GET",
                "/v1/studies/{studyId}/subjects/{subjectId}",
                &path,
                json!({ "studyId": f.study_id, "subjectId": subject_id }),
                Some(&f.token),
                None,
                &format!("bench-get-{n}"),
            );
            let resp = rt.block_on(handle_http(&f.app, "subjects", req));
            expect_status(&resp, 200, "get subject");
            black_box(resp)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_create_subject, bench_get_subject);
criterion_main!(benches);
