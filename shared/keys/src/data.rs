//! Envelope encryption: each sealed value gets its own AES-256-GCM data key, and only the data
//! key wrapped by a master key (KMS on AWS, a key file locally) is stored beside the ciphertext.
//! The encryption context (tenant, purpose, ...) is bound to both layers, so a sealed value moved
//! to another tenant's record no longer opens.

use std::collections::BTreeMap;
use std::path::Path;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use async_trait::async_trait;
use rand_core::{OsRng, RngCore};

use crate::signing::KeyError;

/// Non-secret facts bound to a ciphertext (KMS's EncryptionContext; AAD locally).
pub type EncryptionContext = BTreeMap<String, String>;

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
/// First bytes of every sealed value: format and version, so the layout can evolve.
const MAGIC: &[u8; 4] = b"CTE1";

/// A fresh data key: use the plaintext once, store only the wrapped form.
pub struct DataKey {
    pub plaintext: [u8; KEY_BYTES],
    pub wrapped: Vec<u8>,
}

#[async_trait]
pub trait DataKeys: Send + Sync {
    /// A new AES-256 data key and its wrapped form (KMS GenerateDataKey).
    async fn generate(&self, context: &EncryptionContext) -> Result<DataKey, KeyError>;
    /// Unwrap a data key made by `generate` with the same context (KMS Decrypt).
    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<[u8; KEY_BYTES], KeyError>;
}

/// The context as associated data: a canonical byte form (BTreeMap orders the keys).
fn aad(context: &EncryptionContext) -> Vec<u8> {
    serde_json::to_vec(context).unwrap_or_default()
}

fn aes_seal(key: &[u8; KEY_BYTES], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    let ct = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad })
        .map_err(|_| KeyError::Data("encryption failed".into()))?;
    Ok([nonce.as_slice(), &ct].concat())
}

fn aes_open(key: &[u8; KEY_BYTES], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (nonce, ct) = sealed.split_first_chunk::<NONCE_BYTES>().ok_or_else(|| KeyError::Data("ciphertext is truncated".into()))?;
    let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ct, aad })
        .map_err(|_| KeyError::Data("ciphertext does not open with this key and context".into()))
}

/// Encrypt `plaintext` under a fresh data key. Layout: MAGIC | u16 wrapped-key length | wrapped
/// key | nonce | ciphertext and tag.
pub async fn seal(keys: &dyn DataKeys, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
    let key = keys.generate(context).await?;
    let body = aes_seal(&key.plaintext, plaintext, &aad(context))?;
    let len = u16::try_from(key.wrapped.len()).map_err(|_| KeyError::Data("wrapped key is too long".into()))?;
    Ok([MAGIC.as_slice(), &len.to_be_bytes(), &key.wrapped, &body].concat())
}

/// Decrypt a value made by [`seal`] with the same context.
pub async fn open(keys: &dyn DataKeys, sealed: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
    let bad = || KeyError::Data("not a sealed value".into());
    let rest = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(bad)?;
    let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    let len = u16::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(bad());
    }
    let (wrapped, body) = rest.split_at(len);
    let key = keys.unwrap(wrapped, context).await?;
    aes_open(&key, body, &aad(context))
}

/// The local master key: 32 random bytes in `keys/data-key.bin` of the data directory (mode 0600),
/// wrapping data keys with AES-256-GCM as KMS would.
pub struct FileDataKeys {
    master: [u8; KEY_BYTES],
}

impl FileDataKeys {
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::File { path: path.display().to_string(), reason };
        if path.exists() {
            let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
            let master = <[u8; KEY_BYTES]>::try_from(bytes.as_slice())
                .map_err(|_| err(format!("a master key is {KEY_BYTES} bytes, not {}", bytes.len())))?;
            return Ok(FileDataKeys { master });
        }
        let mut master = [0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut master);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        crate::signing::write_private(path, &master).map_err(|e| err(e.to_string()))?;
        Ok(FileDataKeys { master })
    }
}

#[async_trait]
impl DataKeys for FileDataKeys {
    async fn generate(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let mut plaintext = [0u8; KEY_BYTES];
        OsRng.fill_bytes(&mut plaintext);
        let wrapped = aes_seal(&self.master, &plaintext, &aad(context))?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<[u8; KEY_BYTES], KeyError> {
        let key = aes_open(&self.master, wrapped, &aad(context))?;
        <[u8; KEY_BYTES]>::try_from(key.as_slice()).map_err(|_| KeyError::Data("unwrapped key has the wrong length".into()))
    }
}

/// The behaviour every `DataKeys` backend must show; run against each backend in its tests.
pub async fn check_data_keys_contract(keys: &dyn DataKeys) {
    let ctx = |tenant: &str| EncryptionContext::from([("tenant".to_owned(), tenant.to_owned())]);
    let sealed = seal(keys, b"date of birth: 1970-01-01", &ctx("acme")).await.unwrap();
    assert!(!sealed.windows(10).any(|w| w == b"date of bi"), "the plaintext is not in the sealed value");
    assert_eq!(open(keys, &sealed, &ctx("acme")).await.unwrap(), b"date of birth: 1970-01-01");
    assert!(open(keys, &sealed, &ctx("other")).await.is_err(), "another context does not open it");
    let mut flipped = sealed.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(open(keys, &flipped, &ctx("acme")).await.is_err(), "tampering is detected");
    assert!(open(keys, b"CTE1", &ctx("acme")).await.is_err());
    let again = seal(keys, b"date of birth: 1970-01-01", &ctx("acme")).await.unwrap();
    assert_ne!(again, sealed, "every value has its own data key and nonce");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_file_backend_meets_the_contract_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/data-key.bin");
        let keys = FileDataKeys::load_or_create(&path).unwrap();
        check_data_keys_contract(&keys).await;
        let ctx = EncryptionContext::from([("tenant".to_owned(), "acme".to_owned())]);
        let sealed = seal(&keys, b"x", &ctx).await.unwrap();
        let reloaded = FileDataKeys::load_or_create(&path).unwrap();
        assert_eq!(open(&reloaded, &sealed, &ctx).await.unwrap(), b"x");
        let other = FileDataKeys::load_or_create(&dir.path().join("other.bin")).unwrap();
        assert!(open(&other, &sealed, &ctx).await.is_err(), "another master key does not open it");
    }
}
