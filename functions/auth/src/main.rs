//! The `auth` HTTP function: built once per execution environment, then serving API Gateway
//! requests with the shared handler (`ctp_api::auth`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ctp_api::runtime::run_http("auth").await
}
