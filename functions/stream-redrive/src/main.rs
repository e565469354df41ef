//! The `stream-redrive` scheduled function: hands stream batches that a stream function gave up on
//! back to it, from the event source mapping's failure queue (`ctp_api::redrive`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ctp_api::runtime::run_redrive().await
}
