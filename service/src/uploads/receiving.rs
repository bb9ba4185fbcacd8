//! The uploads this process is receiving: bodies held in memory until they are recorded, counted
//! per org for `[uploads] max_in_progress`.

/// Uploads this process is receiving, per org: each holds up to `max_bytes` in memory until its
/// body is read and it is recorded (from then on the database counts it).
///
/// An upload moves from this count to the database's under `admission`, the lock its check
/// holds too: a check never sees an upload in both, nor in neither.
#[derive(Debug, Default)]
pub struct Receiving {
    orgs: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    admission: tokio::sync::Mutex<()>,
}

/// One upload being received: counted until dropped, so a body that fails to arrive (or a
/// client that goes away) releases its place.
pub struct Received<'a> {
    receiving: &'a Receiving,
    org: String,
    /// This org's uploads being received, this one included, when it began.
    pub count: usize,
}

impl Receiving {
    /// Held while an upload is counted and checked, and while it moves to the database.
    pub async fn admission(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.admission.lock().await
    }

    pub fn begin(&self, org: &str) -> Received<'_> {
        let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = orgs.entry(org.to_string()).or_default();
        *count += 1;
        Received {
            count: *count,
            receiving: self,
            org: org.to_string(),
        }
    }

    /// Bodies being received, every org together.
    pub fn total(&self) -> usize {
        let orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        orgs.values().sum()
    }
}

impl Drop for Received<'_> {
    fn drop(&mut self) {
        let mut orgs = self
            .receiving
            .orgs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = orgs.get_mut(&self.org) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                orgs.remove(&self.org);
            }
        }
    }
}
