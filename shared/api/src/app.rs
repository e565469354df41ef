//! What a function needs, built once per execution environment and shared by every request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ctp_aws::{AwsSettings, DynamoStore, KmsSigner, S3Objects};
use ctp_http::ApiError;
use ctp_identity::jwt::Issuer;
use ctp_identity::{TokenSigner, TokenVerifier};
use ctp_store::Store;
use ctp_store::objects::ObjectStore;
use tokio::sync::OnceCell;

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
    /// Built on first use from the signer's public key: with KMS that is a network call, which
    /// stays out of the cold start.
    verifier: OnceCell<TokenVerifier>,
    pub issuer: Issuer,
    pub config: Config,
}

impl App {
    pub fn new(store: Arc<dyn Store>, objects: Arc<dyn ObjectStore>, signer: Arc<dyn TokenSigner>, config: Config) -> App {
        let issuer = Issuer { iss: config.issuer.clone(), aud: config.audience.clone() };
        App { store, objects, signer, verifier: OnceCell::new(), issuer, config }
    }

    /// The verifier of access tokens, against the signing key's public half.
    pub async fn verifier(&self) -> Result<&TokenVerifier, ApiError> {
        self.verifier
            .get_or_try_init(|| async {
                let key = self.signer.public_key().await?;
                Ok::<_, ApiError>(TokenVerifier::new(vec![key], &self.config.issuer, &self.config.audience))
            })
            .await
    }

    /// The AWS home: DynamoDB table, audit archive bucket and KMS signing key named by `settings`.
    /// Builds only the three clients it uses and makes no network call.
    pub fn aws(sdk: &aws_config::SdkConfig, settings: &AwsSettings, config: Config) -> App {
        App::new(
            Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table)),
            Arc::new(S3Objects::new(ctp_aws::s3_client(sdk), &settings.archive_bucket)),
            Arc::new(KmsSigner::new(aws_sdk_kms::Client::new(sdk), &settings.signing_key_id)),
            Config { region: settings.region.clone(), ..config },
        )
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
