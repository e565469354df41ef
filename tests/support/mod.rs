//! Starting `ctp serve` on a free loopback port with a temporary data directory, and talking to
//! it over HTTP as a user would. With CTP_E2E_AWS_ENDPOINT set (scripts/test.sh sets it to its
//! moto server), the server runs on the AWS adapters against that emulator instead, so the same
//! scenarios cover both homes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

pub struct Platform {
    pub base: String,
    pub data_dir: PathBuf,
    child: Child,
    _tmp: Option<tempfile::TempDir>,
    /// The emulator clients and resource names, found once (AWS path only).
    aws: std::sync::OnceLock<Option<AwsHome>>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Login {
    pub tenant: String,
    pub role: String,
    pub email: String,
    pub password: String,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub etag: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl Platform {
    /// A fresh platform with the demo data.
    pub fn start() -> Platform {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_owned();
        let mut p = Platform::start_in(&dir);
        p._tmp = Some(tmp);
        p
    }

    /// Start (or restart) on an existing data directory.
    pub fn start_in(dir: &Path) -> Platform {
        let log = dir.join("serve.log");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctp"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .args(home_args(dir))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("ctp starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("ctp exited before listening: {}", std::fs::read_to_string(&log).unwrap_or_default());
            };
            if let Some(rest) = line.strip_prefix("ctp: listening on ") {
                break rest.split_whitespace().next().expect("an address").to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Platform { base, data_dir: dir.to_owned(), child, _tmp: None, aws: std::sync::OnceLock::new() }
    }

    /// The flags that name this platform's home, for `ctp admin`.
    pub fn home_args(&self) -> Vec<String> {
        home_args(&self.data_dir)
    }

    /// An object of the audit archive, from wherever this home keeps it.
    pub fn archived(&self, key: &str) -> Option<Vec<u8>> {
        use ctp_store::objects::ObjectStore;
        match self.aws_home() {
            None => std::fs::read(self.data_dir.join("objects").join(key)).ok(),
            Some(home) => home.runtime.block_on(async {
                ctp_aws::S3Objects::new(home.clients.s3.clone(), &home.settings.archive_bucket)
                    .get(key)
                    .await
                    .expect("S3 answers")
            }),
        }
    }

    /// Sign with the platform's own token key (a key file locally, the KMS key on AWS), to
    /// forge tokens whose only fault is in their claims.
    pub fn sign_with_platform_key(&self, message: &[u8]) -> (String, p256::ecdsa::Signature) {
        use ctp_identity::TokenSigner;
        async fn sign(signer: &dyn TokenSigner, message: &[u8]) -> (String, p256::ecdsa::Signature) {
            let kid = signer.public_key().await.expect("public key").kid;
            (kid, signer.sign(message).await.expect("signature"))
        }
        match self.aws_home() {
            None => {
                let signer = ctp_identity::FileKeySigner::load_or_create(&self.data_dir.join("keys/token-signing.pem"))
                    .expect("key file");
                block_on(sign(&signer, message))
            }
            Some(home) => {
                let signer = ctp_aws::KmsSigner::new(home.clients.kms.clone(), &home.settings.signing_key_id);
                home.runtime.block_on(sign(&signer, message))
            }
        }
    }

    fn aws_home(&self) -> Option<&AwsHome> {
        self.aws.get_or_init(|| aws_home(&self.data_dir)).as_ref()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logins(&self) -> Vec<Login> {
        let raw = std::fs::read_to_string(self.data_dir.join("demo-logins.json")).expect("demo logins written");
        serde_json::from_str(&raw).expect("demo logins parse")
    }

    pub fn login_of(&self, tenant: &str, role: &str) -> Login {
        self.logins().into_iter().find(|l| l.tenant == tenant && l.role == role).expect("demo login exists")
    }

    /// Log in and return the access token.
    pub fn token(&self, tenant: &str, role: &str) -> String {
        let l = self.login_of(tenant, role);
        let r = self.post(None, "/v1/auth/login", &json!({"email": l.email, "password": l.password}));
        assert_eq!(r.status, 200, "login of {role}: {}", r.body);
        r.body["access_token"].as_str().expect("token").to_owned()
    }

    pub fn request(&self, method: &str, token: Option<&str>, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Resp {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let result = match body {
            Some(b) => agent.run(req.header("content-type", "application/json").body(b.to_string()).expect("request")),
            None => agent.run(req.body(()).expect("request")),
        };
        let mut resp = result.expect("the server answered");
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Resp { status, body, etag, headers }
    }

    pub fn get(&self, token: Option<&str>, path: &str) -> Resp {
        self.request("GET", token, path, None, &[])
    }
    pub fn post(&self, token: Option<&str>, path: &str, body: &Value) -> Resp {
        self.request("POST", token, path, Some(body), &[])
    }
    pub fn patch(&self, token: &str, path: &str, etag: &str, body: &Value) -> Resp {
        self.request("PATCH", Some(token), path, Some(body), &[("if-match", etag)])
    }

    /// The demo study of a tenant and its sites, ordered by site number.
    pub fn demo_study(&self, token: &str) -> (String, Vec<Value>) {
        let studies = self.get(Some(token), "/v1/studies");
        assert_eq!(studies.status, 200, "{}", studies.body);
        let study = studies.body["items"][0]["id"].as_str().expect("a demo study").to_owned();
        let sites = self.get(Some(token), &format!("/v1/studies/{study}/sites"));
        let mut items = sites.body["items"].as_array().cloned().unwrap_or_default();
        items.sort_by_key(|s| s["site_number"].as_str().unwrap_or_default().to_owned());
        (study, items)
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Assert the RFC 9457 shape of an error response.
pub fn assert_problem(r: &Resp, status: u16, slug: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.body);
    assert_eq!(r.body["type"], format!("urn:ctp:problem:{slug}"), "{}", r.body);
    assert_eq!(r.body["status"], status);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

fn aws_endpoint() -> Option<String> {
    std::env::var("CTP_E2E_AWS_ENDPOINT").ok().filter(|s| !s.is_empty())
}

/// The emulator resources' name prefix of a data directory: made on first start and kept in the
/// directory, so a restarted server finds the same table.
fn aws_prefix(dir: &Path) -> String {
    let file = dir.join("aws-prefix");
    if let Ok(p) = std::fs::read_to_string(&file) {
        return p;
    }
    let prefix: String = format!("e{}", uuid::Uuid::new_v4().simple()).chars().take(16).collect();
    std::fs::write(&file, &prefix).expect("prefix file");
    prefix
}

fn home_args(dir: &Path) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), dir.display().to_string()];
    if let Some(endpoint) = aws_endpoint() {
        args.extend(["--aws-endpoint".to_owned(), endpoint, "--aws-prefix".to_owned(), aws_prefix(dir)]);
    }
    args
}

/// The emulator resources of an AWS-path platform, with clients and the runtime they run on
/// (their connection pools belong to it).
struct AwsHome {
    runtime: tokio::runtime::Runtime,
    clients: ctp_aws::Clients,
    settings: ctp_aws::AwsSettings,
}

fn aws_home(dir: &Path) -> Option<AwsHome> {
    let endpoint = aws_endpoint()?;
    let prefix = aws_prefix(dir);
    // The region `ctp serve` uses too: the emulator keeps tables per region.
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (clients, settings) = runtime.block_on(async {
        let clients = ctp_aws::Clients::new(&ctp_aws::sdk_config(&region, Some(&endpoint)).await);
        let settings = ctp_aws::emulator::provision(&clients, &region, &endpoint, &prefix, 1).await.expect("emulator home");
        (clients, settings)
    });
    Some(AwsHome { runtime, clients, settings })
}
