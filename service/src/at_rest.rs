//! Files the service keeps that carry full bank account numbers and PANs: raw uploads and
//! payout bank files. Sealed with the checkpoint key when one is set (the checkpoints' seal:
//! AES-256-GCM, the object's path bound in, so a file moved to another's place does not open),
//! and on a local store readable by the service's user only (0600).

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use payroll_connectors::Store;
use payroll_connectors::seal::{KEY_VAR, Seal, is_sealed};

use crate::error::{Error, Result};

/// The seal of `PAYROLL_CHECKPOINT_KEY`, read once at start; `None` keeps files in clear.
#[derive(Debug, Clone, Default)]
pub struct AtRest {
    seal: Option<Arc<Seal>>,
}

impl AtRest {
    pub fn new(seal: Option<Seal>) -> AtRest {
        AtRest {
            seal: seal.map(Arc::new),
        }
    }

    /// Writes `plain` at `path`, sealed if a key is set, then 0600 if the store is a directory.
    pub async fn put(&self, store: &Store, path: &Path, plain: Vec<u8>) -> Result<()> {
        let bytes = match &self.seal {
            Some(seal) => seal.seal(path.as_ref(), plain)?,
            None => plain,
        };
        store.put(path, bytes).await?;
        private(store, path)
    }

    /// The plain bytes of a file [`AtRest::put`] wrote.
    pub async fn get(&self, store: &Store, path: &Path) -> Result<Bytes> {
        let bytes = store.get(path).await?;
        match (&self.seal, is_sealed(&bytes)) {
            (Some(seal), true) => Ok(seal.open(path.as_ref(), &bytes)?.into()),
            // With a key every file is written sealed: one in clear was put there by someone
            // else (a bank file naming their account), or predates the key.
            (Some(_), false) => Err(Error::Unavailable(format!(
                "{path}: in clear, but {KEY_VAR} is set: refusing a file that was not sealed"
            ))),
            (None, true) => Err(Error::Unavailable(format!(
                "{path}: sealed: set {KEY_VAR} to the key it was written with"
            ))),
            (None, false) => Ok(bytes),
        }
    }
}

/// Makes a file of a local store readable by its owner only. object_store's local backend
/// writes a temporary file with the default mode (umask) and renames it into place, with no
/// way to choose the mode: it is set right after the write. Other stores keep their own
/// access control.
fn private(store: &Store, path: &Path) -> Result<()> {
    let root = store.root_url();
    // `join` of an absolute URL is that URL, parsed (the service names no `url` crate).
    let Some(file) = (root.scheme() == "file")
        .then(|| root.join(&store.url_of(path)).ok())
        .flatten()
        .and_then(|url| url.to_file_path().ok())
    else {
        return Ok(());
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::Unavailable(format!("{}: {e}", file.display())))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
