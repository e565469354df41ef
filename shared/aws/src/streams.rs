//! Reading a table's DynamoDB stream as an event source mapping does, for `ctp serve
//! --aws-endpoint` and the store contract: records come out in Lambda's event shape, so stream
//! functions receive exactly what Lambda would hand them.

use std::collections::HashMap;

use aws_lambda_events::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use ctp_store::StoreError;
use ctp_store::stream::Sequence;

pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    region: String,
    stream_arn: String,
    /// Next iterator of every shard seen; `None` once a closed shard is drained.
    shards: HashMap<String, Option<String>>,
    /// The last sequence number read from each shard, to resume after an expired iterator.
    last: HashMap<String, String>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl StreamReader {
    /// Read `table`'s stream from the oldest record it still holds (TRIM_HORIZON).
    pub async fn for_table(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        region: &str,
        table: &str,
    ) -> Result<Self, StoreError> {
        let described = dynamodb.describe_table().table_name(table).send().await.map_err(unavailable)?;
        let stream_arn = described
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| unavailable(format!("table {table:?} has no stream")))?;
        Ok(Self::for_stream(client, region, &stream_arn))
    }

    /// Read a stream named by its ARN (a failure record names it).
    pub fn for_stream(client: aws_sdk_dynamodbstreams::Client, region: &str, stream_arn: &str) -> Self {
        StreamReader {
            client,
            region: region.to_owned(),
            stream_arn: stream_arn.to_owned(),
            shards: HashMap::new(),
            last: HashMap::new(),
        }
    }

    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// The records of `shard` from `start` to `end` (sequence numbers, both included), as long as
    /// the stream still holds them.
    pub async fn range(&self, shard: &str, start: &str, end: &str) -> Result<Vec<EventRecord>, StoreError> {
        let end = Sequence::parse(end).ok_or_else(|| unavailable(format!("{end:?} is not a sequence number")))?;
        let mut iterator = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(start)
            .send()
            .await
            .map_err(unavailable)?
            .shard_iterator;
        let mut out = Vec::new();
        // An open shard hands out empty pages at its head; a bounded number of reads ends there.
        for _ in 0..100 {
            let Some(it) = iterator else { break };
            let page = self.client.get_records().shard_iterator(it).send().await.map_err(unavailable)?;
            let records = page.records.unwrap_or_default();
            let empty = records.is_empty();
            for r in records {
                let seq = r.dynamodb.as_ref().and_then(|d| d.sequence_number.as_deref()).and_then(Sequence::parse);
                if seq.as_ref().is_some_and(|s| *s > end) {
                    return Ok(out);
                }
                out.push(self.event_record(r));
            }
            if empty && !out.is_empty() {
                break;
            }
            iterator = page.next_shard_iterator;
        }
        Ok(out)
    }

    /// The records published since the previous call, shard by shard.
    pub async fn read(&mut self) -> Result<Vec<EventRecord>, StoreError> {
        let stream = self.client.describe_stream().stream_arn(&self.stream_arn).send().await.map_err(unavailable)?;
        for shard in stream.stream_description.and_then(|d| d.shards).unwrap_or_default() {
            let Some(id) = shard.shard_id else { continue };
            if !self.shards.contains_key(&id) {
                let it = self.iterator(&id).await?;
                self.shards.insert(id, it);
            }
        }
        let mut out = Vec::new();
        let mut ids: Vec<String> = self.shards.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let Some(Some(iterator)) = self.shards.get(&id).cloned() else { continue };
            let page = match self.client.get_records().shard_iterator(iterator).send().await {
                Ok(page) => page,
                // Iterators expire after 15 minutes unused (a long outage): resume after the last
                // record read.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) => {
                    let it = self.iterator(&id).await?;
                    self.shards.insert(id, it);
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            };
            let records = page.records.unwrap_or_default();
            if let Some(seq) = records.last().and_then(|r| r.dynamodb.as_ref()).and_then(|d| d.sequence_number.clone()) {
                self.last.insert(id.clone(), seq);
            }
            out.extend(records.into_iter().map(|r| self.event_record(r)));
            self.shards.insert(id, page.next_shard_iterator);
        }
        Ok(out)
    }

    /// An iterator just after the last record read from `shard`, or at its oldest record.
    async fn iterator(&self, shard: &str) -> Result<Option<String>, StoreError> {
        let request = self.client.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(shard);
        let request = match self.last.get(shard) {
            Some(seq) => request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(seq),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request.send().await.map_err(unavailable)?.shard_iterator)
    }

    /// A stream record as Lambda delivers it.
    fn event_record(&self, r: Record) -> EventRecord {
        let image = |m: Option<HashMap<String, AttributeValue>>| -> serde_dynamo::Item {
            m.unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, serde_dynamo::AttributeValue::from(v)))
                .collect::<HashMap<_, _>>()
                .into()
        };
        let mut change = StreamRecord::default();
        if let Some(s) = r.dynamodb {
            change.approximate_creation_date_time = s
                .approximate_creation_date_time
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                .unwrap_or_default();
            change.keys = image(s.keys);
            change.new_image = image(s.new_image);
            change.old_image = image(s.old_image);
            change.sequence_number = s.sequence_number;
            change.size_bytes = s.size_bytes.unwrap_or_default();
            change.stream_view_type = Some(StreamViewType::NewAndOldImages);
        }
        let mut e = EventRecord::default();
        e.aws_region = r.aws_region.unwrap_or_else(|| self.region.clone());
        e.change = change;
        e.event_id = r.event_id.unwrap_or_default();
        e.event_name = r.event_name.map(|n| n.as_str().to_owned()).unwrap_or_default();
        e.event_source = r.event_source;
        e.event_version = r.event_version;
        e.event_source_arn = Some(self.stream_arn.clone());
        e
    }
}
