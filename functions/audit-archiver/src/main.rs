//! The `audit-archiver` stream function: DynamoDB stream batches to the write-once audit archive
//! (`ctp_api::archiver`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ctp_api::runtime::run_stream("audit-archiver").await
}
