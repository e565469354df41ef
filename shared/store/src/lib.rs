//! Storage shaped after DynamoDB, so that nothing works locally that could not work on AWS.
//!
//! Items are addressed by partition key + sort key, carry a version for optimistic concurrency,
//! may sit in one secondary index (GSI1), and are written only through conditional writes grouped
//! in atomic transactions of at most 100 items. Every committed change is published on a change
//! stream with its old and new image (the local twin of DynamoDB Streams).

mod item;
pub mod objects;
mod sqlite;
pub mod stream;

#[cfg(feature = "contract")]
pub mod contract;

pub use item::{Item, MAX_ITEM_BYTES};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use thiserror::Error;

/// DynamoDB's limit on the number of items in one TransactWriteItems call.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// One write inside a transaction. There is no blind overwrite: every put states whether it
/// creates the item or replaces a version the caller has read.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Put an item that must not exist yet; it gets version 1.
    Create(Item),
    /// Replace the item whose current version is `expected_version`; it gets that version + 1.
    Replace { item: Item, expected_version: u64 },
    /// Delete the item at its `expected_version`.
    Delete { pk: String, sk: String, expected_version: u64 },
    /// Require that an item is still at `expected_version`, without writing it.
    Check { pk: String, sk: String, expected_version: u64 },
}

impl Write {
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Create(i) | Write::Replace { item: i, .. } => (&i.pk, &i.sk),
            Write::Delete { pk, sk, .. } | Write::Check { pk, sk, .. } => (pk, sk),
        }
    }
}

/// Why a conditional write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionFailure {
    AlreadyExists,
    /// The item is missing or at another version.
    VersionMismatch,
    /// The item is immutable (an audit entry): it can never be replaced or deleted.
    Immutable,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("write {index} of the transaction failed its condition: {reason:?}")]
    ConditionFailed { index: usize, reason: ConditionFailure },
    #[error("item is {size} bytes; the limit is {MAX_ITEM_BYTES}")]
    ItemTooLarge { size: usize },
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored item is unreadable: {0}")]
    Corrupt(String),
}

/// Which key a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

/// Sort-key condition of a query (DynamoDB's KeyConditionExpression on the sort key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Any,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
}

#[derive(Debug, Clone)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sort: SortKey,
    pub limit: u32,
    /// An opaque cursor from a previous page of the same query.
    pub cursor: Option<String>,
    pub descending: bool,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>, sort: SortKey) -> Self {
        Query { index, pk: pk.into(), sort, limit: 100, cursor: None, descending: false }
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, 1000);
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;
    /// Apply 1 to 100 writes atomically: all succeed or none does.
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
}

/// Checks shared by every backend before a transaction is sent.
pub fn validate_transaction(writes: &[Write]) -> Result<(), StoreError> {
    if writes.is_empty() || writes.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::InvalidTransaction(format!(
            "a transaction holds 1 to {MAX_TRANSACTION_ITEMS} writes, not {}",
            writes.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for w in writes {
        if !keys.insert(w.key()) {
            let (pk, sk) = w.key();
            return Err(StoreError::InvalidTransaction(format!(
                "item {pk} / {sk} is written twice in one transaction"
            )));
        }
        if let Write::Create(i) | Write::Replace { item: i, .. } = w {
            i.check_size()?;
        }
    }
    Ok(())
}

/// Cursors carry only the position inside the query's own partition, never the partition key,
/// so a cursor from one tenant's query cannot open another tenant's partition.
pub mod cursor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Serialize};

    use crate::StoreError;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    pub struct Position {
        /// Sort key of the index read (sk, or gsi1sk for GSI1).
        pub s: String,
        /// Primary keys of the last item, to break ties inside a GSI.
        pub pk: String,
        pub sk: String,
    }

    pub fn encode(p: &Position) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(p).unwrap_or_default())
    }

    pub fn decode(c: &str) -> Result<Position, StoreError> {
        let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }
}
