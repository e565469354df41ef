//! Subjects: a person screened at a site, enrolled once consent is documented, and followed to
//! completion or withdrawal.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{SiteId, StudyId, SubjectId, UserId};
use crate::lifecycle::Lifecycle;
use crate::{DomainError, display_as_serde, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStatus {
    Screening,
    ScreenFailed,
    Enrolled,
    Completed,
    Withdrawn,
}
display_as_serde!(SubjectStatus);

impl Lifecycle for SubjectStatus {
    const ENTITY: &'static str = "subject";
    fn next_states(self) -> &'static [Self] {
        use SubjectStatus::*;
        match self {
            Screening => &[Enrolled, ScreenFailed],
            Enrolled => &[Completed, Withdrawn],
            ScreenFailed | Completed | Withdrawn => &[],
        }
    }
}

/// The subject number on the casebook (`101-001`), unique within a study.
pub fn parse_subject_number(raw: &str) -> Result<String, DomainError> {
    let n = text::bounded("subject_number", raw, 32)?;
    if n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(n.to_uppercase())
    } else {
        Err(DomainError::invalid("subject_number", "may contain letters, digits and '-' only"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub id: SubjectId,
    pub study_id: StudyId,
    pub site_id: SiteId,
    pub subject_number: String,
    pub status: SubjectStatus,
    pub consent_date: Option<NaiveDate>,
    pub enrolled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
}

/// The fields a PATCH may set; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct SubjectChange {
    pub status: Option<SubjectStatus>,
    pub consent_date: Option<NaiveDate>,
}

impl Subject {
    pub fn screen(
        study_id: StudyId,
        site_id: SiteId,
        subject_number: String,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Self {
        Subject {
            id: SubjectId::generate(),
            study_id,
            site_id,
            subject_number,
            status: SubjectStatus::Screening,
            consent_date: None,
            enrolled_at: None,
            created_at: now,
            created_by,
        }
    }

    /// Apply a change; returns whether it enrols the subject (which takes a place at the site).
    /// A refused change leaves the subject as it was.
    pub fn apply(&mut self, change: SubjectChange, now: DateTime<Utc>) -> Result<bool, DomainError> {
        let mut next = self.clone();
        if let Some(date) = change.consent_date {
            if date > now.date_naive() {
                return Err(DomainError::invalid("consent_date", "must not be in the future"));
            }
            next.consent_date = Some(date);
        }
        let mut enrols = false;
        if let Some(to) = change.status {
            next.status = self.status.transition(to)?;
            if to == SubjectStatus::Enrolled {
                if next.consent_date.is_none() {
                    return Err(DomainError::Rule(
                        "informed consent date is required to enroll a subject".into(),
                    ));
                }
                next.enrolled_at = Some(now);
                enrols = true;
            }
        }
        *self = next;
        Ok(enrols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject::screen(StudyId::generate(), SiteId::generate(), "101-001".into(), UserId::generate(), Utc::now())
    }

    #[test]
    fn enrolment_requires_a_consent_date() {
        let mut s = subject();
        let err = s
            .apply(SubjectChange { status: Some(SubjectStatus::Enrolled), ..Default::default() }, Utc::now())
            .unwrap_err();
        assert!(err.to_string().contains("informed consent"));
        let consent = Utc::now().date_naive();
        let enrols = s
            .apply(SubjectChange { status: Some(SubjectStatus::Enrolled), consent_date: Some(consent) }, Utc::now())
            .unwrap();
        assert!(enrols);
        assert_eq!(s.status, SubjectStatus::Enrolled);
        assert!(s.enrolled_at.is_some());
    }

    #[test]
    fn consent_in_the_future_is_refused() {
        let mut s = subject();
        let tomorrow = Utc::now().date_naive().succ_opt().unwrap();
        assert!(s.apply(SubjectChange { consent_date: Some(tomorrow), ..Default::default() }, Utc::now()).is_err());
    }

    #[test]
    fn screen_failed_is_final_and_names_no_moves() {
        let err = SubjectStatus::ScreenFailed.transition(SubjectStatus::Enrolled).unwrap_err();
        match err {
            DomainError::InvalidTransition { allowed, .. } => assert!(allowed.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
        let err = SubjectStatus::Screening.transition(SubjectStatus::Completed).unwrap_err();
        assert!(err.to_string().ends_with("allowed: enrolled, screen_failed"));
    }

    #[test]
    fn subject_numbers_are_normalised() {
        assert_eq!(parse_subject_number(" 101-a01 ").unwrap(), "101-A01");
        assert!(parse_subject_number("101/001").is_err());
    }
}
