//! ES256 JWT access tokens (RFC 7519 / RFC 7515). Verification pins the algorithm and the key id,
//! requires every claim, and checks issuer, audience and the time window, so a token with
//! `alg: none`, another key, another audience or a missing claim is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, PublicKey, TokenSigner};

/// Access tokens live 15 minutes.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// Tolerated clock difference between issuer and verifier.
const LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// User id, or client id for machine clients.
    pub sub: String,
    pub tenant: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// `user` or `client`.
    pub typ: String,
    /// The user's credential version at issue; a later password change or deactivation bumps it.
    /// For clients: always 0.
    pub ver: u32,
    /// Space-separated scopes of a machine client; empty for users.
    pub scope: String,
    /// Studies a machine client may reach; empty for users (their memberships decide).
    pub studies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm or key is not accepted")]
    WrongKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token is expired or not yet valid")]
    Expired,
    #[error("token was issued for another issuer or audience")]
    WrongAudience,
    #[error("token has been revoked")]
    Revoked,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

pub struct Issuer {
    pub iss: String,
    pub aud: String,
}

impl Issuer {
    /// Claims for a token issued now.
    pub fn claims(&self, sub: &str, tenant: &str, typ: &str, ver: u32, now: i64) -> Claims {
        Claims {
            sub: sub.to_owned(),
            tenant: tenant.to_owned(),
            iss: self.iss.clone(),
            aud: self.aud.clone(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: typ.to_owned(),
            ver,
            scope: String::new(),
            studies: Vec::new(),
        }
    }
}

pub async fn sign(claims: &Claims, signer: &dyn TokenSigner) -> Result<String, KeyError> {
    let header = Header { alg: "ES256".into(), typ: "JWT".into(), kid: signer.public_key().await?.kid };
    let signing_input = format!("{}.{}", json_b64(&header), json_b64(claims));
    let sig = signer.sign(signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())))
}

/// base64url of a value's JSON; header and claims are plain structs that always serialize.
fn json_b64<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

/// Verifies tokens against the published keys (kid → key) for one issuer and audience.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Vec<(String, VerifyingKey)>,
    iss: String,
    aud: String,
}

impl TokenVerifier {
    pub fn new(keys: Vec<PublicKey>, iss: &str, aud: &str) -> Self {
        TokenVerifier { keys: keys.into_iter().map(|k| (k.kid, k.key)).collect(), iss: iss.to_owned(), aud: aud.to_owned() }
    }

    /// The JWKS document (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.keys.iter().map(|(kid, k)| crate::keys::jwk(k, kid)).collect::<Vec<_>>() })
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, AuthError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(AuthError::Malformed);
        };
        let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| AuthError::Malformed);
        let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| AuthError::Malformed)?;
        if header.alg != "ES256" {
            return Err(AuthError::WrongKey);
        }
        let key = self.keys.iter().find(|(kid, _)| *kid == header.kid).map(|(_, k)| k).ok_or(AuthError::WrongKey)?;
        let sig = Signature::from_slice(&decode(s)?).map_err(|_| AuthError::BadSignature)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        key.verify(signing_input.as_bytes(), &sig).map_err(|_| AuthError::BadSignature)?;
        // Only a correctly signed token's claims are parsed; every claim is required.
        let claims: Claims = serde_json::from_slice(&decode(p)?).map_err(|_| AuthError::Malformed)?;
        if claims.iss != self.iss || claims.aud != self.aud {
            return Err(AuthError::WrongAudience);
        }
        if claims.exp <= now - LEEWAY_SECONDS
            || claims.nbf > now + LEEWAY_SECONDS
            || claims.iat > now + LEEWAY_SECONDS
            || claims.exp - claims.iat > ACCESS_TOKEN_SECONDS
        {
            return Err(AuthError::Expired);
        }
        Ok(claims)
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Ok(token.trim())
    } else {
        Err(AuthError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::FileKeySigner;
    use p256::ecdsa::SigningKey;

    fn setup() -> (FileKeySigner, TokenVerifier, Issuer) {
        let signer = FileKeySigner::from_key(SigningKey::random(&mut rand_core::OsRng));
        let verifier =
            TokenVerifier::new(vec![PublicKey::new(signer.verifying_key())], "https://iss", "ctp-api");
        (signer, verifier, Issuer { iss: "https://iss".into(), aud: "ctp-api".into() })
    }

    #[tokio::test]
    async fn a_signed_token_verifies_with_all_claims() {
        let (signer, verifier, issuer) = setup();
        let claims = issuer.claims("u1", "acme", "user", 3, 1_000_000);
        let token = sign(&claims, &signer).await.unwrap();
        assert_eq!(verifier.verify(&token, 1_000_010).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[tokio::test]
    async fn expired_and_future_tokens_are_refused() {
        let (signer, verifier, issuer) = setup();
        let token = sign(&issuer.claims("u1", "acme", "user", 1, 1_000_000), &signer).await.unwrap();
        assert_eq!(verifier.verify(&token, 1_000_000 + 901 + LEEWAY_SECONDS), Err(AuthError::Expired));
        assert_eq!(verifier.verify(&token, 1_000_000 - 60), Err(AuthError::Expired));
    }

    #[tokio::test]
    async fn alg_none_other_keys_and_tampering_are_refused() {
        let (signer, verifier, issuer) = setup();
        let claims = issuer.claims("u1", "acme", "user", 1, 1_000_000);
        let token = sign(&claims, &signer).await.unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
        assert_eq!(verifier.verify(&format!("{none_header}.{}.", parts[1]), 1_000_000), Err(AuthError::WrongKey));

        let other = FileKeySigner::from_key(SigningKey::random(&mut rand_core::OsRng));
        let forged = sign(&claims, &other).await.unwrap();
        assert_eq!(verifier.verify(&forged, 1_000_000), Err(AuthError::WrongKey));

        let mut tampered_claims = claims.clone();
        tampered_claims.tenant = "other".into();
        let tampered_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered_claims).unwrap());
        let tampered = format!("{}.{tampered_payload}.{}", parts[0], parts[2]);
        assert_eq!(verifier.verify(&tampered, 1_000_000), Err(AuthError::BadSignature));

        assert_eq!(verifier.verify("a.b", 1_000_000), Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn wrong_audience_and_missing_claims_are_refused() {
        let (signer, verifier, issuer) = setup();
        let mut claims = issuer.claims("u1", "acme", "user", 1, 1_000_000);
        claims.aud = "someone-else".into();
        let token = sign(&claims, &signer).await.unwrap();
        assert_eq!(verifier.verify(&token, 1_000_000), Err(AuthError::WrongAudience));

        // A payload without `jti`, correctly signed, is still refused.
        let mut value = serde_json::to_value(issuer.claims("u1", "acme", "user", 1, 1_000_000)).unwrap();
        value.as_object_mut().unwrap().remove("jti");
        let header = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&Header { alg: "ES256".into(), typ: "JWT".into(), kid: signer.key_id().into() }).unwrap());
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap()));
        let sig = signer.sign(input.as_bytes()).await.unwrap();
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
        assert_eq!(verifier.verify(&token, 1_000_000), Err(AuthError::Malformed));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Malformed));
    }
}
