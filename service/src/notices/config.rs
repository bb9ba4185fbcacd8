//! `[notices]` in the config: where payslip links point, how long they are valid, the channels
//! in their fallback order (for all orgs, or one), how retries back off, and each channel's
//! vendor: an SMTP server for email, an HTTP webhook for SMS and WhatsApp.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;
use crate::domain::notices::Channel;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeSettings {
    /// Off: no notice is written when a run is finalized (and none is sent).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The service's address as workers reach it: the base of payslip links
    /// (`https://payroll.example.com`). The listen address when unset.
    pub public_url: Option<String>,
    /// How long a payslip link is valid after its notice is sent (`7d`).
    #[serde(default = "default_link_ttl", with = "duration")]
    pub link_ttl: Duration,
    /// Signs payslip links (HMAC-SHA256), a strong secret ([`Secret::strong`]); every instance
    /// must share it. Generated once under the data directory when unset.
    pub link_secret: Option<Secret>,
    /// The channels in the order they are tried: a worker gets a notice on the first one they
    /// have a contact for and that delivers; when one fails for good the next is tried.
    #[serde(default = "default_channels")]
    pub channels: Vec<Channel>,
    /// Attempts on one channel before it is given up (the notice falls back to the next
    /// channel, or is dead-lettered after the last).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first retry; doubled each attempt, up to `max_backoff`, with up to
    /// half of it added at random so retries of a batch spread out.
    #[serde(default = "default_backoff", with = "duration")]
    pub backoff: Duration,
    #[serde(default = "default_max_backoff", with = "duration")]
    pub max_backoff: Duration,
    /// How long a claimed notice is held by the dispatcher that claimed it: a dispatcher that
    /// dies leaves its notices to be claimed again after this.
    #[serde(default = "default_lease", with = "duration")]
    pub lease: Duration,
    /// Notices claimed at once, and sent at once.
    #[serde(default = "default_batch")]
    pub batch: u32,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How often the outbox is read when it had nothing due.
    #[serde(default = "default_poll", with = "duration")]
    pub poll: Duration,
    /// Per org: its own fallback order.
    #[serde(default)]
    pub orgs: BTreeMap<String, OrgNotices>,
    pub email: Option<EmailVendor>,
    pub sms: Option<WebhookVendor>,
    pub whatsapp: Option<WebhookVendor>,
    /// Templates by language code, over the built-in `en` and `hi`.
    #[serde(default)]
    pub templates: BTreeMap<String, Template>,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        NoticeSettings {
            enabled: true,
            public_url: None,
            link_ttl: default_link_ttl(),
            link_secret: None,
            channels: default_channels(),
            max_attempts: default_max_attempts(),
            backoff: default_backoff(),
            max_backoff: default_max_backoff(),
            lease: default_lease(),
            batch: default_batch(),
            concurrency: default_concurrency(),
            poll: default_poll(),
            orgs: BTreeMap::new(),
            email: None,
            sms: None,
            whatsapp: None,
            templates: BTreeMap::new(),
        }
    }
}

impl NoticeSettings {
    /// The org's channels in fallback order, those with a vendor configured.
    pub fn channels_of(&self, org: &str) -> Vec<Channel> {
        let order = self
            .orgs
            .get(org)
            .and_then(|o| o.channels.as_ref())
            .unwrap_or(&self.channels);
        order.iter().copied().filter(|c| self.configured(*c)).collect()
    }

    pub fn configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
            Channel::Whatsapp => self.whatsapp.is_some(),
        }
    }

    /// Every configuration fault at once, named by key.
    pub fn check(&self) -> Result<(), String> {
        let mut faults = Vec::new();
        if let Some(Err(fault)) = self.link_secret.as_ref().map(|s| s.strong("notices.link_secret")) {
            faults.push(fault);
        }
        if self.max_attempts == 0 {
            faults.push("notices.max_attempts: at least 1".to_string());
        }
        if self.batch == 0 || self.concurrency == 0 {
            faults.push("notices.batch and notices.concurrency: at least 1".to_string());
        }
        for (name, vendor) in [("sms", &self.sms), ("whatsapp", &self.whatsapp)] {
            if let Some(v) = vendor {
                if !(v.url.starts_with("http://") || v.url.starts_with("https://")) {
                    faults.push(format!("notices.{name}.url: expected an http:// or https:// URL"));
                }
                if v.auth_value.is_some() != v.auth_header.is_some() {
                    faults.push(format!("notices.{name}: auth_header and auth_value go together"));
                }
            }
        }
        if let Some(email) = &self.email
            && email.from.parse::<lettre::message::Mailbox>().is_err()
        {
            faults.push("notices.email.from: expected a mailbox like `Payroll <payroll@example.com>`".to_string());
        }
        match faults.is_empty() {
            true => Ok(()),
            false => Err(faults.join("; ")),
        }
    }

    /// The longest a claimed batch can take to send with the configured vendors: its waves of
    /// `concurrency` sends, each up to the slowest vendor's timeout, or the slowest vendor's rate
    /// limit letting the batch through after its burst.
    pub fn batch_time(&self) -> Duration {
        let waves = self.batch.div_ceil(self.concurrency.max(1) as u32);
        let vendors = [
            self.sms.as_ref().map(|v| (v.timeout, v.rate_per_second, v.burst)),
            self.whatsapp.as_ref().map(|v| (v.timeout, v.rate_per_second, v.burst)),
            self.email.as_ref().map(|v| (v.timeout, v.rate_per_second, v.burst)),
        ];
        vendors
            .into_iter()
            .flatten()
            .map(|(timeout, rate, burst)| {
                let throttled = f64::from(self.batch.saturating_sub(burst)) / rate.max(f64::MIN_POSITIVE);
                (timeout * waves).max(Duration::try_from_secs_f64(throttled).unwrap_or(Duration::MAX))
            })
            .max()
            .unwrap_or_default()
    }

    /// Why the lease is too short, if it is: a lease that runs out while its batch is still
    /// being sent lets another dispatcher claim and send the same notices again (under the
    /// same idempotency key, which a vendor dedupes and SMTP cannot).
    pub fn lease_warning(&self) -> Option<String> {
        let needed = self.batch_time();
        (self.lease < needed).then(|| {
            format!(
                "notices.lease {:?} is shorter than a batch can take to send ({needed:?}: batch {}, concurrency {}, \
                 the vendors' timeouts and rates): raise the lease or lower the batch, or a slow vendor may get a notice twice",
                self.lease, self.batch, self.concurrency
            )
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgNotices {
    pub channels: Option<Vec<Channel>>,
}

/// An SMTP server: `smtp://host:25` (plain, for a relay on loopback), `smtp://host:587?tls=required`
/// (STARTTLS) or `smtps://user:password@host:465`, as lettre reads them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailVendor {
    pub smtp_url: Secret,
    /// The sender, `Payroll <payroll@example.com>`.
    pub from: String,
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// The vendor's rate limit, a token bucket: this many a second on average, bursts of
    /// `burst`.
    #[serde(default = "default_per_second")]
    pub rate_per_second: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// An SMS or WhatsApp vendor's HTTP API: each notice is a POST of `body` to `url`, with the
/// `Idempotency-Key` header (the vendor must deliver a key once) and an auth header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookVendor {
    pub url: String,
    /// The header that carries the credential (`Authorization`, `X-API-Key`).
    pub auth_header: Option<String>,
    pub auth_value: Option<Secret>,
    /// The body, with `{to}`, `{text}`, `{key}`, `{worker_id}`, `{run_id}` and `{language}`
    /// replaced by JSON strings (quoted and escaped).
    #[serde(default = "default_body")]
    pub body: String,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// The vendor's rate limit, a token bucket: this many a second on average, bursts of
    /// `burst`.
    #[serde(default = "default_per_second")]
    pub rate_per_second: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// A notice's words in one language: `{name}`, `{period}`, `{amount}`, `{link}` and
/// `{expires}` are filled in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject: String,
    pub text: String,
}

fn yes() -> bool {
    true
}
fn default_link_ttl() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_channels() -> Vec<Channel> {
    vec![Channel::Whatsapp, Channel::Sms, Channel::Email]
}
fn default_max_attempts() -> u32 {
    5
}
fn default_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(300)
}
fn default_lease() -> Duration {
    Duration::from_secs(60)
}
fn default_batch() -> u32 {
    64
}
fn default_concurrency() -> usize {
    16
}
fn default_poll() -> Duration {
    Duration::from_secs(1)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_body() -> String {
    r#"{"to": {to}, "text": {text}}"#.to_string()
}
fn default_content_type() -> String {
    "application/json".to_string()
}
fn default_per_second() -> f64 {
    50.0
}
fn default_burst() -> u32 {
    50
}

/// Durations as people write them: `10s`, `500ms`, `7d`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}; expected a duration like 10s or 7d")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_the_org_order_among_configured_vendors_and_faults_are_named() {
        let settings: NoticeSettings = toml::from_str(
            r#"
            channels = ["whatsapp", "sms", "email"]
            link_ttl = "2d"
            [orgs.org1]
            channels = ["email", "sms"]
            [sms]
            url = "https://sms.example/send"
            auth_header = "X-API-Key"
            auth_value = "k"
            [email]
            smtp_url = "smtp://127.0.0.1:2525"
            from = "Payroll <payroll@example.com>"
            "#,
        )
        .unwrap();
        assert_eq!(settings.channels_of("org0"), vec![Channel::Sms, Channel::Email]);
        assert_eq!(settings.channels_of("org1"), vec![Channel::Email, Channel::Sms]);
        assert_eq!(settings.link_ttl, Duration::from_secs(2 * 24 * 3600));
        assert!(settings.check().is_ok());
        // 64 notices, 16 at once, each up to 10 s: 40 s; the 60 s default lease covers it.
        assert_eq!(settings.batch_time(), Duration::from_secs(40));
        assert_eq!(settings.lease_warning(), None);
        let slow = NoticeSettings {
            lease: Duration::from_secs(30),
            ..settings.clone()
        };
        assert!(
            slow.lease_warning()
                .unwrap()
                .contains("shorter than a batch can take to send (40s")
        );
        let throttled = NoticeSettings {
            batch: 1024,
            concurrency: 1024,
            ..settings.clone()
        };
        // At the vendors' 50 a second, 974 of them wait for the rate after a burst of 50.
        assert_eq!(throttled.batch_time(), Duration::from_secs_f64(19.48));
        assert!(
            !format!("{settings:?}").contains("2525"),
            "the SMTP URL may carry a password"
        );

        let bad: NoticeSettings = toml::from_str(
            r#"
            link_secret = "short"
            max_attempts = 0
            [whatsapp]
            url = "ftp://x"
            auth_value = "k"
            [email]
            smtp_url = "smtp://h"
            from = "not a mailbox"
            "#,
        )
        .unwrap();
        let faults = bad.check().unwrap_err();
        for key in [
            "notices.link_secret",
            "notices.max_attempts",
            "notices.whatsapp.url",
            "notices.whatsapp: auth_header",
            "notices.email.from",
        ] {
            assert!(faults.contains(key), "{key}: {faults}");
        }
        let unknown = toml::from_str::<NoticeSettings>("chanels = []")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field `chanels`"), "{unknown}");
    }
}
