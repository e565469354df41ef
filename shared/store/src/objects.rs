//! Object storage (S3 on AWS; a directory tree locally): write-once objects such as the audit
//! archive, so a second write of the same key is "already done", never an overwrite.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::StoreError;

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Store `bytes` under `key` unless the key exists; returns false when it already existed.
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Objects as files below a root directory; keys are relative paths of safe segments.
pub struct DirObjects {
    root: PathBuf,
}

impl DirObjects {
    pub fn new(root: &Path) -> Self {
        DirObjects { root: root.to_owned() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

/// The keys every backend accepts: `/`-separated segments of letters, digits and `-_.=`, never
/// `.` or `..`, so that a key is also a safe relative path.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let safe = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b))
        });
    if safe { Ok(()) } else { Err(StoreError::InvalidTransaction(format!("object key {key:?} is not a safe path"))) }
}

#[async_trait]
impl ObjectStore for DirObjects {
    async fn put_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let err = |e: std::io::Error| StoreError::Unavailable(e.to_string());
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            // Write to a temporary file and link it into place: the object appears whole or not
            // at all, and an existing object is never replaced.
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(err)?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(err(e)),
            }
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_directory_backend_meets_the_object_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::contract::objects_are_written_once(&DirObjects::new(dir.path()), "run").await;
    }
}
