//! Signing keys for access tokens and ledger checkpoints (ECDSA P-256 / SHA-256). The signer is a
//! trait because the private key lives in KMS on AWS and never leaves it; locally it is a PKCS#8
//! file in the data directory.

use std::path::Path;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("public key unavailable: {0}")]
    PublicKey(String),
    #[error("data key: {0}")]
    Data(String),
}

/// The public half of a signing key and its `kid` (published in the JWKS, put in token headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub key: VerifyingKey,
}

impl PublicKey {
    pub fn new(key: VerifyingKey) -> Self {
        PublicKey { kid: key_id_for(&key), key }
    }
}

#[async_trait]
pub trait TokenSigner: Send + Sync {
    /// The public key. Asynchronous because a KMS key's public half is fetched on first use
    /// (not at start-up, which keeps cold starts free of network calls); cached after that.
    async fn public_key(&self) -> Result<PublicKey, KeyError>;
    /// ECDSA P-256 / SHA-256 signature over `message`.
    async fn sign(&self, message: &[u8]) -> Result<Signature, KeyError>;
}

/// A key id derived from the public key, so the same key always has the same id.
pub fn key_id_for(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.to_encoded_point(false).as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

/// RFC 7517 JWK of a P-256 public key.
pub fn jwk(key: &VerifyingKey, kid: &str) -> Value {
    let point = key.to_encoded_point(false);
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x().map(|x| x.to_vec()).unwrap_or_default()),
        "y": URL_SAFE_NO_PAD.encode(point.y().map(|y| y.to_vec()).unwrap_or_default()),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    })
}

/// The signing key of local mode: `keys/token-signing.pem` in the data directory.
pub struct FileKeySigner {
    key: SigningKey,
    public: PublicKey,
}

impl FileKeySigner {
    /// Load the key from `path`, creating it (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::File { path: path.display().to_string(), reason };
        let key = if path.exists() {
            let pem = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            SigningKey::from_pkcs8_pem(&pem).map_err(|e| err(e.to_string()))?
        } else {
            let key = SigningKey::random(&mut rand_core::OsRng);
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| err(e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            }
            write_private(path, pem.as_bytes()).map_err(|e| err(e.to_string()))?;
            key
        };
        Ok(Self::from_key(key))
    }

    pub fn from_key(key: SigningKey) -> Self {
        let public = PublicKey::new(*key.verifying_key());
        FileKeySigner { key, public }
    }

    pub fn key_id(&self) -> &str {
        &self.public.kid
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.public.key
    }
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[async_trait]
impl TokenSigner for FileKeySigner {
    async fn public_key(&self) -> Result<PublicKey, KeyError> {
        Ok(self.public.clone())
    }
    async fn sign(&self, message: &[u8]) -> Result<Signature, KeyError> {
        Ok(self.key.sign(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/token-signing.pem");
        let a = FileKeySigner::load_or_create(&path).unwrap();
        let b = FileKeySigner::load_or_create(&path).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        assert_eq!(a.verifying_key(), b.verifying_key());
        let jwk = jwk(&a.verifying_key(), a.key_id());
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x"].as_str().unwrap().len(), 43);
    }
}
