//! Machine-client secrets: 256 random bits shown once; only their SHA-256 is stored, which is
//! enough for a secret of that entropy and keeps the token endpoint fast.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::subtle::ConstantTimeEq;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("cts_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn digest(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

pub fn verify(secret: &str, stored_digest: &str) -> bool {
    digest(secret).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_verify_against_their_digest_only() {
        let s = super::generate();
        let d = super::digest(&s);
        assert!(super::verify(&s, &d));
        assert!(!super::verify(&super::generate(), &d));
        assert!(s.len() > 40);
    }
}
