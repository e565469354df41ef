//! HTTP load run against a running `ctp serve --demo`: C concurrent clients each screen subjects
//! as the demo coordinator (POST /v1/studies/{id}/subjects) and read them back, for a bounded
//! number of requests. Prints throughput and latency percentiles.
//!
//! cargo run --release --example load -- http://127.0.0.1:8080 .ctp/demo-logins.json 4 500

use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let base = args.first().cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let logins = args.get(1).cloned().unwrap_or_else(|| ".ctp/demo-logins.json".into());
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let per_client: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(250);

    let logins: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&logins).expect("demo logins")).expect("json");
    let coord = logins.iter().find(|l| l["tenant"] == "acme-pharma" && l["role"] == "coordinator").expect("coordinator");
    let a = agent();
    let login: Value = a
        .post(format!("{base}/v1/auth/login"))
        .send_json(json!({"email": coord["email"], "password": coord["password"]}))
        .expect("login")
        .body_mut()
        .read_json()
        .expect("token");
    let token = login["access_token"].as_str().expect("access_token").to_owned();
    let auth = format!("Bearer {token}");
    let get = |path: &str| -> Value {
        a.get(format!("{base}{path}")).header("authorization", &auth).call().expect("get").body_mut().read_json().expect("json")
    };
    let study = get("/v1/studies")["items"][0]["id"].as_str().expect("study").to_owned();
    let site = get(&format!("/v1/studies/{study}/sites"))["items"][0]["id"].as_str().expect("site").to_owned();
    let run = uuid_prefix();

    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (base, auth, study, site, run) = (base.clone(), auth.clone(), study.clone(), site.clone(), run.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut writes = Vec::with_capacity(per_client);
                let mut reads = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let t = Instant::now();
                    let mut r = a
                        .post(format!("{base}/v1/studies/{study}/subjects"))
                        .header("authorization", &auth)
                        .send_json(json!({"subject_number": format!("L{run}-{c}-{i}"), "site_id": site}))
                        .expect("post");
                    assert_eq!(r.status().as_u16(), 201, "create failed");
                    writes.push(t.elapsed());
                    let id = r.body_mut().read_json::<Value>().expect("json")["id"].as_str().expect("id").to_owned();
                    let t = Instant::now();
                    let r = a.get(format!("{base}/v1/studies/{study}/subjects/{id}")).header("authorization", &auth).call().expect("get");
                    assert_eq!(r.status().as_u16(), 200, "read failed");
                    reads.push(t.elapsed());
                }
                (writes, reads)
            })
        })
        .collect();
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for h in handles {
        let (w, r) = h.join().expect("client thread");
        writes.extend(w);
        reads.extend(r);
    }
    let elapsed = started.elapsed();
    let total = writes.len() + reads.len();
    println!("{clients} clients, {total} requests ({} creates + {} reads) in {:.2} s: {:.0} requests/s", writes.len(), reads.len(), elapsed.as_secs_f64(), total as f64 / elapsed.as_secs_f64());
    report("create subject (POST)", &mut writes);
    report("read subject (GET)", &mut reads);
}

fn uuid_prefix() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() % 0xffffff).unwrap_or(0))
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1000.0;
    println!("{what}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms", pct(0.5), pct(0.9), pct(0.99), pct(1.0));
}
