//! HTTP plumbing for the API functions: the one place where errors become HTTP responses
//! (RFC 9457 problem+json), and the helpers that read API Gateway v2.0 requests.

pub mod error;
pub mod request;
pub mod response;

pub use error::ApiError;
pub use lambda_http::{Body, Request, Response};
