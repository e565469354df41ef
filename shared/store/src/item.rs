//! The stored item: keys, index keys, bookkeeping and the entity's own fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::StoreError;

/// DynamoDB's item size limit ("400 KB"), read as 400,000 bytes: below every reading of the
/// limit, the emulator's included (moto refuses items over 405,000 bytes).
pub const MAX_ITEM_BYTES: usize = 400_000;

/// An item as DynamoDB holds it: these attribute names are the table's, on AWS and locally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    /// What the item is (`study`, `audit`, `unique`, ...), for stream consumers.
    pub entity: String,
    /// Set by the store: 1 on create, +1 on every replace.
    #[serde(rename = "v", default)]
    pub version: u64,
    /// Immutable items (audit entries) can be created but never replaced or deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub immutable: bool,
    /// Expiry as Unix seconds (DynamoDB TTL); for short-lived items such as idempotency records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    pub data: Map<String, Value>,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, entity: &str, data: Map<String, Value>) -> Self {
        Item {
            pk: pk.into(),
            sk: sk.into(),
            gsi1pk: None,
            gsi1sk: None,
            entity: entity.to_owned(),
            version: 0,
            immutable: false,
            ttl: None,
            data,
        }
    }

    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1pk = Some(pk.into());
        self.gsi1sk = Some(sk.into());
        self
    }

    pub fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }

    pub fn with_ttl(mut self, unix_seconds: i64) -> Self {
        self.ttl = Some(unix_seconds);
        self
    }

    /// The item's size as stored, measured on its JSON form (a little larger than DynamoDB's own
    /// measure, so an item accepted here is accepted there).
    pub fn size(&self) -> usize {
        serde_json::to_vec(self).map(|v| v.len()).unwrap_or(usize::MAX)
    }

    pub fn check_size(&self) -> Result<(), StoreError> {
        let size = self.size();
        if size > MAX_ITEM_BYTES { Err(StoreError::ItemTooLarge { size }) } else { Ok(()) }
    }

    /// Decode the entity fields into a domain type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_value(Value::Object(self.data.clone())).map_err(|e| {
            StoreError::Corrupt(format!("item {} / {} does not decode: {e}", self.pk, self.sk))
        })
    }
}
