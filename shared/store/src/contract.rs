//! The store contract: what every backend must do, written once and run against each of them
//! (SQLite here; DynamoDB on an AWS emulator in its own crate's tests).

use async_trait::async_trait;
use aws_lambda_events::dynamodb::EventRecord;
use serde_json::{Map, json};

use crate::stream::{ChangeEvent, ChangeRecord};
use crate::{ConditionFailure, Index, Item, MAX_ITEM_BYTES, Query, SortKey, Store, StoreError, Write};

/// The backend's change stream as a stream function receives it.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The records published since the previous call, in stream order, in Lambda's event shape.
    async fn read(&mut self) -> Vec<EventRecord>;
}

fn item(pk: &str, sk: &str) -> Item {
    let mut data = Map::new();
    data.insert("name".into(), json!(sk));
    Item::new(pk, sk, "thing", data)
}

/// Every part of the contract, each on its own partition so backends may be reused between runs.
pub async fn run_all(store: &dyn Store, feed: &mut dyn ChangeFeed) {
    let run = uuid_like();
    changes_are_published_with_both_images(store, feed, &format!("stream-{run}")).await;
    create_get_replace_delete(store, &format!("crud-{run}")).await;
    conditions_refuse_stale_and_duplicate_writes(store, &format!("cond-{run}")).await;
    immutable_items_cannot_be_replaced_or_deleted(store, &format!("imm-{run}")).await;
    transactions_are_all_or_nothing(store, &format!("tx-{run}")).await;
    transaction_limits(store, &format!("lim-{run}")).await;
    item_size_limit(store, &format!("size-{run}")).await;
    query_by_prefix_range_and_direction(store, &format!("q-{run}")).await;
    paging_with_cursors(store, &format!("page-{run}")).await;
    secondary_index_queries(store, &format!("gsi-{run}")).await;
}

fn uuid_like() -> String {
    format!("{:x}", chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default())
}

pub async fn create_get_replace_delete(store: &dyn Store, pk: &str) {
    assert!(store.get(pk, "a").await.unwrap().is_none());
    store.transact(vec![Write::Create(item(pk, "a"))]).await.unwrap();
    let got = store.get(pk, "a").await.unwrap().expect("created item is readable");
    assert_eq!(got.version, 1);
    assert_eq!(got.data["name"], "a");

    let mut next = got.clone();
    next.data.insert("name".into(), json!("renamed"));
    store.transact(vec![Write::Replace { item: next, expected_version: 1 }]).await.unwrap();
    let got = store.get(pk, "a").await.unwrap().unwrap();
    assert_eq!((got.version, got.data["name"].clone()), (2, json!("renamed")));

    store.transact(vec![Write::Delete { pk: pk.into(), sk: "a".into(), expected_version: 2 }]).await.unwrap();
    assert!(store.get(pk, "a").await.unwrap().is_none());
}

fn condition(r: Result<(), StoreError>) -> (usize, ConditionFailure) {
    match r {
        Err(StoreError::ConditionFailed { index, reason }) => (index, reason),
        other => panic!("expected a failed condition, got {other:?}"),
    }
}

pub async fn conditions_refuse_stale_and_duplicate_writes(store: &dyn Store, pk: &str) {
    store.transact(vec![Write::Create(item(pk, "a"))]).await.unwrap();
    assert_eq!(
        condition(store.transact(vec![Write::Create(item(pk, "a"))]).await),
        (0, ConditionFailure::AlreadyExists)
    );
    assert_eq!(
        condition(store.transact(vec![Write::Replace { item: item(pk, "a"), expected_version: 7 }]).await),
        (0, ConditionFailure::VersionMismatch)
    );
    assert_eq!(
        condition(store.transact(vec![Write::Replace { item: item(pk, "missing"), expected_version: 1 }]).await),
        (0, ConditionFailure::VersionMismatch)
    );
    assert_eq!(
        condition(store.transact(vec![Write::Delete { pk: pk.into(), sk: "a".into(), expected_version: 3 }]).await),
        (0, ConditionFailure::VersionMismatch)
    );
    assert_eq!(
        condition(store.transact(vec![Write::Check { pk: pk.into(), sk: "a".into(), expected_version: 2 }]).await),
        (0, ConditionFailure::VersionMismatch)
    );
    store.transact(vec![Write::Check { pk: pk.into(), sk: "a".into(), expected_version: 1 }]).await.unwrap();
    assert_eq!(store.get(pk, "a").await.unwrap().unwrap().version, 1, "refused writes change nothing");
}

pub async fn immutable_items_cannot_be_replaced_or_deleted(store: &dyn Store, pk: &str) {
    store.transact(vec![Write::Create(item(pk, "entry").immutable())]).await.unwrap();
    assert_eq!(
        condition(store.transact(vec![Write::Replace { item: item(pk, "entry"), expected_version: 1 }]).await),
        (0, ConditionFailure::Immutable)
    );
    assert_eq!(
        condition(
            store.transact(vec![Write::Delete { pk: pk.into(), sk: "entry".into(), expected_version: 1 }]).await
        ),
        (0, ConditionFailure::Immutable)
    );
    assert_eq!(
        condition(store.transact(vec![Write::Create(item(pk, "entry"))]).await),
        (0, ConditionFailure::AlreadyExists)
    );
    let kept = store.get(pk, "entry").await.unwrap().unwrap();
    assert!(kept.immutable);
}

pub async fn transactions_are_all_or_nothing(store: &dyn Store, pk: &str) {
    store.transact(vec![Write::Create(item(pk, "taken"))]).await.unwrap();
    let r = store
        .transact(vec![Write::Create(item(pk, "x")), Write::Create(item(pk, "y")), Write::Create(item(pk, "taken"))])
        .await;
    assert_eq!(condition(r), (2, ConditionFailure::AlreadyExists), "the failing write is named");
    assert!(store.get(pk, "x").await.unwrap().is_none(), "no partial transaction");
    assert!(store.get(pk, "y").await.unwrap().is_none());
    store.transact(vec![Write::Create(item(pk, "x")), Write::Create(item(pk, "y"))]).await.unwrap();
    assert!(store.get(pk, "y").await.unwrap().is_some());
}

pub async fn transaction_limits(store: &dyn Store, pk: &str) {
    let hundred: Vec<Write> = (0..100).map(|i| Write::Create(item(pk, &format!("{i:03}")))).collect();
    store.transact(hundred).await.unwrap();
    let too_many: Vec<Write> = (100..201).map(|i| Write::Create(item(pk, &format!("{i:03}")))).collect();
    assert!(matches!(store.transact(too_many).await, Err(StoreError::InvalidTransaction(_))));
    assert!(matches!(store.transact(vec![]).await, Err(StoreError::InvalidTransaction(_))));
    let twice = vec![Write::Create(item(pk, "dup")), Write::Create(item(pk, "dup"))];
    assert!(matches!(store.transact(twice).await, Err(StoreError::InvalidTransaction(_))));
}

pub async fn item_size_limit(store: &dyn Store, pk: &str) {
    let mut big = item(pk, "big");
    big.data.insert("blob".into(), json!("x".repeat(MAX_ITEM_BYTES)));
    assert!(matches!(store.transact(vec![Write::Create(big)]).await, Err(StoreError::ItemTooLarge { .. })));
    assert!(store.get(pk, "big").await.unwrap().is_none());
    let mut fits = item(pk, "fits");
    fits.data.insert("blob".into(), json!("x".repeat(MAX_ITEM_BYTES - 1024)));
    store.transact(vec![Write::Create(fits)]).await.unwrap();
}

pub async fn query_by_prefix_range_and_direction(store: &dyn Store, pk: &str) {
    let sks = ["A#1", "A#2", "A#3", "B#1", "a#1"];
    store.transact(sks.iter().map(|s| Write::Create(item(pk, s))).collect()).await.unwrap();
    let sk_list = |p: crate::Page| p.items.into_iter().map(|i| i.sk).collect::<Vec<_>>();

    let prefix = store.query(&Query::new(Index::Primary, pk, SortKey::Prefix("A#".into()))).await.unwrap();
    assert_eq!(sk_list(prefix), ["A#1", "A#2", "A#3"], "prefix is case-sensitive");
    let range =
        store.query(&Query::new(Index::Primary, pk, SortKey::Between("A#2".into(), "B#1".into()))).await.unwrap();
    assert_eq!(sk_list(range), ["A#2", "A#3", "B#1"]);
    let mut desc = Query::new(Index::Primary, pk, SortKey::Any);
    desc.descending = true;
    assert_eq!(sk_list(store.query(&desc).await.unwrap()), ["a#1", "B#1", "A#3", "A#2", "A#1"]);
    let other = store.query(&Query::new(Index::Primary, format!("{pk}-other"), SortKey::Any)).await.unwrap();
    assert!(other.items.is_empty() && other.next_cursor.is_none());
}

pub async fn paging_with_cursors(store: &dyn Store, pk: &str) {
    store.transact((0..25).map(|i| Write::Create(item(pk, &format!("I#{i:02}")))).collect()).await.unwrap();
    for descending in [false, true] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let mut q = Query::new(Index::Primary, pk, SortKey::Prefix("I#".into())).limit(10).after(cursor);
            q.descending = descending;
            let page = store.query(&q).await.unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items.into_iter().map(|i| i.sk));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25).map(|i| format!("I#{i:02}")).collect();
        if descending {
            expected.reverse();
        }
        assert_eq!(seen, expected, "every item once, in order (descending: {descending})");
    }
    let bad = Query::new(Index::Primary, pk, SortKey::Any).after(Some("not a cursor!".into()));
    assert!(matches!(store.query(&bad).await, Err(StoreError::InvalidCursor)));
}

pub async fn secondary_index_queries(store: &dyn Store, pk: &str) {
    let gsi = format!("{pk}-site");
    // Equal index sort keys across partitions: paging must still visit each item once.
    let writes = (0..7)
        .map(|i| Write::Create(item(&format!("{pk}-{}", i % 3), &format!("S#{i}")).with_gsi1(&gsi, "SAME")))
        .chain(std::iter::once(Write::Create(item(pk, "not-indexed"))))
        .collect();
    store.transact(writes).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let q = Query::new(Index::Gsi1, &gsi, SortKey::Prefix("SAME".into())).limit(3).after(cursor);
        let page = store.query(&q).await.unwrap();
        seen.extend(page.items.into_iter().map(|i| i.sk));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("S#{i}")).collect::<Vec<_>>());
}

/// Every committed change is published once, with its old and new image, and a refused
/// transaction publishes nothing. The stream may lag the write (DynamoDB Streams does), so the
/// feed is read until the expected records arrived or a deadline passed.
pub async fn changes_are_published_with_both_images(store: &dyn Store, feed: &mut dyn ChangeFeed, pk: &str) {
    store.transact(vec![Write::Create(item(pk, "a"))]).await.unwrap();
    let mut renamed = store.get(pk, "a").await.unwrap().unwrap();
    renamed.data.insert("name".into(), json!("renamed"));
    store.transact(vec![Write::Replace { item: renamed, expected_version: 1 }]).await.unwrap();
    let refused = store.transact(vec![Write::Create(item(pk, "b")), Write::Create(item(pk, "a"))]).await;
    assert!(refused.is_err());
    store.transact(vec![Write::Create(item(pk, "b").with_gsi1("G", "H"))]).await.unwrap();
    store.transact(vec![Write::Delete { pk: pk.into(), sk: "a".into(), expected_version: 2 }]).await.unwrap();

    let mut records: Vec<ChangeRecord> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while records.len() < 4 && std::time::Instant::now() < deadline {
        let batch = feed.read().await;
        for r in &batch {
            let decoded = ChangeRecord::from_event_record(r).expect("every stream record decodes");
            if decoded.pk == pk {
                records.push(decoded);
            }
        }
        if batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let summary: Vec<(ChangeEvent, &str, Option<u64>, Option<u64>)> = records
        .iter()
        .map(|r| (r.event, r.sk.as_str(), r.old.as_ref().map(|i| i.version), r.new.as_ref().map(|i| i.version)))
        .collect();
    assert_eq!(
        summary,
        [
            (ChangeEvent::Insert, "a", None, Some(1)),
            (ChangeEvent::Modify, "a", Some(1), Some(2)),
            (ChangeEvent::Insert, "b", None, Some(1)),
            (ChangeEvent::Remove, "a", Some(2), None),
        ],
        "one record per committed change, none for the refused transaction"
    );
    assert_eq!(records[1].old.as_ref().unwrap().data["name"], "a");
    assert_eq!(records[1].new.as_ref().unwrap().data["name"], "renamed");
    assert_eq!(records[2].new.as_ref().unwrap().gsi1pk.as_deref(), Some("G"));
    assert!(records.windows(2).all(|w| w[0].seq < w[1].seq), "sequence numbers increase");
    let extra = feed.read().await;
    assert!(extra.iter().all(|r| ChangeRecord::from_event_record(r).unwrap().pk != pk), "nothing more is published");
}

/// Objects are write-once: a second write of a key keeps the first bytes; unsafe keys are refused
/// by every backend alike.
pub async fn objects_are_written_once(objects: &dyn crate::objects::ObjectStore, prefix: &str) {
    let key = format!("{prefix}/audit/t/e1.json");
    assert!(objects.put_new(&key, b"one".to_vec()).await.unwrap(), "a new key is written");
    assert!(!objects.put_new(&key, b"two".to_vec()).await.unwrap(), "an existing key is not overwritten");
    assert_eq!(objects.get(&key).await.unwrap().unwrap(), b"one");
    assert!(objects.get(&format!("{prefix}/audit/t/none")).await.unwrap().is_none());
    for bad in ["../x", "a//b", "/abs", "a/./b", "", "a b"] {
        assert!(objects.put_new(bad, vec![]).await.is_err(), "{bad:?} is refused");
    }
}
