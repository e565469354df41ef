//! The change stream: one record per committed item change, with old and new images.
//!
//! Stream consumers receive `aws_lambda_events` DynamoDB events both on AWS (DynamoDB Streams)
//! and locally (the pump reading the SQLite stream table), and decode each record with
//! [`ChangeRecord::from_event_record`], so a consumer cannot tell the two homes apart.

use aws_lambda_events::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Item;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeEvent {
    Insert,
    Modify,
    Remove,
}

impl ChangeEvent {
    /// DynamoDB Streams' event names.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeEvent::Insert => "INSERT",
            ChangeEvent::Modify => "MODIFY",
            ChangeEvent::Remove => "REMOVE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "INSERT" => Some(ChangeEvent::Insert),
            "MODIFY" => Some(ChangeEvent::Modify),
            "REMOVE" => Some(ChangeEvent::Remove),
            _ => None,
        }
    }
}

/// A position in the stream. DynamoDB's sequence numbers are decimal strings of up to 40 digits,
/// beyond every integer type, so they are kept as text and compared as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sequence(String);

impl Sequence {
    pub fn parse(s: &str) -> Option<Sequence> {
        (!s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_digit())).then(|| Sequence(s.to_owned()))
    }

    /// The local stream's positions, zero-padded to DynamoDB's shortest length.
    pub fn from_local(n: u64) -> Sequence {
        Sequence(format!("{n:021}"))
    }

    /// The local stream's position, when this is one.
    pub fn local(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digits(&self) -> &str {
        self.0.trim_start_matches('0')
    }
}

impl Ord for Sequence {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.digits(), other.digits());
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl PartialOrd for Sequence {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Position in the stream; on AWS the DynamoDB sequence number.
    pub seq: Sequence,
    pub at: DateTime<Utc>,
    pub event: ChangeEvent,
    pub pk: String,
    pub sk: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamDecodeError {
    #[error("unknown event name {0:?}")]
    EventName(String),
    #[error("record has no usable keys: {0}")]
    Keys(String),
    #[error("image does not decode as an item: {0}")]
    Image(String),
    #[error("sequence number {0:?} is not a number")]
    Sequence(Option<String>),
}

#[derive(Deserialize, Serialize)]
struct Keys {
    pk: String,
    sk: String,
}

impl ChangeRecord {
    /// The record as DynamoDB Streams delivers it to a Lambda function (NEW_AND_OLD_IMAGES).
    pub fn to_event_record(&self, region: &str, table_arn: &str) -> EventRecord {
        let image = |i: &Option<Item>| {
            i.as_ref().and_then(|i| serde_dynamo::to_item(i).ok()).unwrap_or_default()
        };
        let mut change = StreamRecord::default();
        change.approximate_creation_date_time = self.at;
        change.keys = serde_dynamo::to_item(Keys { pk: self.pk.clone(), sk: self.sk.clone() }).unwrap_or_default();
        change.new_image = image(&self.new);
        change.old_image = image(&self.old);
        change.sequence_number = Some(self.seq.to_string());
        change.size_bytes = self.new.as_ref().or(self.old.as_ref()).map(|i| i.size() as i64).unwrap_or(0);
        change.stream_view_type = Some(StreamViewType::NewAndOldImages);
        let mut r = EventRecord::default();
        r.aws_region = region.to_owned();
        r.change = change;
        r.event_id = format!("{}-{}", self.seq, self.event.as_str());
        r.event_name = self.event.as_str().to_owned();
        r.event_source = Some("aws:dynamodb".to_owned());
        r.event_version = Some("1.1".to_owned());
        r.event_source_arn = Some(format!("{table_arn}/stream/local"));
        r
    }

    pub fn from_event_record(r: &EventRecord) -> Result<Self, StreamDecodeError> {
        let event = ChangeEvent::parse(&r.event_name).ok_or_else(|| StreamDecodeError::EventName(r.event_name.clone()))?;
        let keys: Keys =
            serde_dynamo::from_item(r.change.keys.clone()).map_err(|e| StreamDecodeError::Keys(e.to_string()))?;
        let image = |i: &serde_dynamo::Item| -> Result<Option<Item>, StreamDecodeError> {
            if i.is_empty() {
                Ok(None)
            } else {
                serde_dynamo::from_item(i.clone()).map(Some).map_err(|e| StreamDecodeError::Image(e.to_string()))
            }
        };
        let seq = r
            .change
            .sequence_number
            .as_deref()
            .and_then(Sequence::parse)
            .ok_or_else(|| StreamDecodeError::Sequence(r.change.sequence_number.clone()))?;
        Ok(ChangeRecord {
            seq,
            at: r.change.approximate_creation_date_time,
            event,
            pk: keys.pk,
            sk: keys.sk,
            old: image(&r.change.old_image)?,
            new: image(&r.change.new_image)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_round_trip_through_the_dynamodb_event_shape() {
        let mut data = serde_json::Map::new();
        data.insert("title".into(), json!("T"));
        data.insert("nested".into(), json!({"a": [1, 2.5, null, true]}));
        let mut new = Item::new("TENANT#a", "STUDY#b", "study", data).with_gsi1("G", "H");
        new.version = 2;
        let rec = ChangeRecord {
            seq: Sequence::from_local(42),
            // DynamoDB gives the approximate creation time in whole seconds.
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            event: ChangeEvent::Modify,
            pk: new.pk.clone(),
            sk: new.sk.clone(),
            old: Some(Item { version: 1, ..new.clone() }),
            new: Some(new),
        };
        let event = rec.to_event_record("eu-central-1", "arn:aws:dynamodb:eu-central-1:000000000000:table/ctp");
        // Through JSON, as Lambda delivers it.
        let wire = serde_json::to_string(&event).unwrap();
        let back: EventRecord = serde_json::from_str(&wire).unwrap();
        assert_eq!(ChangeRecord::from_event_record(&back).unwrap(), rec);
    }

    #[test]
    fn sequence_numbers_compare_as_numbers_beyond_u64() {
        let long = Sequence::parse("4421584500000000017450439091").unwrap();
        assert!(long > Sequence::from_local(u64::MAX));
        assert!(Sequence::parse("000000000000000000009").unwrap() < Sequence::parse("10").unwrap());
        assert_eq!(Sequence::from_local(7).local(), Some(7));
        assert!(Sequence::parse("12a").is_none() && Sequence::parse("").is_none());
        assert!(Sequence::parse(&"9".repeat(41)).is_none());
    }

    #[test]
    fn the_sample_stream_event_decodes() {
        let raw = include_str!("../../../events/stream-audit-insert.json");
        let event: aws_lambda_events::dynamodb::Event = serde_json::from_str(raw).unwrap();
        let rec = ChangeRecord::from_event_record(&event.records[0]).unwrap();
        assert_eq!(rec.event, ChangeEvent::Insert);
        assert_eq!(rec.new.unwrap().entity, "audit");
    }
}
