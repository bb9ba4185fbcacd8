//! Checkpoints sealed at rest. A checkpoint holds every worker's master record, bank account and
//! PAN included, so a state store on shared storage can be encrypted: AES-256-GCM (ring), with
//! a 32-byte key given in the environment as 64 hex digits. A sealed object is
//! `PAYSEAL1 | nonce (12 bytes) | ciphertext and tag`; its path is bound in as associated data,
//! so a sealed checkpoint moved to another shard's place does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// The environment variable holding the key: 64 hex digits (`openssl rand -hex 32`).
pub const KEY_VAR: &str = "PAYROLL_CHECKPOINT_KEY";
const MAGIC: &[u8; 8] = b"PAYSEAL1";

pub struct Seal {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seal(AES-256-GCM)")
    }
}

impl Seal {
    /// The seal of [`KEY_VAR`], if it is set; a key that is not 64 hex digits, or is weak
    /// ([`crate::secret::weakness`]), is an error, never a silent fall back to writing in clear.
    pub fn from_env() -> Result<Option<Seal>> {
        match std::env::var(KEY_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Seal::from_hex(text.trim()).map(Some),
            Err(std::env::VarError::NotUnicode(_)) => Err(bad_key()),
        }
    }

    pub fn from_hex(text: &str) -> Result<Seal> {
        let key: [u8; 32] = hex::decode(text)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(bad_key)?;
        // 64 hex digits are 256 bits, but `aaaa…` is no key.
        if let Some(why) = crate::secret::weakness(text) {
            return Err(Error::input(KEY_VAR, why));
        }
        Ok(Seal::new(&key))
    }

    pub fn new(key: &[u8; 32]) -> Seal {
        let key =
            UnboundKey::new(&AES_256_GCM, key).unwrap_or_else(|_| unreachable!("a 32-byte key is an AES-256 key"));
        Seal {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        }
    }

    /// `plain` encrypted, for the object at `path`.
    pub fn seal(&self, path: &str, mut plain: Vec<u8>) -> Result<Vec<u8>> {
        let mut nonce = [0; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| Error::input(path, "no random numbers from the operating system to seal with"))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(path.as_bytes()),
                &mut plain,
            )
            .map_err(|_| Error::input(path, "could not be sealed"))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + plain.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&plain);
        Ok(out)
    }

    /// The plain bytes of a sealed object read from `path`.
    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let body = sealed.strip_prefix(MAGIC.as_slice()).ok_or_else(|| {
            Error::input(
                path,
                format!("not sealed, but {KEY_VAR} is set: refusing a checkpoint in clear"),
            )
        })?;
        let (nonce, ciphertext) = body
            .split_first_chunk::<NONCE_LEN>()
            .ok_or_else(|| Error::input(path, "sealed checkpoint is truncated"))?;
        let mut plain = ciphertext.to_vec();
        let opened = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(path.as_bytes()),
                &mut plain,
            )
            .map_err(|_| {
                Error::input(
                    path,
                    format!("sealed checkpoint does not open with {KEY_VAR}: another key, or damaged"),
                )
            })?;
        let len = opened.len();
        plain.truncate(len);
        Ok(plain)
    }
}

/// Whether `bytes` is a sealed object (to name the missing key rather than call it corrupt).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn bad_key() -> Error {
    Error::input(
        KEY_VAR,
        "expected 64 hex digits (a 32-byte AES-256 key, e.g. from `openssl rand -hex 32`)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn seals_and_opens_bound_to_the_path() {
        let seal = Seal::from_hex(KEY).unwrap();
        let sealed = seal.seal("a/1.ckpt", b"the state".to_vec()).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.windows(9).any(|w| w == b"the state"));
        assert_eq!(seal.open("a/1.ckpt", &sealed).unwrap(), b"the state");
        // Twice sealed, two ciphertexts: a nonce is never reused.
        assert_ne!(seal.seal("a/1.ckpt", b"the state".to_vec()).unwrap(), sealed);

        for (path, bytes) in [
            ("b/1.ckpt", sealed.clone()),
            ("a/1.ckpt", sealed[..20].to_vec()),
            ("a/1.ckpt", b"PAYCKPT2 in clear".to_vec()),
        ] {
            assert!(seal.open(path, &bytes).is_err(), "{path}");
        }
        let other = Seal::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open("a/1.ckpt", &sealed).is_err());
    }

    #[test]
    fn a_key_must_be_64_hex_digits() {
        for bad in ["", "00", &KEY[..62], &KEY.replace('0', "g")] {
            let error = Seal::from_hex(bad).unwrap_err().to_string();
            assert!(error.contains("64 hex digits"), "{bad}: {error}");
        }
    }
}
