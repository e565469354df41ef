//! The `audit-archiver` stream consumer: copies every new audit entry, as canonical JSON, to the
//! write-once audit archive (S3 with Object Lock on AWS, a directory locally). Keyed by entry id,
//! so a redelivered batch writes nothing twice; failures are reported per record so that only
//! the failed ones are retried (ReportBatchItemFailures).

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use ctp_domain::audit::AuditEntry;
use ctp_store::stream::{ChangeEvent, ChangeRecord};

use crate::App;

/// The archive key of an entry: by tenant, study and day, so ops can list and retain by prefix.
pub fn archive_key(e: &AuditEntry) -> String {
    format!(
        "audit/{}/{}/{}/{}.json",
        e.tenant_id,
        e.study_id.as_ref().map_or("tenant", |s| s.as_str()),
        e.at.format("%Y-%m-%d"),
        e.id
    )
}

pub async fn handle(app: &App, event: Event) -> DynamoDbEventResponse {
    let mut failures = Vec::new();
    for record in &event.records {
        if let Err(reason) = archive(app, record).await {
            tracing::error!(event_id = %record.event_id, %reason, "audit entry not archived");
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = record.change.sequence_number.clone();
            failures.push(f);
        }
    }
    let mut resp = DynamoDbEventResponse::default();
    resp.batch_item_failures = failures;
    resp
}

async fn archive(app: &App, record: &aws_lambda_events::dynamodb::EventRecord) -> Result<(), String> {
    let change = ChangeRecord::from_event_record(record).map_err(|e| e.to_string())?;
    let Some(item) = change.new.filter(|i| change.event == ChangeEvent::Insert && i.entity == "audit") else {
        return Ok(()); // Not an audit entry: nothing to archive.
    };
    let entry: AuditEntry = item.decode().map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
    app.objects.put_new(&archive_key(&entry), bytes).await.map_err(|e| e.to_string())?;
    Ok(())
}
