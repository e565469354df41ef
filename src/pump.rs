//! The local twin of DynamoDB Streams' event source mappings: reads the store's stream table (or,
//! on the AWS path, the table's DynamoDB stream) and delivers batches to each stream function as
//! `aws_lambda_events` DynamoDB events. A consumer's checkpoint advances only past records it
//! acknowledged, so nothing is lost across restarts and a failed record is delivered again
//! (consumers are idempotent).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event, EventRecord};
use ctp_api::App;
use ctp_aws::streams::StreamReader;
use ctp_store::SqliteStore;
use ctp_store::stream::Sequence;

const BATCH: u32 = 100;
const TABLE_ARN: &str = "arn:aws:dynamodb:local:000000000000:table/ctp";

/// Deliver pending records to every stream function once; returns how many were acknowledged.
pub async fn pump_once(app: &App, store: &SqliteStore) -> Result<usize, String> {
    let mut delivered = 0;
    for function in ctp_api::STREAM_FUNCTIONS {
        let checkpoint = store.checkpoint(function).await.map_err(|e| e.to_string())?;
        let records = store.changes_after(checkpoint, BATCH).await.map_err(|e| e.to_string())?;
        let Some(last) = records.last().and_then(|r| r.seq.local()) else { continue };
        let mut event = Event::default();
        event.records = records.iter().map(|r| r.to_event_record(&app.config.region, TABLE_ARN)).collect();
        let response = ctp_api::handle_stream(app, function, event)
            .await
            .ok_or_else(|| format!("no stream handler {function}"))?;
        // Like ReportBatchItemFailures: resume from the first failed record.
        let first_failed = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref().and_then(|s| s.parse::<u64>().ok()))
            .min();
        let acknowledged = match first_failed {
            Some(seq) => seq.saturating_sub(1),
            None => last,
        };
        if acknowledged > checkpoint {
            store.set_checkpoint(function, acknowledged).await.map_err(|e| e.to_string())?;
            delivered += records.iter().filter(|r| r.seq.local() <= Some(acknowledged)).count();
        }
    }
    Ok(delivered)
}

pub async fn run(app: Arc<App>, store: Arc<SqliteStore>) {
    loop {
        match pump_once(&app, &store).await {
            Ok(n) if n >= BATCH as usize => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "stream delivery failed; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The AWS path: poll the table's stream as an event source mapping does. Each function keeps
/// the records it has not acknowledged and receives them again, from the first failed one. A
/// restarted server reads the stream from its oldest record again; consumers are idempotent.
pub async fn run_dynamodb(app: Arc<App>, mut reader: StreamReader) {
    let mut pending: Vec<Vec<EventRecord>> = ctp_api::STREAM_FUNCTIONS.iter().map(|_| Vec::new()).collect();
    loop {
        match reader.read().await {
            Ok(records) => pending.iter_mut().for_each(|p| p.extend(records.iter().cloned())),
            Err(e) => tracing::error!(error = %e, "reading the DynamoDB stream failed; retrying"),
        }
        for (function, queue) in ctp_api::STREAM_FUNCTIONS.iter().zip(pending.iter_mut()) {
            while !queue.is_empty() {
                let batch: Vec<EventRecord> = queue.iter().take(BATCH as usize).cloned().collect();
                let mut event = Event::default();
                event.records = batch;
                let Some(response) = ctp_api::handle_stream(&app, function, event).await else { break };
                let first_failed = response
                    .batch_item_failures
                    .iter()
                    .filter_map(|f| f.item_identifier.as_deref().and_then(Sequence::parse))
                    .min();
                let done = match &first_failed {
                    Some(failed) => queue
                        .iter()
                        .take_while(|r| r.change.sequence_number.as_deref().and_then(Sequence::parse).as_ref() < Some(failed))
                        .count(),
                    None => queue.len().min(BATCH as usize),
                };
                queue.drain(..done);
                if first_failed.is_some() {
                    tracing::warn!(function, "stream batch partly failed; redelivering");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
