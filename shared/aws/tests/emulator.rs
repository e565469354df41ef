//! The AWS adapters against moto server over HTTP. `scripts/test.sh` starts moto on a free
//! loopback port and sets CTP_TEST_AWS_ENDPOINT; without it these tests fail, never skip.

use async_trait::async_trait;
use aws_lambda_events::dynamodb::EventRecord;
use ctp_aws::streams::StreamReader;
use ctp_aws::{AwsSettings, Clients, DynamoStore, KmsDataKeys, KmsSigner, S3Objects};
use ctp_keys::TokenSigner;
use ctp_store::contract::{self, ChangeFeed};
use p256::ecdsa::signature::Verifier;

const REGION: &str = "eu-central-1";

async fn emulator() -> (Clients, AwsSettings) {
    let endpoint = std::env::var("CTP_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "CTP_TEST_AWS_ENDPOINT is not set. These tests need moto server: run scripts/test.sh, which \
             starts it, or start `moto_server -H 127.0.0.1 -p 5055` (pip install 'moto[server]') and set \
             CTP_TEST_AWS_ENDPOINT=http://127.0.0.1:5055"
        )
    });
    let config = ctp_aws::sdk_config(REGION, Some(&endpoint)).await;
    let clients = Clients::new(&config);
    // A prefix of its own per test: tests share one emulator and run in parallel.
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple()).chars().take(20).collect::<String>();
    let settings = ctp_aws::emulator::provision(&clients, REGION, &endpoint, &prefix, 1)
        .await
        .unwrap_or_else(|e| panic!("could not reach or provision the emulator at {endpoint}: {e}"));
    (clients, settings)
}

struct DynamoFeed(StreamReader);

#[async_trait]
impl ChangeFeed for DynamoFeed {
    async fn read(&mut self) -> Vec<EventRecord> {
        // Through JSON, as Lambda hands records to a function.
        let records = self.0.read().await.unwrap();
        serde_json::from_value(serde_json::to_value(records).unwrap()).unwrap()
    }
}

#[tokio::test]
async fn dynamodb_passes_the_store_contract_with_its_stream() {
    let (clients, settings) = emulator().await;
    let store = DynamoStore::new(clients.dynamodb.clone(), &settings.table);
    let reader = StreamReader::for_table(&clients.dynamodb, clients.streams.clone(), REGION, &settings.table)
        .await
        .unwrap();
    contract::run_all(&store, &mut DynamoFeed(reader)).await;
}

#[tokio::test]
async fn s3_objects_are_write_once_and_locked_versions_cannot_be_deleted() {
    let (clients, settings) = emulator().await;
    let objects = S3Objects::new(clients.s3.clone(), &settings.archive_bucket);
    contract::objects_are_written_once(&objects, "contract").await;

    use ctp_store::objects::ObjectStore;
    assert!(objects.put_new("audit/acme/e1.json", b"{}".to_vec()).await.unwrap());
    let head = clients.s3.head_object().bucket(&settings.archive_bucket).key("audit/acme/e1.json").send().await.unwrap();
    let version = head.version_id().expect("the archive bucket is versioned").to_owned();
    assert_eq!(head.object_lock_mode().map(|m| m.as_str()), Some("COMPLIANCE"));
    let deleted = clients
        .s3
        .delete_object()
        .bucket(&settings.archive_bucket)
        .key("audit/acme/e1.json")
        .version_id(&version)
        .send()
        .await;
    let err = deleted.expect_err("a locked version cannot be deleted");
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("AccessDenied"));
    assert_eq!(objects.get("audit/acme/e1.json").await.unwrap().unwrap(), b"{}");
}

#[tokio::test]
async fn a_kms_signature_verifies_with_the_exported_public_key() {
    let (clients, settings) = emulator().await;
    let signer = KmsSigner::new(clients.kms.clone(), &settings.signing_key_id);
    let public = signer.public_key().await.unwrap();
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1MSJ9";
    let sig = signer.sign(message).await.unwrap();
    public.key.verify(message, &sig).expect("the signature verifies with the exported key");
    assert!(public.key.verify(b"another message", &sig).is_err());
    assert_eq!(signer.public_key().await.unwrap(), public, "the public key is fetched once and kept");

    let wrong = KmsSigner::new(clients.kms.clone(), &settings.data_key_id);
    assert!(wrong.public_key().await.is_err(), "a symmetric key is refused as a signing key");
}

#[tokio::test]
async fn kms_data_keys_meet_the_envelope_contract() {
    let (clients, settings) = emulator().await;
    ctp_keys::data::check_data_keys_contract(&KmsDataKeys::new(clients.kms.clone(), &settings.data_key_id)).await;
}
