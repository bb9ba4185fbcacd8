//! Payslip links: a URL of this service that serves one worker's payslip of one run until it
//! expires, to whoever holds it. It is authenticated by its signature, an HMAC-SHA256 over the
//! org, run, worker and expiry with a server secret: changing any of them, or the expiry, makes
//! it refused; it can reach no other payslip.

use std::path::Path;

use ring::hmac;

use crate::error::{Error, Result};

/// Signs and checks payslip links.
#[derive(Clone)]
pub struct LinkKey(hmac::Key);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<secret>)")
    }
}

/// What a link grants: one payslip, until `expires` (seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant<'a> {
    pub org: &'a str,
    pub run: &'a str,
    pub worker: &'a str,
    pub expires: u64,
}

impl Grant<'_> {
    fn message(&self) -> String {
        // Ids hold no newline (they are checked where they enter), so the fields cannot run
        // into each other.
        format!(
            "payslip-link\n{}\n{}\n{}\n{}",
            self.org, self.run, self.worker, self.expires
        )
    }

    /// The link's path and query.
    pub fn path(&self, signature: &str) -> String {
        format!(
            "/v1/signed/orgs/{}/runs/{}/payslips/{}?expires={}&signature={signature}",
            self.org, self.run, self.worker, self.expires
        )
    }
}

impl LinkKey {
    pub fn new(secret: &[u8]) -> LinkKey {
        LinkKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The configured secret, or one generated once and kept under the data directory.
    pub fn load(configured: Option<&str>, data: &Path) -> std::io::Result<LinkKey> {
        if let Some(secret) = configured {
            return Ok(LinkKey::new(secret.as_bytes()));
        }
        let path = data.join("notice-link-secret");
        match std::fs::read_to_string(&path) {
            Ok(secret) => Ok(LinkKey::new(secret.trim().as_bytes())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let secret = hex::encode(rand::random::<[u8; 32]>());
                std::fs::create_dir_all(data)?;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                {
                    Ok(mut file) => {
                        file.write_all(secret.as_bytes())?;
                        Ok(LinkKey::new(secret.as_bytes()))
                    }
                    // Another instance on the same directory wrote it first.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Ok(LinkKey::new(std::fs::read_to_string(&path)?.trim().as_bytes()))
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn sign(&self, grant: &Grant<'_>) -> String {
        hex::encode(hmac::sign(&self.0, grant.message().as_bytes()).as_ref())
    }

    /// The grant if `signature` is this key's for it and it has not expired at `now`.
    pub fn check(&self, grant: &Grant<'_>, signature: &str, now: u64) -> Result<()> {
        let refused = |why: &str| Error::Forbidden(format!("payslip link {why}"));
        let bytes = hex::decode(signature).map_err(|_| refused("signature is malformed"))?;
        // Constant time: a signature is not guessed byte by byte from response times.
        hmac::verify(&self.0, grant.message().as_bytes(), &bytes).map_err(|_| refused("signature does not verify"))?;
        if now > grant.expires {
            return Err(refused("expired: ask for the payslip again"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_refused_when_anything_in_it_changes_or_it_expires() {
        let key = LinkKey::new(b"a link secret of at least thirty-two bytes");
        let grant = Grant {
            org: "org0",
            run: "r1",
            worker: "W1",
            expires: 1_000,
        };
        let signature = key.sign(&grant);
        assert!(key.check(&grant, &signature, 999).is_ok());
        assert!(key.check(&grant, &signature, 1_000).is_ok());
        assert!(
            key.check(&grant, &signature, 1_001)
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        for other in [
            Grant {
                worker: "W2",
                ..grant.clone()
            },
            Grant {
                run: "r2",
                ..grant.clone()
            },
            Grant {
                org: "org1",
                ..grant.clone()
            },
            Grant {
                expires: 2_000,
                ..grant.clone()
            },
        ] {
            let refused = key.check(&other, &signature, 10).unwrap_err().to_string();
            assert!(refused.contains("does not verify"), "{other:?}: {refused}");
        }
        assert!(
            key.check(&grant, "zz", 10)
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
        let other_key = LinkKey::new(b"another secret of at least thirty-two bytes");
        assert!(other_key.check(&grant, &signature, 10).is_err());
    }
}
