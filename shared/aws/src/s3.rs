//! Objects on S3: write-once through a conditional put (If-None-Match), so a redelivered archive
//! write is "already done" and never a second version. Encryption (SSE-KMS) and retention
//! (Object Lock) are the bucket's defaults, set by the template.

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use ctp_store::StoreError;
use ctp_store::objects::{ObjectStore, check_key};

pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Objects {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Objects { client, bucket: bucket.into() }
    }
}

fn unavailable(e: impl std::error::Error) -> StoreError {
    let detail = DisplayErrorContext(e).to_string();
    tracing::warn!(error = %detail, "s3 call failed");
    StoreError::Unavailable(detail)
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        check_key(key)?;
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            // 412: the key exists. 409: a concurrent conditional write of the same key won.
            Err(e) if matches!(e.code(), Some("PreconditionFailed" | "ConditionalRequestConflict")) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let body = out.body.collect().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Some(body.to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}
