//! The platform's AWS home: the store on DynamoDB (and its stream), objects on S3, signing and
//! data keys in KMS, each behind the same trait as its local twin.

pub mod config;
pub mod dynamo;
pub mod emulator;
pub mod failures;
pub mod kms;
pub mod s3;
pub mod streams;

pub use config::{AwsSettings, Clients, s3_client, sdk_config};
pub use dynamo::DynamoStore;
pub use kms::{KmsDataKeys, KmsSigner};
pub use s3::S3Objects;
