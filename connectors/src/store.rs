//! The output store: a local directory by default, or any `object_store` URL (`file://`,
//! `s3://`, `gs://`, `az://`), configured for the cloud from the usual environment variables
//! (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_ALLOW_HTTP`, ...).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Where paths of the layout start inside `inner`.
    prefix: Path,
    /// The store's root URL, `scheme://authority/`, for registering it with DataFusion.
    root: Url,
    /// `inner` when it is a local directory: [`Store::create_documents`] writes there in place.
    local: Option<Arc<LocalFileSystem>>,
}

impl Store {
    /// Opens a directory path or a URL; a local directory is created if missing.
    pub fn open(location: &str) -> Result<Store> {
        let url = match Url::parse(location) {
            Ok(url) if url.scheme().len() > 1 => url,
            _ => {
                let dir = std::path::Path::new(location);
                std::fs::create_dir_all(dir).map_err(|e| Error::io(location, e))?;
                let dir = dir.canonicalize().map_err(|e| Error::io(location, e))?;
                Url::from_directory_path(&dir).map_err(|_| Error::Location(location.into()))?
            }
        };
        let store_error = |source| Error::Store {
            url: url.to_string(),
            source,
        };
        let mut local = None;
        let inner: Arc<dyn ObjectStore> = match url.scheme() {
            "file" => {
                let dir = url.to_file_path().map_err(|_| Error::Location(location.into()))?;
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
                let fs = Arc::new(LocalFileSystem::new());
                local = Some(Arc::clone(&fs));
                fs
            }
            "s3" | "s3a" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(store_error)?,
            ),
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(store_error)?,
            ),
            "az" | "abfs" | "abfss" => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map_err(store_error)?,
            ),
            _ => return Err(Error::Location(location.into())),
        };
        let prefix = Path::from_url_path(url.path()).map_err(|e| Error::Store {
            url: url.to_string(),
            source: e.into(),
        })?;
        let mut root = url.clone();
        root.set_path("/");
        Ok(Store {
            inner,
            prefix,
            root,
            local,
        })
    }

    /// A store over an `ObjectStore` of the caller's (an in-memory one, or a test's own).
    pub fn new(inner: Arc<dyn ObjectStore>, root: Url) -> Store {
        Store {
            inner,
            prefix: Path::default(),
            root,
            local: None,
        }
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner)
    }

    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// The URL of a layout path, for DataFusion's listing tables and for messages.
    pub fn url_of(&self, path: &Path) -> String {
        let full = self.full(path);
        format!("{}{}", self.root, full)
    }

    fn full(&self, path: &Path) -> Path {
        self.prefix.parts().chain(path.parts()).collect()
    }

    fn error(&self, source: object_store::Error) -> Error {
        Error::Store {
            url: self.root.to_string(),
            source,
        }
    }

    /// Writes an object whole: readers see the old one or the new one, never a part.
    pub async fn put(&self, path: &Path, bytes: impl Into<Bytes>) -> Result<()> {
        let payload = PutPayload::from_bytes(bytes.into());
        self.inner
            .put(&self.full(path), payload)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Writes documents that are not in the store yet, whose integrity a manifest vouches for
    /// (payslips: the batch's manifest records each file's size and hash, and a batch run again
    /// rewrites a file that differs), with `in_flight` writes at once to a remote store; one
    /// outcome per document, in order. In a local directory the batch is written in place by
    /// one blocking task: a staging file and its rename, as [`Store::put`] makes, doubled the
    /// work the directory's lock lets through one at a time, and a hand-off to a blocking
    /// thread per file woke a thread for each of hundreds of thousands of files. A document
    /// already there is replaced whole, as `put` does.
    pub async fn create_documents(&self, documents: Vec<(Path, Bytes)>, in_flight: usize) -> Vec<Result<()>> {
        let Some(local) = &self.local else {
            return futures::stream::iter(documents)
                .map(|(path, bytes)| async move { self.put(&path, bytes).await })
                .buffered(in_flight.max(1))
                .collect()
                .await;
        };
        // Each document's file, and its bytes (a reference-counted handle) for the blocking
        // task; `documents` stays here for the puts and the errors below.
        let files: Vec<_> = documents
            .iter()
            .map(|(path, bytes)| {
                let file = local.path_to_filesystem(&self.full(path)).map_err(|e| self.error(e));
                (file, bytes.clone())
            })
            .collect();
        // Per document: written, failed, or `None` when it was there already (put whole below).
        let written = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|(file, bytes)| {
                    let file = file?;
                    match create_in_place(&file, &bytes) {
                        Ok(()) => Ok(Some(())),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
                        Err(e) => Err(Error::io(file.display().to_string(), e)),
                    }
                })
                .collect::<Vec<Result<Option<()>>>>()
        })
        .await;
        let written = match written {
            Ok(written) => written,
            Err(e) => {
                let error = e.to_string();
                return documents
                    .iter()
                    .map(|(path, _)| Err(Error::io(path, std::io::Error::other(error.clone()))))
                    .collect();
            }
        };
        let mut outcomes = Vec::with_capacity(documents.len());
        for ((path, bytes), outcome) in documents.into_iter().zip(written) {
            outcomes.push(match outcome {
                Ok(Some(())) => Ok(()),
                Ok(None) => self.put(&path, bytes).await,
                Err(e) => Err(e),
            });
        }
        outcomes
    }

    /// Writes an object that must not exist yet; `Ok(false)` if it does (someone else wrote
    /// it first), so two writers of one name cannot both succeed.
    pub async fn create(&self, path: &Path, bytes: impl Into<Bytes>) -> Result<bool> {
        let payload = PutPayload::from_bytes(bytes.into());
        let options = PutOptions::from(PutMode::Create);
        match self.inner.put_opts(&self.full(path), payload, options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    pub async fn get(&self, path: &Path) -> Result<Bytes> {
        let result = self.inner.get(&self.full(path)).await.map_err(|e| self.error(e))?;
        result.bytes().await.map_err(|e| self.error(e))
    }

    /// `Ok(None)` when the object does not exist: one request, where `head` then `get` is two.
    pub async fn get_opt(&self, path: &Path) -> Result<Option<Bytes>> {
        match self.inner.get(&self.full(path)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.error(e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// `Ok(None)` when the object does not exist.
    pub async fn head(&self, path: &Path) -> Result<Option<ObjectMeta>> {
        match self.inner.head(&self.full(path)).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    pub async fn delete(&self, path: &Path) -> Result<()> {
        self.inner.delete(&self.full(path)).await.map_err(|e| self.error(e))
    }

    /// Objects under `path`, with paths relative to the store's prefix.
    pub async fn list(&self, path: &Path) -> Result<Vec<ObjectMeta>> {
        let prefix_parts = self.prefix.parts().count();
        let found: Vec<ObjectMeta> = self
            .inner
            .list(Some(&self.full(path)))
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        Ok(found
            .into_iter()
            .map(|mut meta| {
                meta.location = meta.location.parts().skip(prefix_parts).collect();
                meta
            })
            .collect())
    }
}

/// Creates `file` with `bytes`, and its folder if missing; `AlreadyExists` if it is there.
fn create_in_place(file: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
    };
    match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| create()),
        outcome => outcome,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails by panicking, with the message.

    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn documents_are_created_in_a_new_folder_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        let path = Path::from("payslips/org0/2026-10/run-1/W0.pdf");
        let other = Path::from("payslips/org0/2026-10/run-1/W1.pdf");
        let documents = vec![
            (path.clone(), Bytes::from_static(b"first")),
            (other.clone(), Bytes::from_static(b"other")),
        ];
        for outcome in store.create_documents(documents, 4).await {
            outcome.unwrap();
        }
        let file = dir.path().join("payslips/org0/2026-10/run-1/W0.pdf");
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
        assert_eq!(store.get(&other).await.unwrap().as_ref(), b"other");
        // A document already there (a batch run again after a crash) is replaced.
        let again = vec![(path.clone(), Bytes::from_static(b"second, longer"))];
        for outcome in store.create_documents(again, 4).await {
            outcome.unwrap();
        }
        assert_eq!(store.get(&path).await.unwrap().as_ref(), b"second, longer");
        // Written in place: no staging file is left beside them.
        let mut names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["W0.pdf", "W1.pdf"]);
    }

    /// A document that cannot be written fails alone, named, and the rest of its batch is
    /// written.
    #[tokio::test]
    async fn a_document_that_cannot_be_written_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        // A file where the document's folder should be.
        std::fs::write(dir.path().join("blocked"), b"").unwrap();
        let documents = vec![
            (Path::from("ok/A.pdf"), Bytes::from_static(b"a")),
            (Path::from("blocked/B.pdf"), Bytes::from_static(b"b")),
            (Path::from("ok/C.pdf"), Bytes::from_static(b"c")),
        ];
        let outcomes = store.create_documents(documents, 1).await;
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        let error = outcomes[1].as_ref().unwrap_err().to_string();
        assert!(error.contains("blocked"), "{error}");
        assert_eq!(std::fs::read(dir.path().join("ok/C.pdf")).unwrap(), b"c");
    }

    #[tokio::test]
    async fn documents_in_another_store_are_put() {
        let store = Store::new(Arc::new(InMemory::new()), Url::parse("memory:///").unwrap());
        let documents: Vec<_> = (0..10)
            .map(|i| {
                (
                    Path::from(format!("payslips/W{i}.pdf")),
                    Bytes::from(format!("pdf {i}")),
                )
            })
            .collect();
        for outcome in store.create_documents(documents, 3).await {
            outcome.unwrap();
        }
        for i in 0..10 {
            let path = Path::from(format!("payslips/W{i}.pdf"));
            assert_eq!(store.get(&path).await.unwrap(), format!("pdf {i}"));
        }
    }
}
