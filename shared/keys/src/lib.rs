//! Keys behind small traits, so that the private halves stay in KMS on AWS and in key files of
//! the data directory locally: [`signing`] for access tokens and checkpoints, [`data`] for
//! envelope encryption.

pub mod data;
pub mod signing;

pub use data::{DataKeys, EncryptionContext, FileDataKeys};
pub use signing::{FileKeySigner, KeyError, PublicKey, TokenSigner};
