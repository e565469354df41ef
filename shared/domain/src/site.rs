//! Sites: the places where subjects are seen, each with a principal investigator and a cap.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{SiteId, StudyId, UserId};
use crate::lifecycle::Lifecycle;
use crate::{DomainError, display_as_serde, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    Pending,
    Active,
    Closed,
}
display_as_serde!(SiteStatus);

impl Lifecycle for SiteStatus {
    const ENTITY: &'static str = "site";
    fn next_states(self) -> &'static [Self] {
        match self {
            SiteStatus::Pending => &[SiteStatus::Active, SiteStatus::Closed],
            SiteStatus::Active => &[SiteStatus::Closed],
            SiteStatus::Closed => &[],
        }
    }
}

/// ISO 3166-1 alpha-2 country code, stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl Country {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let c = raw.trim().to_uppercase();
        if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(c))
        } else {
            Err(DomainError::invalid(
                "country",
                "must be an ISO 3166-1 alpha-2 code such as DE or US",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Country {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(&s)
    }
}
impl From<Country> for String {
    fn from(c: Country) -> String {
        c.0
    }
}

/// The site number printed on CRFs (`101`, `DE-01`), unique within a study.
pub fn parse_site_number(raw: &str) -> Result<String, DomainError> {
    let n = text::bounded("site_number", raw, 20)?;
    if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(n.to_uppercase())
    } else {
        Err(DomainError::invalid("site_number", "may contain letters, digits and '-' only"))
    }
}

pub fn parse_enrollment_cap(cap: u32) -> Result<u32, DomainError> {
    if (1..=1_000_000).contains(&cap) {
        Ok(cap)
    } else {
        Err(DomainError::invalid("enrollment_cap", "must be between 1 and 1000000"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub study_id: StudyId,
    pub site_number: String,
    pub name: String,
    pub country: Country,
    pub principal_investigator: String,
    pub enrollment_cap: u32,
    /// Subjects currently counted against the cap (enrolled, completed or withdrawn after enrolment).
    pub enrolled_count: u32,
    pub status: SiteStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
}

impl Site {
    /// Enrolment takes a place under the cap; the site must be active.
    pub fn take_enrollment_place(&mut self) -> Result<(), DomainError> {
        if self.status != SiteStatus::Active {
            return Err(DomainError::Rule(format!(
                "site {} is {}; subjects can only be enrolled at an active site",
                self.site_number, self.status
            )));
        }
        if self.enrolled_count >= self.enrollment_cap {
            return Err(DomainError::Rule(format!(
                "site {} has reached its enrollment cap of {}",
                self.site_number, self.enrollment_cap
            )));
        }
        self.enrolled_count += 1;
        Ok(())
    }

    pub fn ensure_screening_open(&self) -> Result<(), DomainError> {
        if self.status == SiteStatus::Active {
            Ok(())
        } else {
            Err(DomainError::Rule(format!(
                "site {} is {}; subjects can only be screened at an active site",
                self.site_number, self.status
            )))
        }
    }

    pub fn name_checked(raw: &str) -> Result<String, DomainError> {
        text::bounded("name", raw, 200)
    }
    pub fn investigator_checked(raw: &str) -> Result<String, DomainError> {
        text::bounded("principal_investigator", raw, 200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(cap: u32, status: SiteStatus) -> Site {
        Site {
            id: SiteId::generate(),
            study_id: StudyId::generate(),
            site_number: "101".into(),
            name: "Charité".into(),
            country: Country::parse("de").unwrap(),
            principal_investigator: "Dr. A".into(),
            enrollment_cap: cap,
            enrolled_count: 0,
            status,
            created_at: Utc::now(),
            created_by: UserId::generate(),
        }
    }

    #[test]
    fn enrollment_stops_at_the_cap() {
        let mut s = site(1, SiteStatus::Active);
        s.take_enrollment_place().unwrap();
        let err = s.take_enrollment_place().unwrap_err();
        assert!(err.to_string().contains("enrollment cap of 1"));
        assert_eq!(s.enrolled_count, 1);
    }

    #[test]
    fn pending_site_cannot_enroll_or_screen() {
        let mut s = site(5, SiteStatus::Pending);
        assert!(s.take_enrollment_place().is_err());
        assert!(s.ensure_screening_open().is_err());
    }

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(Country::parse("de").unwrap().as_str(), "DE");
        assert!(Country::parse("DEU").is_err());
        assert!(Country::parse("1A").is_err());
    }

    #[test]
    fn site_lifecycle() {
        assert!(SiteStatus::Pending.transition(SiteStatus::Active).is_ok());
        assert!(SiteStatus::Closed.transition(SiteStatus::Active).is_err());
        assert!(SiteStatus::Active.transition(SiteStatus::Pending).is_err());
    }
}
