//! The scheduled `stream-redrive` function against moto server: a batch the audit archiver gave up
//! on is read again from the DynamoDB stream and archived, and only then leaves the failure queue.
//! `scripts/test.sh` starts moto and sets CTP_TEST_AWS_ENDPOINT; without it this test fails.

use ctp_api::redrive::{Redrive, Summary};
use ctp_api::{App, Config};
use ctp_aws::failures::FailureQueue;
use ctp_domain::ids::TenantId;
use ctp_store::objects::ObjectStore;
use ctp_store::stream::ChangeRecord;
use serde_json::{Value, json};

const REGION: &str = "eu-central-1";

fn sample(name: &str) -> Value {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample exists")).expect("sample is JSON")
}

#[tokio::test]
async fn a_batch_the_archiver_gave_up_on_is_archived_and_leaves_the_queue() {
    let endpoint = std::env::var("CTP_TEST_AWS_ENDPOINT")
        .expect("CTP_TEST_AWS_ENDPOINT is not set: run scripts/test.sh, which starts moto server");
    let clients = ctp_aws::Clients::new(&ctp_aws::sdk_config(REGION, Some(&endpoint)).await);
    let prefix: String = format!("r{}", uuid::Uuid::new_v4().simple()).chars().take(16).collect();
    let settings = ctp_aws::emulator::provision(&clients, REGION, &endpoint, &prefix, 1).await.expect("emulator");
    let config = Config { issuer: "http://test".into(), audience: "ctp-api".into(), region: REGION.into() };
    let app = App::aws(&clients.config, &settings, config);

    // A change and its audit entry, on the stream.
    ctp_api::tenants::create_tenant(&app, TenantId::parse("redrive-co").unwrap(), "Redrive Co", REGION).await.unwrap();
    let mut reader =
        ctp_aws::streams::StreamReader::for_table(&clients.dynamodb, clients.streams.clone(), REGION, &settings.table)
            .await
            .unwrap();
    let records = reader.read().await.unwrap();
    let audit = records
        .iter()
        .map(|r| ChangeRecord::from_event_record(r).unwrap())
        .find(|r| r.new.as_ref().is_some_and(|i| i.entity == "audit"))
        .expect("the audit entry is on the stream");
    let entry: ctp_domain::audit::AuditEntry = audit.new.as_ref().unwrap().decode().unwrap();
    let shard = clients
        .streams
        .describe_stream()
        .stream_arn(reader.stream_arn())
        .send()
        .await
        .unwrap()
        .stream_description
        .and_then(|d| d.shards)
        .and_then(|s| s.into_iter().next())
        .and_then(|s| s.shard_id)
        .unwrap();
    let first = records.first().unwrap().change.sequence_number.clone().unwrap();
    let last = records.last().unwrap().change.sequence_number.clone().unwrap();

    // What Lambda puts on the on-failure queue once the archiver's retries ran out.
    let failure = json!({
        "requestContext": {"requestId": "0b1c", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11,
            "functionArn": format!("arn:aws:lambda:{REGION}:123456789012:function:{prefix}-audit-archiver")},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-12-04T10:00:00.000Z",
        "DDBStreamBatchInfo": {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
            "batchSize": records.len(), "streamArn": reader.stream_arn()}
    });
    let queue_url = settings.failure_queue_url.clone().unwrap();
    for body in [failure.to_string(), "not a failure record".to_owned()] {
        clients.sqs.send_message().queue_url(&queue_url).message_body(body).send().await.unwrap();
    }
    let archive = ctp_aws::S3Objects::new(clients.s3.clone(), &settings.archive_bucket);
    let key = ctp_api::archiver::archive_key(&entry);
    assert!(archive.get(&key).await.unwrap().is_none(), "not archived yet");

    let redrive = Redrive {
        queue: FailureQueue::new(clients.sqs.clone(), &queue_url),
        streams: clients.streams.clone(),
        region: REGION.into(),
    };
    let summary = ctp_api::redrive::handle(&app, &redrive, &sample("schedule-stream-redrive.json")).await.unwrap();
    assert_eq!(summary, Summary { redriven: 1, failed_again: 0, unusable: 1 });
    let archived: Value = serde_json::from_slice(&archive.get(&key).await.unwrap().expect("archived")).unwrap();
    assert_eq!(archived["id"], entry.id.to_string());

    // The redriven message is gone; the unusable one stays (hidden for a while) for a person and
    // its alarm.
    use aws_sdk_sqs::types::QueueAttributeName::{ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible};
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(ApproximateNumberOfMessages)
        .attribute_names(ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let count = |name| attributes.get(&name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    assert_eq!(count(ApproximateNumberOfMessages) + count(ApproximateNumberOfMessagesNotVisible), 1);

    let not_scheduled = ctp_api::redrive::handle(&app, &redrive, &sample("stream-audit-insert.json")).await;
    assert!(not_scheduled.is_err(), "only a scheduled event starts a run");
}
