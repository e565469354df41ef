//! The composition root of a Lambda function: build the clients once per execution environment
//! from the environment, then serve invocations with the shared handlers.

use ctp_aws::AwsSettings;

use crate::{App, Config};

/// JSON log lines (AWS_LAMBDA_LOG_FORMAT decides on Lambda); handlers never log PHI, passwords
/// or tokens.
pub fn init_tracing() {
    lambda_http::tracing::init_default_subscriber();
}

/// Build the App for this execution environment, chosen by the environment: `CTP_TABLE` (with
/// the other stack settings, see [`AwsSettings::from_env`]) selects the AWS home; `CTP_DATA_DIR`
/// the embedded store (local runs of the function binaries).
pub async fn app_from_env() -> Result<App, String> {
    let config = Config::from_env();
    if let Some(settings) = AwsSettings::from_env().map_err(|e| e.to_string())? {
        let sdk = ctp_aws::sdk_config(&settings.region, settings.endpoint.as_deref()).await;
        return Ok(App::aws(&sdk, &settings, config));
    }
    match std::env::var("CTP_DATA_DIR") {
        Ok(dir) => App::local(std::path::Path::new(&dir), config).map(|(app, _)| app),
        Err(_) => Err("no storage configured: set CTP_TABLE (AWS) or CTP_DATA_DIR (local data directory)".into()),
    }
}

async fn leaked_app() -> Result<&'static App, lambda_http::Error> {
    let app = app_from_env().await.map_err(|e| -> lambda_http::Error { e.into() })?;
    Ok(Box::leak(Box::new(app)))
}

/// Serve an HTTP function until the runtime stops it.
pub async fn run_http(function: &'static str) -> Result<(), lambda_http::Error> {
    init_tracing();
    let app = leaked_app().await?;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(crate::handle_http(app, function, req).await)
    }))
    .await
}

/// Serve a DynamoDB-stream function until the runtime stops it.
pub async fn run_stream(function: &'static str) -> Result<(), lambda_http::Error> {
    init_tracing();
    let app = leaked_app().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::dynamodb::Event>| async move {
            crate::handle_stream(app, function, event.payload)
                .await
                .ok_or_else(|| -> lambda_runtime::Error { format!("unknown stream function {function}").into() })
        },
    ))
    .await
}

/// Serve the scheduled `stream-redrive` function: AWS only, with `CTP_FAILURE_QUEUE_URL`.
pub async fn run_redrive() -> Result<(), lambda_http::Error> {
    init_tracing();
    let settings = AwsSettings::from_env()
        .map_err(|e| -> lambda_http::Error { e.to_string().into() })?
        .ok_or("stream-redrive runs only on AWS (set CTP_TABLE and the stack settings): the local pump never gives up on a record")?;
    let queue_url = settings.failure_queue_url.clone().ok_or("CTP_FAILURE_QUEUE_URL is not set")?;
    let sdk = ctp_aws::sdk_config(&settings.region, settings.endpoint.as_deref()).await;
    let redrive: &'static crate::redrive::Redrive = Box::leak(Box::new(crate::redrive::Redrive {
        queue: ctp_aws::failures::FailureQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url),
        streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
        region: settings.region.clone(),
    }));
    let app: &'static App = Box::leak(Box::new(App::aws(&sdk, &settings, Config::from_env())));
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
        crate::redrive::handle(app, redrive, &event.payload).await.map_err(|e| -> lambda_runtime::Error { e.into() })
    }))
    .await
}
