//! Keys in KMS: an ECC_NIST_P256 SIGN_VERIFY key signs tokens and checkpoints (the private half
//! never leaves KMS), and a symmetric key wraps the data keys of envelope encryption.

use async_trait::async_trait;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use ctp_keys::data::{DataKey, DataKeys, EncryptionContext};
use ctp_keys::signing::{KeyError, PublicKey, TokenSigner};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// KMS's limit on a message signed as is.
const RAW_MESSAGE_LIMIT: usize = 4096;

pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
    public: OnceCell<PublicKey>,
}

impl KmsSigner {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        KmsSigner { client, key_id: key_id.into(), public: OnceCell::new() }
    }
}

fn detail(e: impl std::error::Error) -> String {
    DisplayErrorContext(e).to_string()
}

#[async_trait]
impl TokenSigner for KmsSigner {
    async fn public_key(&self) -> Result<PublicKey, KeyError> {
        self.public
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_public_key()
                    .key_id(&self.key_id)
                    .send()
                    .await
                    .map_err(|e| KeyError::PublicKey(detail(e)))?;
                // Older responses (and the emulator) name the spec only as CustomerMasterKeySpec.
                #[allow(deprecated)]
                let spec = out
                    .key_spec
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .or_else(|| out.customer_master_key_spec.as_ref().map(|s| s.as_str().to_owned()));
                if spec.as_deref() != Some(KeySpec::EccNistP256.as_str())
                    || out.key_usage != Some(KeyUsageType::SignVerify)
                {
                    return Err(KeyError::PublicKey(format!(
                        "key {} is {spec:?}/{:?}, not an ECC_NIST_P256 signing key",
                        self.key_id, out.key_usage
                    )));
                }
                let der = out.public_key.ok_or_else(|| KeyError::PublicKey("no public key returned".into()))?;
                let key = VerifyingKey::from_public_key_der(der.as_ref())
                    .map_err(|e| KeyError::PublicKey(format!("public key does not parse: {e}")))?;
                Ok(PublicKey::new(key))
            })
            .await
            .cloned()
    }

    async fn sign(&self, message: &[u8]) -> Result<Signature, KeyError> {
        // KMS takes at most 4 KiB of raw message; a longer one is sent as its SHA-256 digest.
        // (Raw first: tokens fit, and the emulator implements only RAW.)
        let (message, kind) = if message.len() <= RAW_MESSAGE_LIMIT {
            (message.to_vec(), MessageType::Raw)
        } else {
            (Sha256::digest(message).to_vec(), MessageType::Digest)
        };
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(kind)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| KeyError::Sign(detail(e)))?;
        let der = out.signature.ok_or_else(|| KeyError::Sign("no signature returned".into()))?;
        let sig = Signature::from_der(der.as_ref()).map_err(|e| KeyError::Sign(format!("signature does not parse: {e}")))?;
        // KMS may return either S; JWT verifiers commonly expect the low one.
        Ok(sig.normalize_s().unwrap_or(sig))
    }
}

pub struct KmsDataKeys {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsDataKeys {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        KmsDataKeys { client, key_id: key_id.into() }
    }
}

#[async_trait]
impl DataKeys for KmsDataKeys {
    async fn generate(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| KeyError::Data(detail(e)))?;
        let plaintext = out.plaintext.ok_or_else(|| KeyError::Data("no data key returned".into()))?;
        let wrapped = out.ciphertext_blob.ok_or_else(|| KeyError::Data("no wrapped key returned".into()))?;
        Ok(DataKey {
            plaintext: plaintext.as_ref().try_into().map_err(|_| KeyError::Data("data key is not 32 bytes".into()))?,
            wrapped: wrapped.into_inner(),
        })
    }

    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<[u8; 32], KeyError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| KeyError::Data(detail(e)))?;
        let plaintext = out.plaintext.ok_or_else(|| KeyError::Data("no plaintext returned".into()))?;
        plaintext.as_ref().try_into().map_err(|_| KeyError::Data("data key is not 32 bytes".into()))
    }
}
