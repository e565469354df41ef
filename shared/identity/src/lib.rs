//! The built-in identity provider: passwords (argon2id, policy), machine-client secrets, and
//! ES256 JWT access tokens signed by a key behind the [`TokenSigner`] trait (a key file locally,
//! KMS on AWS) and verified against the published JWKS.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod secret;

pub use jwt::{AuthError, Claims, TokenVerifier};
pub use keys::{FileKeySigner, TokenSigner};
