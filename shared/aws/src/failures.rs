//! Stream batches an event source mapping gave up on. After its retries (or the record age) run
//! out, Lambda sends the mapping's on-failure destination, an SQS queue, a message that describes
//! the batch: the shard and the range of sequence numbers, not the records. While the stream still
//! holds them (24 hours), they can be read again and handed to the function once more.

use aws_sdk_sqs::error::DisplayErrorContext;
use serde::Deserialize;

/// What Lambda's on-failure record says about a DynamoDB stream batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedBatch {
    /// The function that failed, as named in its ARN.
    pub function_name: String,
    pub stream_arn: String,
    pub shard_id: String,
    pub start_sequence: String,
    pub end_sequence: String,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "requestContext")]
    request_context: RequestContext,
    #[serde(rename = "DDBStreamBatchInfo")]
    batch: BatchInfo,
}

#[derive(Deserialize)]
struct RequestContext {
    #[serde(rename = "functionArn")]
    function_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchInfo {
    shard_id: String,
    start_sequence_number: String,
    end_sequence_number: String,
    stream_arn: String,
}

impl FailedBatch {
    pub fn parse(body: &str) -> Result<FailedBatch, String> {
        let r: Record = serde_json::from_str(body).map_err(|e| format!("not a DynamoDB stream failure record: {e}"))?;
        // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        let function_name = r
            .request_context
            .function_arn
            .split(':')
            .nth(6)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("function ARN {:?} names no function", r.request_context.function_arn))?
            .to_owned();
        Ok(FailedBatch {
            function_name,
            stream_arn: r.batch.stream_arn,
            shard_id: r.batch.shard_id,
            start_sequence: r.batch.start_sequence_number,
            end_sequence: r.batch.end_sequence_number,
        })
    }
}

/// A message of the failure queue: its receipt (to delete it once handled) and what it says.
pub struct Failure {
    pub receipt: String,
    pub batch: Result<FailedBatch, String>,
}

pub struct FailureQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

fn detail(e: impl std::error::Error) -> String {
    DisplayErrorContext(e).to_string()
}

impl FailureQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        FailureQueue { client, url: url.into() }
    }

    /// Up to 10 messages. They stay invisible for `hide_seconds`, then return unless deleted.
    pub async fn receive(&self, hide_seconds: i32) -> Result<Vec<Failure>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .visibility_timeout(hide_seconds)
            .send()
            .await
            .map_err(detail)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receipt = m.receipt_handle?;
                Some(Failure { receipt, batch: FailedBatch::parse(m.body.as_deref().unwrap_or_default()) })
            })
            .collect())
    }

    pub async fn delete(&self, receipt: &str) -> Result<(), String> {
        self.client.delete_message().queue_url(&self.url).receipt_handle(receipt).send().await.map_err(detail)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_failure_record_names_the_function_and_the_range() {
        let body = r#"{
          "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:eu-central-1:123456789012:function:ctp-eu-central-1-audit-archiver",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
          "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
          "version": "1.0", "timestamp": "2026-12-04T10:00:00.000Z",
          "DDBStreamBatchInfo": {"shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362", "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2026-12-04T09:59:00Z",
            "approximateArrivalOfLastRecord": "2026-12-04T09:59:00Z", "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:eu-central-1:123456789012:table/ctp/stream/2026-12-04T00:00:00.000"}
        }"#;
        let b = FailedBatch::parse(body).unwrap();
        assert_eq!(b.function_name, "ctp-eu-central-1-audit-archiver");
        assert_eq!(b.shard_id, "shardId-00000001573689847184-864758bb");
        assert_eq!((b.start_sequence.as_str(), b.end_sequence.as_str()), ("800000000003126276362", "800000000003126276362"));
        assert!(FailedBatch::parse("{}").is_err());
        assert!(FailedBatch::parse(&body.replace("function:ctp-eu-central-1-audit-archiver", "function:")).is_err());
    }
}
