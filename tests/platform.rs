//! End to end: the platform as a user meets it, over HTTP against `ctp serve`.

mod support;

use serde_json::{Value, json};
use support::{Platform, assert_problem};

const ACME: &str = "acme-pharma";
const BOREALIS: &str = "borealis-cro";

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// Screen a subject at a site as the given (site staff) token; returns the subject.
fn screen(p: &Platform, token: &str, study: &str, site: &str, number: &str) -> Value {
    let r = p.post(Some(token), &format!("/v1/studies/{study}/subjects"), &json!({"subject_number": number, "site_id": site}));
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

#[test]
fn a_study_is_set_up_run_and_its_audit_trail_shows_every_change() {
    let p = Platform::start();
    let admin = p.token(ACME, "tenant_admin");

    // The admin creates a study; a draft changes freely.
    let created = p.post(Some(&admin), "/v1/studies", &json!({"protocol_id": "CARDIO-301", "title": "Cardio outcomes", "phase": "phase3"}));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "draft");
    let study = created.body["id"].as_str().unwrap().to_owned();
    let dup = p.post(Some(&admin), "/v1/studies", &json!({"protocol_id": "cardio-301", "title": "Again", "phase": "phase3"}));
    assert_problem(&dup, 409, "conflict");

    let mut sites = Vec::new();
    for (n, country) in [("101", "DE"), ("102", "FR")] {
        let r = p.post(
            Some(&admin),
            &format!("/v1/studies/{study}/sites"),
            &json!({"site_number": n, "name": format!("Site {n}"), "country": country, "principal_investigator": "Dr. P", "enrollment_cap": 1}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        sites.push((r.body["id"].as_str().unwrap().to_owned(), r.etag.clone().unwrap()));
    }

    // Activation; from now on configuration changes need a reason.
    let s = p.get(Some(&admin), &format!("/v1/studies/{study}"));
    let r = p.patch(&admin, &format!("/v1/studies/{study}"), s.etag.as_deref().unwrap(), &json!({"status": "active"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = p.patch(&admin, &format!("/v1/studies/{study}"), r.etag.as_deref().unwrap(), &json!({"status": "draft", "reason": "oops"}));
    assert_problem(&bad, 409, "invalid-transition");
    assert_eq!(bad.body["allowed"], json!(["closed"]));
    let (site1, etag1) = &sites[0];
    let no_reason = p.patch(&admin, &format!("/v1/studies/{study}/sites/{site1}"), etag1, &json!({"status": "active"}));
    assert_problem(&no_reason, 422, "reason-required");
    let r = p.patch(&admin, &format!("/v1/studies/{study}/sites/{site1}"), etag1, &json!({"status": "active", "reason": "SIV done"}));
    assert_eq!(r.status, 200, "{}", r.body);

    // A new investigator, scoped to site 101.
    let password = "Tidal-Marble-Orchid-77";
    let user = p.post(Some(&admin), "/v1/users", &json!({"email": "ines@site101.example", "name": "Dr. Ines Roth", "password": password}));
    assert_eq!(user.status, 201, "{}", user.body);
    let member = p.post(
        Some(&admin),
        &format!("/v1/studies/{study}/members"),
        &json!({"user_id": user.body["id"], "role": "investigator", "site_id": site1, "reason": "delegation log signed"}),
    );
    assert_eq!(member.status, 201, "{}", member.body);
    let login = p.post(None, "/v1/auth/login", &json!({"email": "ines@site101.example", "password": password}));
    let inv = login.body["access_token"].as_str().unwrap().to_owned();

    // Screening, then enrolment: consent first, and a reason for every change.
    let subject = screen(&p, &inv, &study, site1, "101-001");
    let sid = subject["id"].as_str().unwrap();
    let path = format!("/v1/studies/{study}/subjects/{sid}");
    let got = p.get(Some(&inv), &path);
    assert_eq!(got.etag.as_deref(), Some("\"1\""));
    let no_consent = p.patch(&inv, &path, "\"1\"", &json!({"status": "enrolled", "reason": "eligible"}));
    assert_problem(&no_consent, 409, "rule-violation");
    let no_reason = p.patch(&inv, &path, "\"1\"", &json!({"consent_date": today()}));
    assert_problem(&no_reason, 422, "reason-required");
    let enrolled = p.patch(&inv, &path, "\"1\"", &json!({"status": "enrolled", "consent_date": "2026-01-05", "reason": "eligible, consent signed"}));
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    assert_eq!(enrolled.body["status"], "enrolled");
    // Correcting a value with a reason.
    let corrected = p.patch(&inv, &path, "\"2\"", &json!({"consent_date": "2026-01-04", "reason": "transcription error, see ICF"}));
    assert_eq!(corrected.status, 200, "{}", corrected.body);

    // The cap of site 101 is 1: a second enrolment is refused, naming the cap.
    let second = screen(&p, &inv, &study, site1, "101-002");
    let second_path = format!("/v1/studies/{study}/subjects/{}", second["id"].as_str().unwrap());
    let capped = p.patch(&inv, &second_path, "\"1\"", &json!({"status": "enrolled", "consent_date": today(), "reason": "eligible"}));
    assert_problem(&capped, 409, "rule-violation");
    assert!(capped.body["detail"].as_str().unwrap().contains("enrollment cap"));

    // The audit trail of the subject: who, what, old and new values, why.
    let trail = p.get(Some(&admin), &format!("/v1/studies/{study}/audit?entity_type=subject&entity_id={sid}"));
    assert_eq!(trail.status, 200, "{}", trail.body);
    let items = trail.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "update", "update"]);
    let correction = &items[2];
    assert_eq!(correction["reason"], "transcription error, see ICF");
    assert_eq!(correction["actor"]["name"], "Dr. Ines Roth");
    assert_eq!(correction["actor"]["role"], "investigator");
    assert_eq!(correction["changes"], json!([{"field": "consent_date", "old": "2026-01-05", "new": "2026-01-04"}]));
    let enrolment = &items[1];
    assert!(enrolment["changes"].as_array().unwrap().iter().any(|c| c["field"] == "status" && c["old"] == "screening" && c["new"] == "enrolled"));
    for e in items {
        assert!(e["at"].as_str().unwrap().ends_with('Z'));
        assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
        assert_eq!(e["client_ip"], "127.0.0.1");
    }

    // Filters and paging over the whole study trail.
    let updates = p.get(Some(&admin), &format!("/v1/studies/{study}/audit?action=update&actor={}", user.body["id"].as_str().unwrap()));
    // Two subject updates, and the site whose enrolled count the enrolment took a place from.
    let mut kinds: Vec<&str> = updates.body["items"].as_array().unwrap().iter().map(|e| e["entity_type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["site", "subject", "subject"]);
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor { Some(c) => format!("&cursor={c}"), None => String::new() };
        let page = p.get(Some(&admin), &format!("/v1/studies/{study}/audit?limit=2{q}"));
        assert_eq!(page.status, 200, "{}", page.body);
        seen += page.body["items"].as_array().unwrap().len();
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // study create+update, 2 sites, site update, member, 2 subjects, 2 subject updates, site count.
    assert!(seen >= 11, "saw {seen} entries");
    let future = p.get(Some(&admin), &format!("/v1/studies/{study}/audit?from=2999-01-01T00:00:00Z"));
    assert_eq!(future.body["items"], json!([]));
}

#[test]
fn another_tenants_ids_answer_404_on_every_route() {
    let p = Platform::start();
    let acme = p.token(ACME, "data_manager");
    let (study, sites) = p.demo_study(&acme);
    let site = sites[0]["id"].as_str().unwrap();
    let coord = p.token(ACME, "coordinator");
    let subject = screen(&p, &coord, &study, site, "101-900");
    let sid = subject["id"].as_str().unwrap();
    let members = p.get(Some(&acme), &format!("/v1/studies/{study}/members"));
    let member = members.body["items"][0]["id"].as_str().unwrap().to_owned();
    let me = p.get(Some(&acme), "/v1/me");
    let acme_user = me.body["user"]["id"].as_str().unwrap().to_owned();

    for role in ["tenant_admin", "data_manager", "monitor", "coordinator"] {
        let other = p.token(BOREALIS, role);
        let body = json!({"reason": "x"});
        let cases: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", format!("/v1/studies/{study}"), None),
            ("PATCH", format!("/v1/studies/{study}"), Some(json!({"title": "mine", "reason": "x"}))),
            ("GET", format!("/v1/studies/{study}/sites"), None),
            ("POST", format!("/v1/studies/{study}/sites"), Some(json!({"site_number": "9", "name": "n", "country": "DE", "principal_investigator": "p", "enrollment_cap": 1, "reason": "x"}))),
            ("GET", format!("/v1/studies/{study}/sites/{site}"), None),
            ("PATCH", format!("/v1/studies/{study}/sites/{site}"), Some(body.clone())),
            ("GET", format!("/v1/studies/{study}/members"), None),
            ("POST", format!("/v1/studies/{study}/members"), Some(json!({"user_id": acme_user, "role": "viewer", "reason": "x"}))),
            ("DELETE", format!("/v1/studies/{study}/members/{member}"), Some(body.clone())),
            ("GET", format!("/v1/studies/{study}/subjects"), None),
            ("POST", format!("/v1/studies/{study}/subjects"), Some(json!({"subject_number": "1", "site_id": site}))),
            ("GET", format!("/v1/studies/{study}/subjects/{sid}"), None),
            ("PATCH", format!("/v1/studies/{study}/subjects/{sid}"), Some(body.clone())),
            ("GET", format!("/v1/studies/{study}/audit"), None),
        ];
        for (method, path, body) in cases {
            let r = p.request(method, Some(&other), &path, body.as_ref(), &[("if-match", "\"1\"")]);
            assert_problem(&r, 404, "not-found");
        }
        if role == "tenant_admin" {
            for (method, body) in [("GET", None), ("PATCH", Some(json!({"name": "x"})))] {
                let r = p.request(method, Some(&other), &format!("/v1/users/{acme_user}"), body.as_ref(), &[("if-match", "\"1\"")]);
                assert_problem(&r, 404, "not-found");
            }
        }
    }
    // Nothing of acme's changed.
    let still = p.get(Some(&acme), &format!("/v1/studies/{study}"));
    assert_ne!(still.body["title"], "mine");
}

#[test]
fn roles_are_enforced_with_403_and_site_scope() {
    let p = Platform::start();
    let dm = p.token(ACME, "data_manager");
    let (study, sites) = p.demo_study(&dm);
    let (site1, site2) = (sites[0]["id"].as_str().unwrap(), sites[1]["id"].as_str().unwrap());
    let viewer = p.token(ACME, "viewer");
    let coord = p.token(ACME, "coordinator");
    let monitor = p.token(ACME, "monitor");
    let inv = p.token(ACME, "investigator");

    let r = p.post(Some(&viewer), &format!("/v1/studies/{study}/subjects"), &json!({"subject_number": "1", "site_id": site1}));
    assert_problem(&r, 403, "forbidden");
    let r = p.post(Some(&monitor), &format!("/v1/studies/{study}/sites"), &json!({"site_number": "9", "name": "n", "country": "DE", "principal_investigator": "p", "enrollment_cap": 1, "reason": "x"}));
    assert_problem(&r, 403, "forbidden");
    let r = p.get(Some(&inv), &format!("/v1/studies/{study}/audit"));
    assert_problem(&r, 403, "forbidden");
    let r = p.get(Some(&dm), "/v1/users");
    assert_problem(&r, 403, "forbidden");
    let r = p.post(Some(&dm), "/v1/studies", &json!({"protocol_id": "X-1", "title": "t", "phase": "phase1"}));
    assert_problem(&r, 403, "forbidden");
    let s = p.get(Some(&coord), &format!("/v1/studies/{study}"));
    let r = p.patch(&coord, &format!("/v1/studies/{study}"), s.etag.as_deref().unwrap(), &json!({"title": "x", "reason": "x"}));
    assert_problem(&r, 403, "forbidden");
    let admin = p.token(ACME, "tenant_admin");
    let r = p.get(Some(&admin), &format!("/v1/studies/{study}/subjects"));
    assert_problem(&r, 403, "forbidden");

    // Site scope: the coordinator works at site 101 only.
    let r = p.post(Some(&coord), &format!("/v1/studies/{study}/subjects"), &json!({"subject_number": "201-001", "site_id": site2}));
    assert_problem(&r, 403, "forbidden");
    let own = screen(&p, &coord, &study, site1, "101-001");
    // A subject at site 201, screened through the data path by someone allowed there: none of the
    // demo roles are, so the data manager adds a study-wide coordinator.
    let me = p.get(Some(&monitor), "/v1/me");
    let monitor_id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let add = p.post(Some(&dm), &format!("/v1/studies/{study}/members"), &json!({"user_id": monitor_id, "role": "coordinator", "site_id": site2, "reason": "covering site 201"}));
    assert_eq!(add.status, 201, "{}", add.body);
    let monitor = p.token(ACME, "monitor");
    let other = screen(&p, &monitor, &study, site2, "201-001");
    let listed = p.get(Some(&coord), &format!("/v1/studies/{study}/subjects"));
    let numbers: Vec<&str> = listed.body["items"].as_array().unwrap().iter().map(|s| s["subject_number"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["101-001"]);
    let hidden = p.get(Some(&coord), &format!("/v1/studies/{study}/subjects/{}", other["id"].as_str().unwrap()));
    assert_problem(&hidden, 404, "not-found");
    let visible = p.get(Some(&coord), &format!("/v1/studies/{study}/subjects/{}", own["id"].as_str().unwrap()));
    assert_eq!(visible.status, 200);
    // The monitor sees both.
    let all = p.get(Some(&monitor), &format!("/v1/studies/{study}/subjects"));
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token signed by `sign` over arbitrary claims.
fn forge(sign: &dyn Fn(&[u8]) -> p256::ecdsa::Signature, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    format!("{input}.{}", b64(&sign(input.as_bytes()).to_bytes()))
}

#[test]
fn forged_expired_unsigned_and_misaddressed_tokens_answer_401() {
    let p = Platform::start();
    let good = p.token(ACME, "monitor");
    let claims: Value = {
        use base64::Engine;
        let payload = good.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let real_key = |input: &[u8]| p.sign_with_platform_key(input).1;
    let (kid, _) = p.sign_with_platform_key(b"kid probe");
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let now = chrono::Utc::now().timestamp();

    // Control: the real key with the real claims works, so the refusals below are the checks'.
    assert_eq!(p.get(Some(&forge(&real_key, &header, &claims)), "/v1/me").status, 200);

    let other = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let other_key = |input: &[u8]| p256::ecdsa::signature::Signer::sign(&other, input);
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 3600);
    expired["nbf"] = json!(now - 3600);
    expired["exp"] = json!(now - 2700);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut missing = claims.clone();
    missing.as_object_mut().unwrap().remove("jti");
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims.to_string().as_bytes()));
    let cases = [
        ("other key", forge(&other_key, &header, &claims)),
        ("expired", forge(&real_key, &header, &expired)),
        ("alg none", none),
        ("wrong audience", forge(&real_key, &header, &wrong_aud)),
        ("missing claim", forge(&real_key, &header, &missing)),
        ("HS256 header", forge(&real_key, &json!({"alg": "HS256", "typ": "JWT", "kid": kid}), &claims)),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (what, token) in cases {
        let r = p.get(Some(&token), "/v1/me");
        assert_eq!(r.status, 401, "{what}: {}", r.body);
    }
    assert_eq!(p.get(None, "/v1/studies").status, 401);
    // Public routes need no token.
    assert_eq!(p.get(None, "/v1/health").status, 200);
    let jwks = p.get(None, "/.well-known/jwks.json");
    assert_eq!(jwks.body["keys"][0]["kid"], kid);
    assert_eq!(jwks.body["keys"][0]["alg"], "ES256");
    let openapi = p.get(None, "/v1/openapi.json");
    assert_eq!(openapi.body["openapi"], "3.1.0");
}

#[test]
fn five_failed_logins_lock_the_account_until_an_admin_unlocks_it() {
    let p = Platform::start();
    let viewer = p.login_of(ACME, "viewer");
    for _ in 0..5 {
        let r = p.post(None, "/v1/auth/login", &json!({"email": viewer.email, "password": "Wrong-Password-123"}));
        assert_problem(&r, 401, "invalid-credentials");
    }
    let r = p.post(None, "/v1/auth/login", &json!({"email": viewer.email, "password": viewer.password}));
    assert_problem(&r, 423, "account-locked");

    let admin = p.token(ACME, "tenant_admin");
    let users = p.get(Some(&admin), "/v1/users?limit=200");
    let user = users.body["items"].as_array().unwrap().iter().find(|u| u["email"] == viewer.email.as_str()).unwrap().clone();
    assert_eq!(user["locked"], true);
    let path = format!("/v1/users/{}", user["id"].as_str().unwrap());
    let current = p.get(Some(&admin), &path);
    let r = p.patch(&admin, &path, current.etag.as_deref().unwrap(), &json!({"locked": false, "reason": "identity confirmed by phone"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(p.post(None, "/v1/auth/login", &json!({"email": viewer.email, "password": viewer.password})).status, 200);
    // Unknown emails fail the same way as wrong passwords.
    let r = p.post(None, "/v1/auth/login", &json!({"email": "nobody@acme.example", "password": "Whatever-123456"}));
    assert_problem(&r, 401, "invalid-credentials");
}

#[test]
fn deactivation_and_password_change_revoke_live_tokens() {
    let p = Platform::start();
    let admin = p.token(ACME, "tenant_admin");
    let viewer = p.token(ACME, "viewer");
    assert_eq!(p.get(Some(&viewer), "/v1/me").status, 200);
    let me = p.get(Some(&viewer), "/v1/me");
    let path = format!("/v1/users/{}", me.body["user"]["id"].as_str().unwrap());
    let current = p.get(Some(&admin), &path);
    let r = p.patch(&admin, &path, current.etag.as_deref().unwrap(), &json!({"active": false, "reason": "left the site"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(p.get(Some(&viewer), "/v1/me").status, 401);
    let login = p.login_of(ACME, "viewer");
    assert_eq!(p.post(None, "/v1/auth/login", &json!({"email": login.email, "password": login.password})).status, 401);

    let monitor = p.token(ACME, "monitor");
    let m = p.login_of(ACME, "monitor");
    let weak = p.post(Some(&monitor), "/v1/auth/password", &json!({"current_password": m.password, "new_password": "password1234"}));
    assert_problem(&weak, 422, "validation-failed");
    let r = p.post(Some(&monitor), "/v1/auth/password", &json!({"current_password": m.password, "new_password": "Quiet-Falcon-Meadow-91"}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(p.get(Some(&monitor), "/v1/me").status, 401);
    assert_eq!(p.post(None, "/v1/auth/login", &json!({"email": m.email, "password": "Quiet-Falcon-Meadow-91"})).status, 200);
}

#[test]
fn idempotent_posts_replay_and_conditional_updates_refuse_stale_versions() {
    let p = Platform::start();
    let coord = p.token(ACME, "coordinator");
    let (study, sites) = p.demo_study(&coord);
    let site = sites[0]["id"].as_str().unwrap();
    let path = format!("/v1/studies/{study}/subjects");
    let body = json!({"subject_number": "101-050", "site_id": site});
    let key = [("idempotency-key", "subj-101-050")];
    let first = p.request("POST", Some(&coord), &path, Some(&body), &key);
    assert_eq!(first.status, 201, "{}", first.body);
    let replay = p.request("POST", Some(&coord), &path, Some(&body), &key);
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let listed = p.get(Some(&coord), &path);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "the replay created nothing");
    let reused = p.request("POST", Some(&coord), &path, Some(&json!({"subject_number": "101-051", "site_id": site})), &key);
    assert_problem(&reused, 422, "idempotency-key-reused");

    let sid = first.body["id"].as_str().unwrap();
    let spath = format!("{path}/{sid}");
    let ok = p.patch(&coord, &spath, "\"1\"", &json!({"consent_date": "2026-02-01", "reason": "ICF signed"}));
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = p.patch(&coord, &spath, "\"1\"", &json!({"consent_date": "2026-02-02", "reason": "second edit from an old page"}));
    assert_problem(&stale, 412, "stale-version");
    let missing = p.request("PATCH", Some(&coord), &spath, Some(&json!({"reason": "x"})), &[]);
    assert_problem(&missing, 428, "if-match-required");
    let unknown = p.patch(&coord, &spath, "\"2\"", &json!({"status": "enrolled", "reason": "x", "site_id": site}));
    assert_problem(&unknown, 400, "invalid-request");
    assert!(unknown.body["detail"].as_str().unwrap().contains("unknown field `site_id`"));
    let wrong_type = p.request("POST", Some(&coord), &path, None, &[("content-type", "text/plain")]);
    assert_eq!(wrong_type.status, 415, "{}", wrong_type.body);
}

#[test]
fn partners_use_client_credentials_scoped_to_studies() {
    let p = Platform::start();
    let dm = p.token(ACME, "data_manager");
    let (study, sites) = p.demo_study(&dm);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctp"))
        .args(["admin", "create-client", "--tenant", ACME, "--name", "EHR bridge", "--scopes", "studies:read subjects:read", "--studies", &study])
        .args(p.home_args())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());

    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .post(format!("{}/v1/auth/token", p.base))
        .send_form([("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let token: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "studies:read subjects:read");
    let t = token["access_token"].as_str().unwrap();
    assert_eq!(p.get(Some(t), &format!("/v1/studies/{study}/subjects")).status, 200);
    let write = p.post(Some(t), &format!("/v1/studies/{study}/subjects"), &json!({"subject_number": "1", "site_id": sites[0]["id"]}));
    assert_problem(&write, 403, "forbidden");
    let r = agent
        .post(format!("{}/v1/auth/token", p.base))
        .send_form([("grant_type", "client_credentials"), ("client_id", id), ("client_secret", "wrong")])
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn audit_entries_reach_the_write_once_archive_through_the_stream() {
    let p = Platform::start();
    let coord = p.token(ACME, "coordinator");
    let (study, sites) = p.demo_study(&coord);
    let subject = screen(&p, &coord, &study, sites[0]["id"].as_str().unwrap(), "101-077");
    let dm = p.token(ACME, "data_manager");
    let trail = p.get(Some(&dm), &format!("/v1/studies/{study}/audit?entity_type=subject&entity_id={}", subject["id"].as_str().unwrap()));
    let entry = trail.body["items"][0].clone();
    let day = &entry["at"].as_str().unwrap()[..10];
    let key = format!("audit/{ACME}/{study}/{day}/{}.json", entry["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut found = p.archived(&key);
    while found.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        found = p.archived(&key);
    }
    let archived: Value = serde_json::from_slice(&found.expect("archived entry")).unwrap();
    assert_eq!(archived, entry);
}

#[test]
fn a_killed_server_loses_no_acknowledged_write_or_audit_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Platform::start_in(tmp.path());
    let coord = p.token(ACME, "coordinator");
    let (study, sites) = p.demo_study(&coord);
    let site = sites[0]["id"].as_str().unwrap().to_owned();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let base = p.base.clone();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, base, coord, study, site) = (acknowledged.clone(), base.clone(), coord.clone(), study.clone(), site.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(std::time::Duration::from_secs(5)))
                    .build()
                    .into();
                for i in 0..500 {
                    let body = json!({"subject_number": format!("K{w}-{i:03}"), "site_id": site});
                    let r = agent
                        .post(format!("{base}/v1/studies/{study}/subjects"))
                        .header("authorization", &format!("Bearer {coord}"))
                        .send_json(&body);
                    match r {
                        Ok(mut resp) if resp.status().as_u16() == 201 => {
                            let v: Value = resp.body_mut().read_json().unwrap();
                            acked.lock().unwrap().push(v["id"].as_str().unwrap().to_owned());
                        }
                        _ => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Kill while writes are in flight, once a good number was acknowledged (the AWS path on the
    // emulator is slower than the embedded store).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    p.kill();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() > 5, "writes were in flight when the server was killed ({})", acked.len());

    let p = Platform::start_in(tmp.path());
    let coord = p.token(ACME, "coordinator");
    let dm = p.token(ACME, "data_manager");
    for id in &acked {
        let s = p.get(Some(&coord), &format!("/v1/studies/{study}/subjects/{id}"));
        assert_eq!(s.status, 200, "acknowledged subject {id} lost");
        let trail = p.get(Some(&dm), &format!("/v1/studies/{study}/audit?entity_type=subject&entity_id={id}"));
        assert_eq!(trail.body["items"].as_array().unwrap().len(), 1, "audit entry of {id}");
    }
}

#[test]
fn a_stack_refuses_a_tenant_homed_in_another_region() {
    let p = Platform::start();
    let admin = |region: &str, id: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ctp"))
            .args(["admin", "create-tenant", "--id", id, "--name", "Northwind", "--region", region])
            .args(p.home_args())
            .env("AWS_REGION", "eu-central-1")
            .output()
            .unwrap()
    };
    let refused = admin("us-east-1", "northwind");
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("this stack serves eu-central-1") && why.contains("us-east-1"), "{why}");
    let created = admin("eu-central-1", "northwind");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let tenant: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(tenant["home_region"], "eu-central-1");
}
