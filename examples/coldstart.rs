//! Cold-start harness: runs each function binary against a Lambda Runtime API emulator on
//! loopback (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), times
//! exec → first `GET /next` (init) and exec → first response, and reports binary and zip sizes.
//! Targets: median init ≤ `--max-init-ms` (default 20) and bootstrap.zip ≤ 8 MB (8,000,000 bytes) per function
//! (CTP_MAX_ZIP_BYTES overrides, as for scripts/package.sh).
//!
//! scripts/coldstart.sh [--runs N] [--max-init-ms MS] [--functions a,b]
//!
//! The functions inherit this process's environment, so the caller picks the storage home
//! (CTP_DATA_DIR, or the AWS settings).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The sample event each function is started with (files in events/).
const EVENTS: &[(&str, &str)] = &[
    ("health", "health-get.json"),
    ("auth", "auth-login.json"),
    ("users", "users-list.json"),
    ("studies", "studies-list.json"),
    ("sites", "sites-list.json"),
    ("members", "members-list.json"),
    ("subjects", "subjects-create.json"),
    ("audit", "audit-list.json"),
    ("audit-archiver", "stream-audit-insert.json"),
    ("stream-redrive", "schedule-stream-redrive.json"),
];

/// Functions that exist only in the AWS home (they refuse to start on the embedded store): they
/// are measured with `scripts/coldstart.sh --aws` and listed as such otherwise.
const AWS_ONLY: &[&str] = &["stream-redrive"];

/// The project's target (Lambda's own limit is far larger); the same default and override as
/// scripts/package.sh.
const MAX_ZIP_BYTES: u64 = 8_000_000;
/// A run that has not answered by then is counted as a failure rather than hanging the harness.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
const API: &str = "/2018-06-01/runtime";

struct Args {
    runs: usize,
    max_init_ms: f64,
    functions: Option<Vec<String>>,
}

struct Function {
    name: String,
    binary: PathBuf,
    event: Bytes,
    zip: PathBuf,
}

/// What the emulator saw, stamped on arrival so the figures do not include the harness's own
/// scheduling.
enum Seen {
    Next(Instant),
    Response(Instant, Bytes),
    Error(Bytes),
    InitError(Bytes),
}

struct Sample {
    init: Duration,
    first_response: Duration,
    status: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: coldstart [--runs N] [--max-init-ms MS] [--functions a,b]");
            return ExitCode::from(2);
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let functions = match discover(root, &target, args.functions.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("coldstart: {e}");
            return ExitCode::from(2);
        }
    };

    let max_zip = std::env::var("CTP_MAX_ZIP_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(MAX_ZIP_BYTES);
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    let mut total_binary = 0;
    for f in &functions {
        let binary_size = std::fs::metadata(&f.binary).map(|m| m.len()).unwrap_or(0);
        total_binary += binary_size;
        let zip_size = std::fs::metadata(&f.zip).ok().map(|m| m.len());
        eprint!("{:<16}", f.name);
        // One unmeasured run first: the data dir's one-time setup (schema, signing key) and the
        // page cache filling are not part of a Lambda cold start.
        let mut samples = Vec::new();
        let mut error = None;
        for run in 0..=args.runs {
            match run_once(f, run).await {
                Ok(s) if run > 0 => samples.push(s),
                Ok(_) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            eprint!(".");
        }
        eprintln!();
        if let Some(e) = &error {
            eprintln!("\n!!! {} FAILED: {e}\n", f.name);
            failed.push(f.name.as_str());
            // Figures from the runs before the failure would pass for a healthy function.
            samples.clear();
        }
        rows.push((f, samples, binary_size, zip_size));
    }

    println!();
    println!(
        "{:<16} {:>22} {:>22} {:>8} {:>10} {:>10}",
        "function", "init ms min/med/max", "first resp min/med/max", "status", "binary MiB", "zip MiB"
    );
    let mut problems = Vec::new();
    for (f, samples, binary_size, zip_size) in &rows {
        let (init, first) = if samples.is_empty() {
            ("FAILED".to_string(), "FAILED".to_string())
        } else {
            let init_med = stats(samples.iter().map(|s| s.init)).1;
            if init_med > args.max_init_ms {
                problems.push(format!("{}: median init {init_med:.1} ms > {} ms", f.name, args.max_init_ms));
            }
            (fmt_stats(samples.iter().map(|s| s.init)), fmt_stats(samples.iter().map(|s| s.first_response)))
        };
        let statuses: BTreeSet<&str> = samples.iter().map(|s| s.status.as_str()).collect();
        let status = if statuses.is_empty() { "-".into() } else { statuses.into_iter().collect::<Vec<_>>().join("/") };
        let zip = match zip_size {
            Some(z) => {
                if *z > max_zip {
                    problems.push(format!("{}: zip {} MiB > {} MiB", f.name, mib(*z), mib(max_zip)));
                }
                mib(*z)
            }
            None => "n/a (run scripts/package.sh)".into(),
        };
        println!("{:<16} {init:>22} {first:>22} {status:>8} {:>10} {zip:>10}", f.name, mib(*binary_size));
    }
    println!("total unzipped binaries: {} MiB ({} functions)", mib(total_binary), rows.len());
    println!(
        "runs per function: {} (after one unmeasured warm-up run); targets: median init ≤ {} ms, zip ≤ {} MiB",
        args.runs,
        args.max_init_ms,
        mib(max_zip)
    );

    for p in &problems {
        println!("OVER TARGET: {p}");
    }
    if !failed.is_empty() {
        println!("FAILED (init or invocation error, details above): {}", failed.join(", "));
    }
    if !failed.is_empty() || !problems.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { runs: 10, max_init_ms: 20.0, functions: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--runs" => args.runs = value()?.parse().ok().filter(|n| *n > 0).ok_or("--runs: a positive number")?,
            "--max-init-ms" => args.max_init_ms = value()?.parse().map_err(|_| "--max-init-ms: a number of milliseconds")?,
            "--functions" => args.functions = Some(value()?.split(',').map(|s| s.trim().to_string()).collect()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// The functions are whatever lives in functions/, so a new function is measured without
/// touching this file, except for its event.
fn discover(root: &Path, target: &Path, only: Option<&[String]>) -> Result<Vec<Function>, String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("functions"))
        .map_err(|e| format!("reading functions/: {e}"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if std::env::var_os("CTP_TABLE").is_none() {
        for name in names.iter().filter(|n| AWS_ONLY.contains(&n.as_str())) {
            println!("{name}: AWS only, not measured on the embedded store (scripts/coldstart.sh --aws measures it)");
        }
        names.retain(|n| !AWS_ONLY.contains(&n.as_str()));
    }
    if let Some(only) = only {
        if let Some(unknown) = only.iter().find(|n| !names.contains(n)) {
            return Err(format!("no function {unknown} in functions/ (have: {})", names.join(", ")));
        }
        names.retain(|n| only.contains(n));
    }
    names
        .into_iter()
        .map(|name| {
            let event_file = EVENTS
                .iter()
                .find(|(f, _)| *f == name)
                .map(|(_, e)| root.join("events").join(e))
                .ok_or(format!("function {name} has no event: add one to EVENTS in examples/coldstart.rs"))?;
            let event = std::fs::read(&event_file).map_err(|e| format!("{}: {e}", event_file.display()))?;
            serde_json::from_slice::<Value>(&event).map_err(|e| format!("{}: {e}", event_file.display()))?;
            let manifest = root.join("functions").join(&name).join("Cargo.toml");
            let manifest = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
            let bin = bin_name(&manifest).unwrap_or(&name);
            let binary = target.join("release").join(bin);
            if !binary.is_file() {
                return Err(format!("{} missing: build it (scripts/coldstart.sh does)", binary.display()));
            }
            // Where scripts/package.sh (cargo lambda) puts it: named after the binary.
            let zip = target.join("lambda").join(bin).join("bootstrap.zip");
            Ok(Function { name, binary, event: event.into(), zip })
        })
        .collect()
}

/// The `name` of the first `[[bin]]`, else of `[package]`: enough of TOML for the function
/// manifests, without a TOML parser in the dependency tree.
fn bin_name(manifest: &str) -> Option<&str> {
    let mut section = "";
    let (mut bin, mut package) = (None, None);
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if let Some(v) = line.strip_prefix("name").map(str::trim_start).and_then(|l| l.strip_prefix('=')) {
            let v = v.trim().trim_matches('"');
            match section {
                "[[bin]]" => bin = bin.or(Some(v)),
                "[package]" => package = package.or(Some(v)),
                _ => {}
            }
        }
    }
    bin.or(package)
}

/// One cold start: a fresh emulator (so nothing from an earlier process can reach it), the
/// binary spawned against it, the first event handed out, the process killed after its answer.
async fn run_once(f: &Function, run: usize) -> Result<Sample, String> {
    let (addr, mut seen, mut emulator) = emulator(f).await.map_err(|e| format!("starting the emulator: {e}"))?;
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".into());
    let mut command = Command::new(&f.binary);
    command
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &f.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", f.name))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("coldstart/[$LATEST]{run}"))
        .env("AWS_REGION", region)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);

    let t0 = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("spawning {}: {e}", f.binary.display()))?;
    // Drained concurrently so a chatty function never blocks on a full pipe; shown on failure.
    let output = tokio::spawn(drain(child.stdout.take(), child.stderr.take()));

    let outcome = tokio::time::timeout(RUN_TIMEOUT, async {
        let mut init = None;
        loop {
            tokio::select! {
                s = seen.recv() => match s {
                    Some(Seen::Next(t)) => { init.get_or_insert(t - t0); }
                    Some(Seen::Response(t, body)) => {
                        let init = init.ok_or("response before any GET /next")?;
                        return Ok(Sample { init, first_response: t - t0, status: status_of(&body) });
                    }
                    Some(Seen::Error(body)) => return Err(format!("invocation error: {}", String::from_utf8_lossy(&body))),
                    Some(Seen::InitError(body)) => return Err(format!("init error: {}", String::from_utf8_lossy(&body))),
                    None => return Err("emulator stopped".to_string()),
                },
                status = child.wait() => return Err(format!("process exited before responding ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string()))),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no response within {RUN_TIMEOUT:?}")));

    let _ = child.kill().await;
    emulator.abort_all();
    // Bounded: a grandchild that outlived the kill could hold the pipes open.
    let output = tokio::time::timeout(Duration::from_secs(2), output).await.ok().and_then(Result::ok).unwrap_or_default();
    outcome.map_err(|e| {
        let tail: Vec<&str> = output.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{e}\n--- last output of {} ---\n{}", f.name, tail.join("\n"))
    })
}

async fn drain(stdout: Option<tokio::process::ChildStdout>, stderr: Option<tokio::process::ChildStderr>) -> String {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let read_out = async {
        if let Some(mut s) = stdout {
            let _ = s.read_to_end(&mut out).await;
        }
    };
    let read_err = async {
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut err).await;
        }
    };
    tokio::join!(read_out, read_err);
    out.extend(err);
    String::from_utf8_lossy(&out).into_owned()
}

/// HTTP functions answer with an API Gateway response (`statusCode`); the stream function with
/// its batch item failures.
fn status_of(body: &[u8]) -> String {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(code) = json.get("statusCode").and_then(Value::as_u64) {
        return code.to_string();
    }
    match json.get("batchItemFailures").and_then(Value::as_array).map(Vec::len) {
        Some(0) | None => "ok".into(),
        Some(n) => format!("{n} failed"),
    }
}

/// The Runtime API on a fresh loopback port. The accept loop and every connection live in the
/// returned JoinSet, so aborting it also ends the function's parked second `GET /next`.
async fn emulator(f: &Function) -> std::io::Result<(SocketAddr, mpsc::UnboundedReceiver<Seen>, JoinSet<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".into());
    let state = Arc::new(Invocation {
        event: f.event.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        arn: format!("arn:aws:lambda:{region}:000000000000:function:{}", f.name),
        handed_out: AtomicBool::new(false),
        tx,
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            connections.spawn(async move {
                let svc = service_fn(move |req| serve(state.clone(), req));
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok((addr, rx, tasks))
}

struct Invocation {
    event: Bytes,
    request_id: String,
    arn: String,
    handed_out: AtomicBool,
    tx: mpsc::UnboundedSender<Seen>,
}

async fn serve(inv: Arc<Invocation>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let invocation = path.strip_prefix(&format!("{API}/invocation/")).unwrap_or("");
    let reply = |status: StatusCode, body: &'static str| Ok(Response::builder().status(status).body(Full::from(body)).unwrap());

    if method == Method::GET && path == format!("{API}/invocation/next") {
        let _ = inv.tx.send(Seen::Next(at));
        if inv.handed_out.swap(true, Ordering::SeqCst) {
            // One event per cold start: park the next poll until the process is killed.
            std::future::pending::<()>().await;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let deadline = now + Duration::from_secs(30);
        let trace = uuid::Uuid::new_v4().simple().to_string();
        return Ok(Response::builder()
            .header("content-type", "application/json")
            .header("Lambda-Runtime-Aws-Request-Id", &inv.request_id)
            .header("Lambda-Runtime-Deadline-Ms", deadline.as_millis().to_string())
            .header("Lambda-Runtime-Invoked-Function-Arn", &inv.arn)
            .header("Lambda-Runtime-Trace-Id", format!("Root=1-{:08x}-{};Parent={};Sampled=0", now.as_secs(), &trace[..24], &trace[16..]))
            .body(Full::new(inv.event.clone()))
            .unwrap());
    }
    if method != Method::POST {
        return reply(StatusCode::NOT_FOUND, "{\"errorMessage\":\"unknown route\"}");
    }
    let seen = if path == format!("{API}/init/error") {
        Seen::InitError(body)
    } else if invocation == format!("{}/response", inv.request_id) {
        Seen::Response(at, body)
    } else if invocation == format!("{}/error", inv.request_id) {
        Seen::Error(body)
    } else if invocation.ends_with("/response") || invocation.ends_with("/error") {
        return reply(StatusCode::BAD_REQUEST, "{\"errorMessage\":\"unknown request id\",\"errorType\":\"InvalidRequestID\"}");
    } else {
        return reply(StatusCode::NOT_FOUND, "{\"errorMessage\":\"unknown route\"}");
    };
    let _ = inv.tx.send(seen);
    reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

/// (min, median, max) in milliseconds.
fn stats(samples: impl Iterator<Item = Duration>) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = samples.map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 { ms[n / 2] } else { (ms[n / 2 - 1] + ms[n / 2]) / 2.0 };
    (ms[0], median, ms[n - 1])
}

fn fmt_stats(samples: impl Iterator<Item = Duration>) -> String {
    let (min, med, max) = stats(samples);
    format!("{min:.1} / {med:.1} / {max:.1}")
}

fn mib(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / (1024.0 * 1024.0))
}
