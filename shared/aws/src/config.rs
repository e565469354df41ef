//! SDK configuration, built once per execution environment in `main` (never per request).
//! Region and an optional endpoint override come from the environment, so nothing probes the
//! instance metadata service and init stays fast.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where the AWS home lives: the stack's resources, named by the template's outputs and passed
/// to every function as environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: String,
    /// An emulator's URL (moto server) instead of the AWS endpoints.
    pub endpoint: Option<String>,
    pub table: String,
    pub archive_bucket: String,
    pub signing_key_id: String,
    pub data_key_id: String,
    /// The stream functions' on-failure queue (only the redrive function reads it).
    pub failure_queue_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is not set: the function's environment must name its stack resources")]
pub struct MissingSetting(pub &'static str);

impl AwsSettings {
    /// `None` when `CTP_TABLE` is unset (not the AWS home); an error when it is set but another
    /// setting is missing.
    pub fn from_env() -> Result<Option<AwsSettings>, MissingSetting> {
        let Ok(table) = std::env::var("CTP_TABLE") else { return Ok(None) };
        let var = |k: &'static str| std::env::var(k).map_err(|_| MissingSetting(k));
        Ok(Some(AwsSettings {
            region: var("AWS_REGION")?,
            endpoint: std::env::var("AWS_ENDPOINT_URL").ok().filter(|s| !s.is_empty()),
            table,
            archive_bucket: var("CTP_ARCHIVE_BUCKET")?,
            signing_key_id: var("CTP_SIGNING_KEY_ID")?,
            data_key_id: var("CTP_DATA_KEY_ID")?,
            failure_queue_url: std::env::var("CTP_FAILURE_QUEUE_URL").ok().filter(|s| !s.is_empty()),
        }))
    }

    /// The settings as environment variables, for processes started against the same home.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_REGION", self.region.clone()),
            ("CTP_TABLE", self.table.clone()),
            ("CTP_ARCHIVE_BUCKET", self.archive_bucket.clone()),
            ("CTP_SIGNING_KEY_ID", self.signing_key_id.clone()),
            ("CTP_DATA_KEY_ID", self.data_key_id.clone()),
        ];
        if let Some(e) = &self.endpoint {
            env.push(("AWS_ENDPOINT_URL", e.clone()));
        }
        if let Some(q) = &self.failure_queue_url {
            env.push(("CTP_FAILURE_QUEUE_URL", q.clone()));
        }
        env
    }
}

/// The shared SDK configuration. HTTPS uses rustls with ring (see the workspace manifest). With
/// an emulator endpoint and no credentials in the environment, fixed emulator credentials are
/// used, since moto accepts any.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned())).http_client(http);
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new("emulator", "emulator", None, None, "ctp-emulator"));
        }
    }
    loader.load().await
}

/// An S3 client for `config`. Path-style addressing with an endpoint override: emulators serve
/// buckets under their own host name, not as subdomains.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// Every SDK client of the platform, made from one configuration: for the tools and tests that
/// use them all (a function builds only the clients it calls, see `ctp_api::App::aws`).
#[derive(Clone, Debug)]
pub struct Clients {
    pub config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Clients {
        Clients {
            config: config.clone(),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            streams: aws_sdk_dynamodbstreams::Client::new(config),
            s3: s3_client(config),
            kms: aws_sdk_kms::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }
}
