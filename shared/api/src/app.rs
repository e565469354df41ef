//! What a function needs, built once per execution environment and shared by every request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ctp_identity::jwt::Issuer;
use ctp_identity::{TokenSigner, TokenVerifier};
use ctp_store::Store;
use ctp_store::objects::ObjectStore;

#[derive(Debug, Clone)]
pub struct Config {
    /// `iss` of issued tokens: the API's public base URL.
    pub issuer: String,
    /// `aud` of issued tokens.
    pub audience: String,
    /// The region this stack serves (tenants' home regions are checked against it).
    pub region: String,
}

impl Config {
    /// From the environment (`CTP_ISSUER`, `CTP_AUDIENCE`, `AWS_REGION`), with local defaults.
    pub fn from_env() -> Config {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        Config {
            issuer: var("CTP_ISSUER", "http://127.0.0.1:8080"),
            audience: var("CTP_AUDIENCE", "ctp-api"),
            region: var("AWS_REGION", "eu-central-1"),
        }
    }
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub objects: Arc<dyn ObjectStore>,
    pub signer: Arc<dyn TokenSigner>,
    pub verifier: TokenVerifier,
    pub issuer: Issuer,
    pub config: Config,
}

impl App {
    pub fn new(store: Arc<dyn Store>, objects: Arc<dyn ObjectStore>, signer: Arc<dyn TokenSigner>, config: Config) -> App {
        let verifier = TokenVerifier::new(
            vec![(signer.key_id().to_owned(), signer.verifying_key())],
            &config.issuer,
            &config.audience,
        );
        let issuer = Issuer { iss: config.issuer.clone(), aud: config.audience.clone() };
        App { store, objects, signer, verifier, issuer, config }
    }

    /// The local home: SQLite store, object directory and key file under `data_dir`.
    pub fn local(data_dir: &std::path::Path, config: Config) -> Result<(App, Arc<ctp_store::SqliteStore>), String> {
        let store = Arc::new(ctp_store::SqliteStore::open(data_dir).map_err(|e| e.to_string())?);
        let objects = Arc::new(ctp_store::objects::DirObjects::new(&data_dir.join("objects")));
        let signer = Arc::new(
            ctp_identity::FileKeySigner::load_or_create(&data_dir.join("keys/token-signing.pem"))
                .map_err(|e| e.to_string())?,
        );
        Ok((App::new(store.clone(), objects, signer, config), store))
    }

    pub fn now() -> DateTime<Utc> {
        Utc::now()
    }
}
