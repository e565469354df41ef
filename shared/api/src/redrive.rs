//! The `stream-redrive` function, run on a schedule. When a stream function keeps failing on a
//! batch, its event source mapping gives up after its retries and puts a record of the batch
//! (shard and sequence range) on the failure queue. Audit entries in such a batch would be missing
//! from the archive. This function reads those records, reads the batch from the stream again
//! (it keeps records for 24 hours) and hands it to the same stream function; a message is deleted
//! only when the whole batch succeeded, so nothing is dropped. Only the AWS home has it: the local
//! pump never gives up on a record.

use aws_lambda_events::dynamodb::Event;
use ctp_aws::failures::FailureQueue;
use ctp_aws::streams::StreamReader;
use serde::Serialize;

use crate::App;

/// How long a message being handled stays hidden from the next run.
const HIDE_SECONDS: i32 = 300;

pub struct Redrive {
    pub queue: FailureQueue,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub region: String,
}

/// What one run did; also the function's result.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Batches handed back and acknowledged: their messages are deleted.
    pub redriven: usize,
    /// Batches that failed again or could not be read now: their messages return later.
    pub failed_again: usize,
    /// Messages no run can act on (not a failure record, an unknown function, or records the
    /// stream no longer holds): left in the queue, where its alarm keeps asking for a person.
    pub unusable: usize,
}

/// One scheduled run. `event` is the EventBridge "Scheduled Event" that triggered it; anything
/// else is refused, so a misrouted invocation is an error rather than a silent run.
pub async fn handle(app: &App, redrive: &Redrive, event: &serde_json::Value) -> Result<Summary, String> {
    if event["source"] != "aws.events" || event["detail-type"] != "Scheduled Event" {
        return Err(format!("not an EventBridge scheduled event: {}", event["detail-type"]));
    }
    let mut summary = Summary::default();
    for failure in redrive.queue.receive(HIDE_SECONDS).await? {
        let batch = match failure.batch {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "unusable message on the failure queue");
                summary.unusable += 1;
                continue;
            }
        };
        let Some(function) = crate::STREAM_FUNCTIONS.iter().find(|f| batch.function_name.ends_with(*f)) else {
            tracing::error!(function = %batch.function_name, "failure record of an unknown stream function");
            summary.unusable += 1;
            continue;
        };
        let reader = StreamReader::for_stream(redrive.streams.clone(), &redrive.region, &batch.stream_arn);
        let records = match reader.range(&batch.shard_id, &batch.start_sequence, &batch.end_sequence).await {
            Ok(r) if r.is_empty() => {
                tracing::error!(shard = %batch.shard_id, start = %batch.start_sequence, "the stream no longer holds the failed batch");
                summary.unusable += 1;
                continue;
            }
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading the failed batch from the stream failed; next run");
                summary.failed_again += 1;
                continue;
            }
        };
        let count = records.len();
        let mut event = Event::default();
        event.records = records;
        match crate::handle_stream(app, function, event).await {
            Some(response) if response.batch_item_failures.is_empty() => {
                redrive.queue.delete(&failure.receipt).await?;
                tracing::info!(function, records = count, "failed batch redriven");
                summary.redriven += 1;
            }
            _ => {
                tracing::warn!(function, records = count, "redriven batch failed again; next run");
                summary.failed_again += 1;
            }
        }
    }
    Ok(summary)
}
