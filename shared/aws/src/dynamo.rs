//! The store on DynamoDB: one table (`pk`/`sk`, index `gsi1` on `gsi1pk`/`gsi1sk`), every write a
//! conditional TransactWriteItems with a ClientRequestToken, and DynamoDB's refusals translated
//! into the store's own errors.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use ctp_store::cursor::{self, Position};
use ctp_store::{ConditionFailure, Index, Item, Page, Query, SortKey, Store, StoreError, Write, validate_transaction};

/// The table's only secondary index.
pub const GSI1: &str = "gsi1";

type Attrs = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// Put `item` at `version`; a replace names the version it expects.
    fn put(&self, item: &Item, version: u64, expected: Option<u64>) -> Result<TransactWriteItem, StoreError> {
        let mut attrs = to_attrs(item)?;
        attrs.insert("v".into(), number(version));
        let condition = if expected.is_some() { MUTABLE_AT_VERSION } else { CREATE };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .condition_expression(condition)
            .set_expression_attribute_names(names(condition))
            .set_expression_attribute_values(expected.map(|v| HashMap::from([(":v".to_owned(), number(v))])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        Ok(TransactWriteItem::builder().put(put.build().map_err(invalid)?).build())
    }

    fn transact_item(&self, write: &Write) -> Result<TransactWriteItem, StoreError> {
        match write {
            Write::Create(item) => self.put(item, 1, None),
            Write::Replace { item, expected_version } => {
                self.put(item, expected_version + 1, Some(*expected_version))
            }
            Write::Delete { pk, sk, expected_version } => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .condition_expression(MUTABLE_AT_VERSION)
                    .set_expression_attribute_names(names(MUTABLE_AT_VERSION))
                    .expression_attribute_values(":v", number(*expected_version))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(invalid)?;
                Ok(TransactWriteItem::builder().delete(delete).build())
            }
            Write::Check { pk, sk, expected_version } => {
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .condition_expression(AT_VERSION)
                    .set_expression_attribute_names(names(AT_VERSION))
                    .expression_attribute_values(":v", number(*expected_version))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(invalid)?;
                Ok(TransactWriteItem::builder().condition_check(check).build())
            }
        }
    }

    /// Why write `index` failed its condition: a create found the item; otherwise the current
    /// item (returned with the cancellation, or read again) tells immutability from a version
    /// mismatch.
    async fn condition_failure(
        &self,
        writes: &[Write],
        index: usize,
        reason: &CancellationReason,
    ) -> Result<ConditionFailure, StoreError> {
        let write = &writes[index];
        if matches!(write, Write::Create(_)) {
            return Ok(ConditionFailure::AlreadyExists);
        }
        let current = match reason.item() {
            Some(attrs) if !attrs.is_empty() => Some(from_attrs(attrs.clone())?),
            _ => {
                let (pk, sk) = write.key();
                self.get(pk, sk).await?
            }
        };
        Ok(match current {
            Some(item) if item.immutable && !matches!(write, Write::Check { .. }) => ConditionFailure::Immutable,
            _ => ConditionFailure::VersionMismatch,
        })
    }

    async fn transaction_error(&self, writes: &[Write], err: SdkError<TransactWriteItemsError>) -> StoreError {
        let Some(service) = err.as_service_error() else { return unavailable(&err) };
        match service {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                let reasons = e.cancellation_reasons();
                if let Some((index, reason)) =
                    reasons.iter().enumerate().find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                    && index < writes.len()
                {
                    return match self.condition_failure(writes, index, reason).await {
                        Ok(reason) => StoreError::ConditionFailed { index, reason },
                        Err(e) => e,
                    };
                }
                match reasons.iter().find_map(|r| r.code().filter(|c| *c != "None")) {
                    Some("ValidationError") => StoreError::InvalidTransaction(
                        reasons.iter().find_map(|r| r.message()).unwrap_or("refused by DynamoDB").to_owned(),
                    ),
                    // TransactionConflict, throttling, capacity: try again later.
                    Some(code) => StoreError::Unavailable(format!("transaction cancelled: {code}")),
                    None => StoreError::Unavailable(format!("transaction cancelled: {}", e.message().unwrap_or(""))),
                }
            }
            TransactWriteItemsError::IdempotentParameterMismatchException(_) => {
                StoreError::InvalidTransaction("client request token reused with other writes".into())
            }
            other if other.code() == Some("ValidationException") => {
                StoreError::InvalidTransaction(other.message().unwrap_or("refused by DynamoDB").to_owned())
            }
            _ => unavailable(&err),
        }
    }
}

/// Create only if absent.
const CREATE: &str = "attribute_not_exists(pk)";
/// Replace or delete: at the expected version and never an immutable item.
const MUTABLE_AT_VERSION: &str = "#v = :v AND attribute_not_exists(#immutable)";
const AT_VERSION: &str = "#v = :v";

fn names(condition: &str) -> Option<HashMap<String, String>> {
    let names: HashMap<String, String> = ["v", "immutable"]
        .into_iter()
        .filter(|n| condition.contains(&format!("#{n}")))
        .map(|n| (format!("#{n}"), n.to_owned()))
        .collect();
    (!names.is_empty()).then_some(names)
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn string(s: &str) -> AttributeValue {
    AttributeValue::S(s.to_owned())
}

fn key(pk: &str, sk: &str) -> Attrs {
    HashMap::from([("pk".into(), string(pk)), ("sk".into(), string(sk))])
}

fn to_attrs(item: &Item) -> Result<Attrs, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(item).map_err(|e| StoreError::InvalidTransaction(e.to_string()))
}

fn from_attrs(attrs: Attrs) -> Result<Item, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(attrs).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidTransaction(e.to_string())
}

/// Network failures, throttling and service errors: the caller may retry; the details go to the
/// log, not to the client.
fn unavailable<E: std::error::Error + 'static>(err: &SdkError<E>) -> StoreError {
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string();
    tracing::warn!(error = %detail, "dynamodb call failed");
    StoreError::Unavailable(detail)
}

fn attr_str<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        out.item.map(from_attrs).transpose()
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        validate_transaction(&writes)?;
        let items = writes.iter().map(|w| self.transact_item(w)).collect::<Result<Vec<_>, _>>()?;
        // The token makes the SDK's own retries of this call idempotent for ten minutes.
        let token = uuid::Uuid::new_v4().to_string();
        match self.client.transact_write_items().set_transact_items(Some(items)).client_request_token(token).send().await
        {
            Ok(_) => Ok(()),
            Err(err) => Err(self.transaction_error(&writes, err).await),
        }
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_name, sk_name, index) = match q.index {
            Index::Primary => ("pk", "sk", None),
            Index::Gsi1 => ("gsi1pk", "gsi1sk", Some(GSI1)),
        };
        let mut values = HashMap::from([(":pk".to_owned(), string(&q.pk))]);
        let condition = match &q.sort {
            SortKey::Any => "#pk = :pk",
            SortKey::Prefix(p) => {
                values.insert(":p".into(), string(p));
                "#pk = :pk AND begins_with(#sk, :p)"
            }
            SortKey::Between(a, b) => {
                values.insert(":a".into(), string(a));
                values.insert(":b".into(), string(b));
                "#pk = :pk AND #sk BETWEEN :a AND :b"
            }
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
        if condition.contains("#sk") {
            names.insert("#sk".into(), sk_name.into());
        }
        let start = match &q.cursor {
            None => None,
            Some(c) => {
                let pos = cursor::decode(c)?;
                let mut start = key(&pos.pk, &pos.sk);
                match q.index {
                    // The partition is always the query's own, whatever the cursor says.
                    Index::Primary => {
                        start.insert("pk".into(), string(&q.pk));
                    }
                    Index::Gsi1 => {
                        start.insert("gsi1pk".into(), string(&q.pk));
                        start.insert("gsi1sk".into(), string(&pos.s));
                    }
                }
                Some(start)
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .limit(q.limit.clamp(1, 1000) as i32)
            .scan_index_forward(!q.descending)
            .consistent_read(index.is_none())
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                // A start key outside the query's range: a cursor of another query.
                Some(s) if s.code() == Some("ValidationException") && q.cursor.is_some() => StoreError::InvalidCursor,
                _ => unavailable(&e),
            })?;
        let items = out.items.unwrap_or_default().into_iter().map(from_attrs).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = out.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| {
            let pk = attr_str(&k, "pk").unwrap_or_default().to_owned();
            let sk = attr_str(&k, "sk").unwrap_or_default().to_owned();
            let s = attr_str(&k, sk_name).unwrap_or_default().to_owned();
            cursor::encode(&Position { s, pk, sk })
        });
        Ok(Page { items, next_cursor })
    }
}
