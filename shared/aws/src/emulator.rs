//! The stack's stateful resources created on an AWS emulator (moto server) as template.yaml
//! declares them: the table with its index and stream, the audit archive bucket with Object Lock
//! in compliance mode, the signing and data keys. Used by `ctp serve --aws-endpoint` and the
//! adapter tests; on AWS the template creates them. Idempotent, so a restarted server finds what
//! it made before.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, DefaultRetention, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
};

use crate::config::{AwsSettings, Clients};

#[derive(Debug, thiserror::Error)]
#[error("creating {what} on the emulator failed: {detail}")]
pub struct ProvisionError {
    what: String,
    detail: String,
}

fn failed<E: std::error::Error>(what: &str) -> impl FnOnce(E) -> ProvisionError + '_ {
    move |e| ProvisionError { what: what.to_owned(), detail: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string() }
}

/// Create (or find) the resources named after `prefix` and return the settings that point at them.
pub async fn provision(
    clients: &Clients,
    region: &str,
    endpoint: &str,
    prefix: &str,
    archive_retention_days: i32,
) -> Result<AwsSettings, ProvisionError> {
    let table = format!("{prefix}-table");
    let archive_bucket = format!("{prefix}-audit-archive");
    create_table(clients, &table).await?;
    create_archive_bucket(clients, region, &archive_bucket, archive_retention_days).await?;
    let signing_key_id = key(clients, &format!("alias/{prefix}-token-signing"), KeySpec::EccNistP256, KeyUsageType::SignVerify).await?;
    let data_key_id = key(clients, &format!("alias/{prefix}-data"), KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt).await?;
    // CreateQueue returns the existing queue's URL when it exists with the same attributes.
    let failure_queue_url = clients
        .sqs
        .create_queue()
        .queue_name(format!("{prefix}-stream-failures"))
        .send()
        .await
        .map_err(failed("the failure queue"))?
        .queue_url;
    Ok(AwsSettings {
        region: region.to_owned(),
        endpoint: Some(endpoint.to_owned()),
        table,
        archive_bucket,
        signing_key_id,
        data_key_id,
        failure_queue_url,
    })
}

async fn create_table(clients: &Clients, table: &str) -> Result<(), ProvisionError> {
    let built = failed::<aws_sdk_dynamodb::error::BuildError>("the table");
    let attr = |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let request = (|| {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(crate::dynamo::GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash)?)
            .key_schema(key("gsi1sk", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()?;
        Ok(clients
            .dynamodb
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("gsi1pk")?)
            .attribute_definitions(attr("gsi1sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .stream_specification(stream))
    })()
    .map_err(built)?;
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(failed("the table")(e)),
    }
}

async fn create_archive_bucket(clients: &Clients, region: &str, bucket: &str, days: i32) -> Result<(), ProvisionError> {
    let mut create = clients.s3.create_bucket().bucket(bucket).object_lock_enabled_for_bucket(true);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_bucket_already_owned_by_you()) => return Ok(()),
        Err(e) => return Err(failed("the audit archive bucket")(e)),
    }
    let lock = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(DefaultRetention::builder().mode(ObjectLockRetentionMode::Compliance).days(days).build())
                .build(),
        )
        .build();
    clients
        .s3
        .put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(lock)
        .send()
        .await
        .map_err(failed("the archive's Object Lock"))?;
    Ok(())
}

/// The key behind `alias`, created with the alias on first use.
async fn key(clients: &Clients, alias: &str, spec: KeySpec, usage: KeyUsageType) -> Result<String, ProvisionError> {
    let aliases = clients.kms.list_aliases().send().await.map_err(failed("the keys"))?;
    if let Some(id) = aliases.aliases().iter().find(|a| a.alias_name() == Some(alias)).and_then(|a| a.target_key_id())
    {
        return Ok(id.to_owned());
    }
    let created = clients
        .kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(format!("ctp {alias}"))
        .send()
        .await
        .map_err(failed("a key"))?;
    let id = created.key_metadata.map(|m| m.key_id).ok_or_else(|| ProvisionError {
        what: alias.to_owned(),
        detail: "no key metadata returned".into(),
    })?;
    clients.kms.create_alias().alias_name(alias).target_key_id(&id).send().await.map_err(failed("a key alias"))?;
    Ok(id)
}
