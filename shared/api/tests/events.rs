//! Handler tests fed with the sample events in `events/`: each sample is a real API Gateway
//! v2.0 (or DynamoDB stream) payload; the test swaps in a live token and the demo's ids, then
//! checks what the handler answers.

use ctp_api::{App, Config, handle_http};
use serde_json::Value;

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
