//! The output store: a local directory by default, or any `object_store` URL (`file://`,
//! `s3://`, `gs://`, `az://`), configured for the cloud from the usual environment variables
//! (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_ALLOW_HTTP`, ...).

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
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
    /// `inner` when it is a local directory: [`Store::create_document`] writes there in place.
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

    /// Whether the store is a local directory, whose files are created one at a time under
    /// each directory's lock (concurrent writers only wait on it).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
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

    /// Writes a document that is not in the store yet, whose integrity a manifest vouches for
    /// (a payslip: the batch's manifest records each file's size and hash, and a batch run
    /// again rewrites a file that differs). In a local directory the file is written in place:
    /// a staging file and its rename, as [`Store::put`] makes, doubled the work the directory's
    /// lock lets through one at a time, and a batch writes hundreds of thousands of files. A
    /// document already there is replaced whole, as `put` does.
    pub async fn create_document(&self, path: &Path, bytes: Bytes) -> Result<()> {
        let Some(local) = &self.local else {
            return self.put(path, bytes).await;
        };
        let file = local.path_to_filesystem(&self.full(path)).map_err(|e| self.error(e))?;
        let written = tokio::task::spawn_blocking(move || {
            let create = || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&file)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            };
            let outcome = match create() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => file
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| create()),
                outcome => outcome,
            };
            (outcome.map_err(|e| (file.display().to_string(), e)), bytes)
        })
        .await;
        match written {
            Ok((Ok(()), _)) => Ok(()),
            Ok((Err((_, e)), bytes)) if e.kind() == std::io::ErrorKind::AlreadyExists => self.put(path, bytes).await,
            Ok((Err((file, e)), _)) => Err(Error::io(file, e)),
            Err(e) => Err(Error::io(path, std::io::Error::other(e))),
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails by panicking, with the message.

    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn a_document_is_created_in_a_new_folder_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().display().to_string()).unwrap();
        let path = Path::from("payslips/org0/2026-10/run-1/W0.pdf");
        store
            .create_document(&path, Bytes::from_static(b"first"))
            .await
            .unwrap();
        let file = dir.path().join("payslips/org0/2026-10/run-1/W0.pdf");
        assert_eq!(std::fs::read(&file).unwrap(), b"first");
        // A document already there (a batch run again after a crash) is replaced.
        store
            .create_document(&path, Bytes::from_static(b"second, longer"))
            .await
            .unwrap();
        assert_eq!(store.get(&path).await.unwrap().as_ref(), b"second, longer");
        // Written in place: no staging file is left beside it.
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["W0.pdf"]);
    }

    #[tokio::test]
    async fn a_document_in_another_store_is_put() {
        let store = Store::new(Arc::new(InMemory::new()), Url::parse("memory:///").unwrap());
        let path = Path::from("payslips/W0.pdf");
        store.create_document(&path, Bytes::from_static(b"pdf")).await.unwrap();
        assert_eq!(store.get(&path).await.unwrap().as_ref(), b"pdf");
    }
}
