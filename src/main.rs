//! `ctp`: the platform on one machine. `ctp serve` runs every function behind a local twin of
//! API Gateway on embedded storage; `ctp admin` creates tenants, users and API clients.

mod gateway;
mod pump;
mod template;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ctp_api::{App, Config};
use ctp_domain::ids::{StudyId, TenantId};
use ctp_domain::permissions::Scope;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const USAGE: &str = "usage:
  ctp serve [--listen ADDR:PORT] [--data-dir DIR] [--demo] [--template FILE]
            [--aws-endpoint URL [--aws-prefix NAME]]
        (--aws-endpoint: run on the AWS adapters against an AWS emulator such as moto server,
         creating the table, bucket and keys named after --aws-prefix, default ctp)
  ctp admin create-tenant --id ID --name NAME --region REGION [HOME]
  ctp admin create-user --tenant ID --email EMAIL --name NAME [--tenant-admin] [HOME]
        (the password is read from standard input)
  ctp admin create-client --tenant ID --name NAME --scopes 'SCOPE ...' --studies ID[,ID...] [HOME]
  ctp admin aws-env --aws-endpoint URL [--aws-prefix NAME]
        (prints the KEY=VALUE environment of a function running against the emulator's resources)
HOME: --data-dir DIR (default .ctp), or --aws-endpoint URL [--aws-prefix NAME] as for serve";

/// Command-line flags: `--name value` pairs and bare switches.
struct Flags(Vec<(String, Option<String>)>);

impl Flags {
    fn parse(args: &[String], switches: &[&str]) -> Result<Self, String> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a:?}")) };
            if switches.contains(&name) {
                out.push((name.to_owned(), None));
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                out.push((name.to_owned(), Some(v.clone())));
            }
        }
        Ok(Flags(out))
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }
    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("--{name} is required"))
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
    fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.get("data-dir").unwrap_or(".ctp"))
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ctp: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("serve") => serve(Flags::parse(&args[1..], &["demo"])?).await,
            Some("admin") => admin(&args[1..]).await,
            _ => Err(USAGE.to_owned()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctp: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Where the change stream of the chosen home is read.
enum StreamSource {
    Local(Arc<ctp_store::SqliteStore>),
    DynamoDb(ctp_aws::streams::StreamReader, String),
}

/// The platform's home: the data directory, or with `--aws-endpoint` the AWS adapters against an
/// emulator, whose table, bucket and keys (named after `--aws-prefix`) are created if missing.
async fn open_home(flags: &Flags) -> Result<(App, StreamSource), String> {
    let Some(endpoint) = flags.get("aws-endpoint") else {
        let (app, store) = App::local(&flags.data_dir(), Config::from_env())?;
        return Ok((app, StreamSource::Local(store)));
    };
    let (clients, settings) = emulator_home(endpoint, flags.get("aws-prefix").unwrap_or("ctp")).await?;
    let reader =
        ctp_aws::streams::StreamReader::for_table(&clients.dynamodb, clients.streams.clone(), &settings.region, &settings.table)
            .await
            .map_err(|e| e.to_string())?;
    let app = App::aws(&clients.config, &settings, Config::from_env());
    Ok((app, StreamSource::DynamoDb(reader, endpoint.to_owned())))
}

/// The emulator's resources named after `prefix`, created when missing, in `AWS_REGION`.
async fn emulator_home(endpoint: &str, prefix: &str) -> Result<(ctp_aws::Clients, ctp_aws::AwsSettings), String> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "eu-central-1".to_owned());
    let clients = ctp_aws::Clients::new(&ctp_aws::sdk_config(&region, Some(endpoint)).await);
    let settings = ctp_aws::emulator::provision(&clients, &region, endpoint, prefix, 1)
        .await
        .map_err(|e| format!("{e} (is the emulator running at {endpoint}?)"))?;
    Ok((clients, settings))
}

async fn serve(flags: Flags) -> Result<(), String> {
    init_logging();
    let data_dir = flags.data_dir();
    let template = match flags.get("template") {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => include_str!("../template.yaml").to_owned(),
    };
    let routes = template::routes(&template).map_err(|e| e.to_string())?;
    let (app, source) = open_home(&flags).await?;
    let app = Arc::new(app);
    let (pump, home): (std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>, String) = match source {
        StreamSource::Local(store) => (Box::pin(pump::run(app.clone(), store)), format!("data in {}", data_dir.display())),
        StreamSource::DynamoDb(reader, endpoint) => {
            (Box::pin(pump::run_dynamodb(app.clone(), reader)), format!("on the AWS adapters at {endpoint}"))
        }
    };
    if flags.has("demo") {
        demo(&app, &data_dir).await?;
    }
    let listen: SocketAddr = flags
        .get("listen")
        .unwrap_or("127.0.0.1:8080")
        .parse()
        .map_err(|e| format!("--listen: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("ctp: listening on http://{bound} ({home})");
    tokio::spawn(pump);
    let gateway = Arc::new(gateway::Gateway { app, routes });
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => { tracing::warn!(error = %e, "accept failed"); continue; }
                };
                let gw = gateway.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| gw.clone().serve(req, peer));
                    if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                        tracing::debug!(error = %e, "connection closed");
                    }
                });
            }
            _ = &mut shutdown => {
                println!("ctp: shutting down");
                return Ok(());
            }
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn demo(app: &App, data_dir: &Path) -> Result<(), String> {
    let file = data_dir.join("demo-logins.json");
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let created = ctp_api::demo::seed(app).await.map_err(|e| format!("demo seed failed: {e}"))?;
    let logins: Vec<ctp_api::demo::DemoLogin> = if created.is_empty() {
        let raw = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        serde_json::from_str(&raw).map_err(|e| format!("{}: {e}", file.display()))?
    } else {
        let json = serde_json::to_string_pretty(&created).map_err(|e| e.to_string())?;
        write_private(&file, json.as_bytes()).map_err(|e| format!("{}: {e}", file.display()))?;
        created
    };
    println!("ctp: demo logins (also in {}):", file.display());
    for l in &logins {
        println!("  {:<13} {:<15} {:<34} {}", l.tenant, l.role, l.email, l.password);
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

async fn admin(args: &[String]) -> Result<(), String> {
    let Some(command) = args.first() else { return Err(USAGE.to_owned()) };
    let flags = Flags::parse(&args[1..], &["tenant-admin"])?;
    if command == "aws-env" {
        // The environment a function binary needs to run against the emulator's resources.
        let (_, settings) = emulator_home(flags.required("aws-endpoint")?, flags.get("aws-prefix").unwrap_or("ctp")).await?;
        for (k, v) in settings.to_env() {
            println!("{k}={v}");
        }
        return Ok(());
    }
    let (app, _) = open_home(&flags).await?;
    let tenant = |f: &Flags, name: &str| TenantId::parse(f.required(name)?).map_err(|e| e.to_string());
    match command.as_str() {
        "create-tenant" => {
            let t = ctp_api::tenants::create_tenant(&app, tenant(&flags, "id")?, flags.required("name")?, flags.required("region")?)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string(&t).map_err(|e| e.to_string())?);
        }
        "create-user" => {
            let t = tenant(&flags, "tenant")?;
            ctp_api::tenants::load(&app, &t).await.map_err(|e| e.to_string())?.ok_or("no such tenant")?;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).map_err(|e| e.to_string())?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let ctx = ctp_api::tenants::admin_context(&t, "ctp admin create-user");
            let user = ctp_api::users::create(
                &app,
                &ctx,
                &t,
                ctp_api::users::NewUser {
                    email: flags.required("email")?.to_owned(),
                    name: flags.required("name")?.to_owned(),
                    password,
                    tenant_admin: flags.has("tenant-admin"),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string(&user).map_err(|e| e.to_string())?);
        }
        "create-client" => {
            let t = tenant(&flags, "tenant")?;
            let scopes = flags
                .required("scopes")?
                .split_whitespace()
                .map(|s| Scope::parse(s).ok_or_else(|| format!("unknown scope {s}")))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let studies = flags
                .required("studies")?
                .split(',')
                .map(|s| StudyId::parse(s.trim()).map_err(|e| e.to_string()))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let (client, secret) = ctp_api::tenants::create_client(&app, &t, flags.required("name")?, scopes, studies)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({ "client_id": client.id, "client_secret": secret, "scopes": client.scopes, "studies": client.studies }));
        }
        other => return Err(format!("unknown admin command {other}\n{USAGE}")),
    }
    Ok(())
}
