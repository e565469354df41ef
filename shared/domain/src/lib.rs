//! The platform's domain: what a study, site, subject, membership and audit entry are, which
//! states they move through, and who may do what. Nothing here performs I/O, so every rule can be
//! tested in isolation and shared by every function and both storage homes.

pub mod audit;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod member;
pub mod permissions;
pub mod site;
pub mod study;
pub mod subject;
pub mod tenant;
pub mod text;
pub mod user;

pub use error::DomainError;
