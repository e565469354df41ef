//! The built-in identity provider: passwords (argon2id, policy), machine-client secrets, and
//! ES256 JWT access tokens signed by a key behind the [`TokenSigner`] trait (a key file locally,
//! KMS on AWS) and verified against the published JWKS.

pub mod jwt;
pub mod password;
pub mod secret;

pub use jwt::{AuthError, Claims, TokenVerifier};
/// Signing keys live in their own crate (ctp-keys) because ledger checkpoints use them too.
pub use ctp_keys::signing as keys;
pub use keys::{FileKeySigner, TokenSigner};
