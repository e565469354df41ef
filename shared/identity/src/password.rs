//! Password hashing (argon2id, OWASP parameters) and the password policy.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Why a password was refused; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the password must be at least {MIN_LENGTH} characters long")]
    TooShort,
    #[error("the password must be at most 256 characters long")]
    TooLong,
    #[error("the password must not be the email address")]
    IsEmail,
    #[error("the password is too common or too easy to guess")]
    Common,
}

pub const MIN_LENGTH: usize = 12;

/// Policy: at least 12 characters, not the email address (or its local part), and not a common or
/// easily guessed password. Commonness is judged by zxcvbn, whose dictionaries include the most
/// common leaked passwords; a guess estimate below 10^8 is refused.
pub fn check_policy(password: &str, email: &str) -> Result<(), PolicyViolation> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(PolicyViolation::TooShort);
    }
    if len > 256 {
        return Err(PolicyViolation::TooLong);
    }
    let lowered = password.to_lowercase();
    let email = email.to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered == email || (!local.is_empty() && lowered == local) {
        return Err(PolicyViolation::IsEmail);
    }
    let estimate = zxcvbn::zxcvbn(password, &[&email, local]);
    if (estimate.score() as u8) < 3 {
        return Err(PolicyViolation::Common);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Constant-time verification against a stored PHC string; a malformed hash never verifies.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that a login for an unknown email
/// costs the same time as one for a known email.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("dummy password that never matches"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapl", &h));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(hash("same"), hash("same"), "salts differ");
    }

    #[test]
    fn policy_refuses_short_email_and_common_passwords() {
        let email = "ana.lopez@site.org";
        assert_eq!(check_policy("Sh0rt!pass", email), Err(PolicyViolation::TooShort));
        assert_eq!(check_policy("Ana.Lopez@site.org", email), Err(PolicyViolation::IsEmail));
        assert_eq!(check_policy("password1234", email), Err(PolicyViolation::Common));
        assert_eq!(check_policy("123456789012", email), Err(PolicyViolation::Common));
        assert_eq!(check_policy("qwertyuiop123", email), Err(PolicyViolation::Common));
        assert_eq!(check_policy("Violet-Harbor-Lantern-42", email), Ok(()));
    }
}
