//! The embedded backend: one SQLite file in WAL mode. A transaction checks every condition,
//! writes the items and appends their change records to the stream table in one SQLite
//! transaction, so a change and its stream record are committed together or not at all.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::cursor::{self, Position};
use crate::stream::{ChangeEvent, ChangeRecord};
use crate::{ConditionFailure, Index, Item, Page, Query, SortKey, Store, StoreError, Write};

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT,
    gsi1sk TEXT,
    version INTEGER NOT NULL,
    immutable INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE TABLE IF NOT EXISTS stream (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    old_image TEXT,
    new_image TEXT
);
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    consumer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
";

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Open (or create) the database file `store.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let conn = Connection::open(dir.join("store.db")).map_err(unavailable)?;
        // synchronous=FULL: a write is acknowledged only once it is durable on disk.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Run blocking SQLite work off the async executor.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| unavailable("store lock poisoned"))?;
            f(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }

    /// Change records after `after_seq`, oldest first.
    pub async fn changes_after(&self, after_seq: u64, limit: u32) -> Result<Vec<ChangeRecord>, StoreError> {
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, at_ms, event_name, pk, sk, old_image, new_image FROM stream WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![after_seq as i64, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, at_ms, event, pk, sk, old, new) = row.map_err(unavailable)?;
                let image = |s: Option<String>| -> Result<Option<Item>, StoreError> {
                    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
                };
                out.push(ChangeRecord {
                    seq: crate::stream::Sequence::from_local(seq as u64),
                    at: chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default(),
                    event: ChangeEvent::parse(&event).ok_or_else(|| StoreError::Corrupt(event.clone()))?,
                    pk,
                    sk,
                    old: image(old)?,
                    new: image(new)?,
                });
            }
            Ok(out)
        })
        .await
    }

    pub async fn checkpoint(&self, consumer: &str) -> Result<u64, StoreError> {
        let consumer = consumer.to_owned();
        self.with_conn(move |c| {
            c.query_row("SELECT seq FROM stream_checkpoints WHERE consumer = ?1", [consumer], |r| r.get::<_, i64>(0))
                .optional()
                .map(|s| s.unwrap_or(0) as u64)
                .map_err(unavailable)
        })
        .await
    }

    pub async fn set_checkpoint(&self, consumer: &str, seq: u64) -> Result<(), StoreError> {
        let consumer = consumer.to_owned();
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO stream_checkpoints (consumer, seq) VALUES (?1, ?2)
                 ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq",
                params![consumer, seq as i64],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }
}

fn read_item(tx: &Connection, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = tx
        .prepare_cached("SELECT body FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut s| s.query_row([pk, sk], |r| r.get(0)).optional())
        .map_err(unavailable)?;
    body.map(|b| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
}

fn apply(tx: &Connection, index: usize, write: &Write, now_ms: i64) -> Result<(), StoreError> {
    let (pk, sk) = write.key();
    let current = read_item(tx, pk, sk)?;
    let fail = |reason| Err(StoreError::ConditionFailed { index, reason });
    let (event, new) = match write {
        Write::Create(item) => {
            if current.is_some() {
                return fail(ConditionFailure::AlreadyExists);
            }
            let mut item = item.clone();
            item.version = 1;
            (ChangeEvent::Insert, Some(item))
        }
        Write::Replace { item, expected_version } => {
            match &current {
                Some(c) if c.immutable => return fail(ConditionFailure::Immutable),
                Some(c) if c.version == *expected_version => {}
                _ => return fail(ConditionFailure::VersionMismatch),
            }
            let mut item = item.clone();
            item.version = expected_version + 1;
            (ChangeEvent::Modify, Some(item))
        }
        Write::Delete { expected_version, .. } => {
            match &current {
                Some(c) if c.immutable => return fail(ConditionFailure::Immutable),
                Some(c) if c.version == *expected_version => {}
                _ => return fail(ConditionFailure::VersionMismatch),
            }
            (ChangeEvent::Remove, None)
        }
        Write::Check { expected_version, .. } => {
            return match &current {
                Some(c) if c.version == *expected_version => Ok(()),
                _ => fail(ConditionFailure::VersionMismatch),
            };
        }
    };
    let json = |i: &Item| serde_json::to_string(i).map_err(|e| StoreError::Corrupt(e.to_string()));
    match &new {
        Some(item) => {
            let body = json(item)?;
            tx.prepare_cached(
                "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, version, immutable, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(pk, sk) DO UPDATE SET gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk,
                   version = excluded.version, immutable = excluded.immutable, body = excluded.body",
            )
            .and_then(|mut s| {
                s.execute(params![
                    item.pk,
                    item.sk,
                    item.gsi1pk,
                    item.gsi1sk,
                    item.version as i64,
                    item.immutable,
                    body
                ])
            })
            .map_err(unavailable)?;
        }
        None => {
            tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                .and_then(|mut s| s.execute([pk, sk]))
                .map_err(unavailable)?;
        }
    }
    let old_image = current.as_ref().map(json).transpose()?;
    let new_image = new.as_ref().map(json).transpose()?;
    tx.prepare_cached(
        "INSERT INTO stream (at_ms, event_name, pk, sk, old_image, new_image) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![now_ms, event.as_str(), pk, sk, old_image, new_image]))
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.with_conn(move |c| read_item(c, &pk, &sk)).await
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        crate::validate_transaction(&writes)?;
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let now_ms = chrono::Utc::now().timestamp_millis();
            for (index, w) in writes.iter().enumerate() {
                apply(&tx, index, w, now_ms)?; // dropping `tx` on error rolls everything back
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let q = q.clone();
        self.with_conn(move |c| {
            let after = q.cursor.as_deref().map(cursor::decode).transpose()?;
            let (pk_col, sk_col) = match q.index {
                Index::Primary => ("pk", "sk"),
                Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            };
            let mut sql = format!("SELECT body FROM items WHERE {pk_col} = ?1");
            let mut args: Vec<String> = vec![q.pk.clone()];
            match &q.sort {
                SortKey::Any => {}
                SortKey::Prefix(p) => {
                    // substr comparison keeps byte order exact, unlike LIKE with its case folding.
                    args.push(p.clone());
                    sql.push_str(&format!(" AND substr({sk_col}, 1, length(?{n})) = ?{n}", n = args.len()));
                }
                SortKey::Between(lo, hi) => {
                    args.push(lo.clone());
                    args.push(hi.clone());
                    sql.push_str(&format!(" AND {sk_col} >= ?{} AND {sk_col} <= ?{}", args.len() - 1, args.len()));
                }
            }
            let (cmp, dir) = if q.descending { ("<", "DESC") } else { (">", "ASC") };
            if let Some(pos) = &after {
                match q.index {
                    Index::Primary => {
                        args.push(pos.s.clone());
                        sql.push_str(&format!(" AND sk {cmp} ?{}", args.len()));
                    }
                    Index::Gsi1 => {
                        args.extend([pos.s.clone(), pos.pk.clone(), pos.sk.clone()]);
                        let n = args.len();
                        sql.push_str(&format!(" AND (gsi1sk, pk, sk) {cmp} (?{}, ?{}, ?{})", n - 2, n - 1, n));
                    }
                }
            }
            match q.index {
                Index::Primary => sql.push_str(&format!(" ORDER BY sk {dir}")),
                Index::Gsi1 => sql.push_str(&format!(" ORDER BY gsi1sk {dir}, pk {dir}, sk {dir}")),
            }
            // One extra row tells whether another page follows.
            sql.push_str(&format!(" LIMIT {}", q.limit as u64 + 1));
            let mut stmt = c.prepare_cached(&sql).map_err(unavailable)?;
            let bodies: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(unavailable)?;
            let mut items = bodies
                .iter()
                .map(|b| serde_json::from_str::<Item>(b).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if items.len() > q.limit as usize {
                items.truncate(q.limit as usize);
                items.last().map(|last| {
                    cursor::encode(&Position {
                        s: match q.index {
                            Index::Primary => last.sk.clone(),
                            Index::Gsi1 => last.gsi1sk.clone().unwrap_or_default(),
                        },
                        pk: last.pk.clone(),
                        sk: last.sk.clone(),
                    })
                })
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local stream table read as the pump reads it.
    struct LocalFeed<'a> {
        store: &'a SqliteStore,
        after: u64,
    }

    #[async_trait::async_trait]
    impl crate::contract::ChangeFeed for LocalFeed<'_> {
        async fn read(&mut self) -> Vec<aws_lambda_events::dynamodb::EventRecord> {
            let records = self.store.changes_after(self.after, 1000).await.unwrap();
            self.after = records.last().and_then(|r| r.seq.local()).unwrap_or(self.after);
            records.iter().map(|r| r.to_event_record("local", "arn:aws:dynamodb:local:0:table/t")).collect()
        }
    }

    #[tokio::test]
    async fn sqlite_passes_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        crate::contract::run_all(&store, &mut LocalFeed { store: &store, after: 0 }).await;
    }

    #[tokio::test]
    async fn every_committed_write_is_on_the_stream_with_both_images() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let item = Item::new("P", "S", "thing", serde_json::Map::new());
        store.transact(vec![Write::Create(item.clone())]).await.unwrap();
        let mut changed = item.clone();
        changed.data.insert("x".into(), 1.into());
        store.transact(vec![Write::Replace { item: changed, expected_version: 1 }]).await.unwrap();
        store.transact(vec![Write::Delete { pk: "P".into(), sk: "S".into(), expected_version: 2 }]).await.unwrap();
        // A refused transaction leaves no trace on the stream.
        let refused = store.transact(vec![Write::Create(item.clone().with_gsi1("G", "1"))]).await;
        assert!(refused.is_ok(), "recreating after delete is allowed");
        let dup = store.transact(vec![Write::Create(item)]).await;
        assert!(matches!(dup, Err(StoreError::ConditionFailed { reason: ConditionFailure::AlreadyExists, .. })));

        let changes = store.changes_after(0, 100).await.unwrap();
        let events: Vec<_> = changes.iter().map(|c| c.event).collect();
        assert_eq!(events, [ChangeEvent::Insert, ChangeEvent::Modify, ChangeEvent::Remove, ChangeEvent::Insert]);
        assert_eq!(changes[1].old.as_ref().unwrap().version, 1);
        assert_eq!(changes[1].new.as_ref().unwrap().data["x"], 1);
        assert!(changes[2].new.is_none());
        assert_eq!(store.changes_after(changes[1].seq.local().unwrap(), 100).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store.transact(vec![Write::Create(Item::new("P", "S", "t", Default::default()))]).await.unwrap();
            store.set_checkpoint("c", 1).await.unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert!(store.get("P", "S").await.unwrap().is_some());
        assert_eq!(store.checkpoint("c").await.unwrap(), 1);
        assert_eq!(store.checkpoint("other").await.unwrap(), 0);
    }
}
