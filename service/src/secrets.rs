//! The keys the service signs and verifies with: from the config, or secrets generated once
//! and kept private under the data directory, so that tokens and anchors survive a restart.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::anchors::AnchorKey;
use crate::auth::Keys;
use crate::config::ServeConfig;
use crate::oidc;

/// The configured key, or a secret generated once and kept under the data directory (so the
/// printed tokens survive a restart).
pub fn signing_keys(config: &ServeConfig) -> anyhow::Result<Keys> {
    let keys = own_keys(config)?.with_policy(config.auth.token_policy());
    Ok(match &config.auth.oidc {
        Some(oidc) => keys.with_oidc(oidc::Provider::new(oidc.clone())),
        None => keys,
    })
}

fn own_keys(config: &ServeConfig) -> anyhow::Result<Keys> {
    if let Some(path) = &config.auth.rs256_public_key {
        let pem = std::fs::read(path).with_context(|| format!("auth.rs256_public_key {}", path.display()))?;
        return Keys::rs256(&pem).map_err(|e| anyhow::anyhow!("auth.rs256_public_key {}: {e}", path.display()));
    }
    if let Some(secret) = &config.auth.hs256_secret {
        let secret = secret.strong("auth.hs256_secret").map_err(anyhow::Error::msg)?;
        return Ok(Keys::hs256(secret.as_bytes()));
    }
    Ok(Keys::hs256(generated_secret(config, "jwt-secret")?.as_bytes()))
}

/// The key audit anchors are signed with: `[audit] anchor_key`, or a secret generated once and
/// kept under the data directory (`payroll audit verify --config` reads the same).
pub fn anchor_key(config: &ServeConfig) -> anyhow::Result<AnchorKey> {
    if let Some(secret) = &config.audit.anchor_key {
        let secret = secret.strong("audit.anchor_key").map_err(anyhow::Error::msg)?;
        return Ok(AnchorKey::new(secret.as_bytes()));
    }
    Ok(AnchorKey::new(generated_secret(config, "audit-anchor-key")?.as_bytes()))
}

/// A secret made once (32 random bytes, hex) and kept in `<data>/<name>`, private to its user:
/// what the service uses when the config names none, the same after every restart.
fn generated_secret(config: &ServeConfig, name: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(&config.data).with_context(|| format!("creating {}", config.data.display()))?;
    let path: PathBuf = config.data.join(name);
    let secret = match std::fs::read_to_string(&path) {
        Ok(secret) => secret,
        Err(_) => {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            write_private(&path, &secret)?;
            secret
        }
    };
    Ok(secret.trim().to_string())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
