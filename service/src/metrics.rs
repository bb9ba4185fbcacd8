//! `/metrics` in Prometheus' text format: requests by route and status with latency
//! histograms, runs by kind and status, run durations, payslip throughput, and in stream mode
//! the stream's rate, lag, dead letters and checkpoint age.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use payroll_connectors::kafka::StreamStatus;
use payroll_engine::lifecycle::{RunKind, RunStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    kind: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    kind: String,
    stage: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    check: String,
    severity: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NoticeLabels {
    status: String,
    channel: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    runs: Family<RunLabels, Counter>,
    run_seconds: Histograms<StageLabels>,
    payslips_per_second: Gauge<f64, AtomicU64>,
    stream: StreamGauges,
    /// Workers in the stream's live results whose pay could not be computed.
    live_worker_errors: Gauge,
    notices_sent: Family<ChannelLabels, Counter>,
    notices_failed: Family<ChannelLabels, Counter>,
    notices_dead: Family<ChannelLabels, Counter>,
    notices_outbox: Family<NoticeLabels, Gauge>,
    /// Upload bodies being received now, every org together.
    uploads_receiving: Gauge,
    findings: Family<FindingLabels, Counter>,
}

/// The stream's figures, copied from its `StreamStatus` when `/metrics` is read.
#[derive(Default)]
struct StreamGauges {
    folded: Gauge,
    rate: Gauge,
    lag: Gauge,
    dead_letters: Gauge,
    checkpoints: Gauge,
    failed_checkpoints: Gauge,
    undelivered_dead_letters: Gauge,
    waiting: Gauge,
    checkpoint_fallbacks: Gauge,
    archived_events: Gauge,
    reopened: Gauge,
    checkpoint_age: Gauge<f64, AtomicU64>,
}

fn latency_buckets() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

fn run_buckets() -> Histogram {
    // 0.1 s to about 55 min.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("payroll");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Histograms<RouteLabels> = Family::new_with_constructor(latency_buckets);
        let runs = Family::<RunLabels, Counter>::default();
        let run_seconds: Histograms<StageLabels> = Family::new_with_constructor(run_buckets);
        let payslips_per_second = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register("http_request_seconds", "HTTP request latency by route", latency.clone());
        registry.register("runs", "Runs entering each status, by kind", runs.clone());
        registry.register(
            "run_stage_seconds",
            "Time of each stage of a run (calculate, finalize)",
            run_seconds.clone(),
        );
        registry.register(
            "payslips_per_second",
            "Payslips rendered per second by the latest finalized run",
            payslips_per_second.clone(),
        );
        let stream = StreamGauges::default();
        for (name, help, gauge) in [
            (
                "stream_messages_folded",
                "Messages folded by this instance's stream",
                &stream.folded,
            ),
            (
                "stream_messages_per_second",
                "Messages folded per second, last interval",
                &stream.rate,
            ),
            (
                "stream_lag",
                "Messages not yet read, partitions this instance owns",
                &stream.lag,
            ),
            (
                "stream_dead_letters",
                "Messages refused to the dead-letter topics",
                &stream.dead_letters,
            ),
            ("stream_checkpoints", "Shard checkpoints written", &stream.checkpoints),
            (
                "stream_failed_checkpoints",
                "Shard checkpoints that failed (retried)",
                &stream.failed_checkpoints,
            ),
            (
                "stream_undelivered_dead_letters",
                "Dead letters the broker refused; each is sent again and its shard's checkpoint waits",
                &stream.undelivered_dead_letters,
            ),
            (
                "stream_waiting_workers",
                "Workers with events but no master record yet (each shard keeps at most 50,000; beyond, such events are dead letters)",
                &stream.waiting,
            ),
            (
                "stream_checkpoint_fallbacks",
                "Restores that found the latest checkpoint unreadable and used the one before",
                &stream.checkpoint_fallbacks,
            ),
            (
                "stream_archived_events",
                "Events of locked periods moved from the stream's state to its archive",
                &stream.archived_events,
            ),
            (
                "stream_reopened_worker_periods",
                "Workers' locked periods loaded back from the archive for a late event",
                &stream.reopened,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        registry.register(
            "stream_checkpoint_age_seconds",
            "Seconds since the latest checkpoint",
            stream.checkpoint_age.clone(),
        );
        let live_worker_errors = Gauge::default();
        registry.register(
            "stream_worker_errors",
            "Workers in the live results whose pay could not be computed (a component without a value); the others stay current",
            live_worker_errors.clone(),
        );
        let (notices_sent, notices_failed, notices_dead) = (Family::default(), Family::default(), Family::default());
        let notices_outbox = Family::<NoticeLabels, Gauge>::default();
        registry.register(
            "notices_sent",
            "Payslip notices a vendor accepted, by channel",
            notices_sent.clone(),
        );
        registry.register(
            "notices_failed",
            "Attempts at a payslip notice that failed (retried, fallen back or dead), by channel",
            notices_failed.clone(),
        );
        registry.register(
            "notices_dead",
            "Payslip notices dead-lettered after every channel failed, by the last channel",
            notices_dead.clone(),
        );
        registry.register(
            "notices_outbox",
            "Payslip notices in the outbox by status and current channel (pending and sending: the queue)",
            notices_outbox.clone(),
        );
        let uploads_receiving = Gauge::default();
        registry.register(
            "uploads_receiving",
            "Upload bodies being received (held in memory before they are recorded), every org together",
            uploads_receiving.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings of calculated runs, by check and severity",
            findings.clone(),
        );
        Metrics {
            findings,
            uploads_receiving,
            notices_sent,
            notices_failed,
            notices_dead,
            notices_outbox,
            registry,
            stream,
            live_worker_errors,
            requests,
            latency,
            runs,
            run_seconds,
            payslips_per_second,
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method_label(method).to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn run_queued(&self, kind: RunKind) {
        self.run_entered(kind, RunStatus::Queued);
    }

    pub fn run_entered(&self, kind: RunKind, status: RunStatus) {
        self.runs
            .get_or_create(&RunLabels {
                kind: kind.as_str().to_string(),
                status: status.as_str().to_string(),
            })
            .inc();
    }

    pub fn run_stage(&self, kind: RunKind, stage: &str, took: Duration) {
        self.run_seconds
            .get_or_create(&StageLabels {
                kind: kind.as_str().to_string(),
                stage: stage.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn payslips_rendered(&self, per_second: f64) {
        self.payslips_per_second.set(per_second);
    }

    pub fn observe_stream(&self, status: &StreamStatus) {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as i64;
        let g = &self.stream;
        g.folded.set(load(&status.folded));
        g.rate.set(load(&status.rate));
        g.lag.set(status.lag.load(Ordering::Relaxed));
        g.dead_letters.set(load(&status.dead_letters));
        g.checkpoints.set(load(&status.checkpoints));
        g.failed_checkpoints.set(load(&status.failed_checkpoints));
        g.undelivered_dead_letters.set(load(&status.undelivered_dead_letters));
        g.checkpoint_fallbacks.set(load(&status.checkpoint_fallbacks));
        g.waiting.set(load(&status.waiting));
        g.archived_events.set(load(&status.archived_events));
        g.reopened.set(load(&status.reopened));
        let last = status.last_checkpoint_ms.load(Ordering::Relaxed);
        if last > 0 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            g.checkpoint_age.set(now.saturating_sub(last) as f64 / 1000.0);
        }
    }

    /// Counts what a calculated run's checks found.
    pub fn findings_of_run(&self, findings: &[payroll_engine::findings::Finding]) {
        for finding in findings {
            self.findings
                .get_or_create(&FindingLabels {
                    check: finding.check.clone(),
                    severity: finding.severity.to_string(),
                })
                .inc();
        }
    }

    pub fn notice_sent(&self, channel: crate::domain::notices::Channel) {
        self.notices_sent
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    pub fn notice_failed(&self, channel: crate::domain::notices::Channel) {
        self.notices_failed
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    pub fn notice_dead(&self, channel: crate::domain::notices::Channel) {
        self.notices_dead
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    /// The outbox's rows by (status, channel, count), as counted now.
    pub fn notices_queue(&self, counts: &[(String, String, i64)]) {
        for status in crate::domain::notices::NoticeStatus::ALL {
            for channel in crate::domain::notices::Channel::ALL {
                let n = counts
                    .iter()
                    .find(|(s, c, _)| s == status.as_str() && c == channel.as_str())
                    .map_or(0, |(_, _, n)| *n);
                self.notices_outbox
                    .get_or_create(&NoticeLabels {
                        status: status.to_string(),
                        channel: channel.to_string(),
                    })
                    .set(n);
            }
        }
    }

    pub fn uploads_receiving(&self, bodies: usize) {
        self.uploads_receiving.set(i64::try_from(bodies).unwrap_or(i64::MAX));
    }

    pub fn live_worker_errors(&self, workers: u64) {
        self.live_worker_errors.set(i64::try_from(workers).unwrap_or(i64::MAX));
    }

    #[allow(clippy::expect_used, reason = "writing to a String cannot fail")]
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// A request method as a label: the methods this API answers, else `other`. A client may send
/// any token as a method, and each new label value is a new series kept for ever: labels must
/// come from a fixed set, as routes do (an unmatched path is `unmatched`).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.into_iter().find(|known| *known == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_labels_come_from_a_fixed_set_whatever_the_client_sends() {
        let metrics = Metrics::default();
        for n in 0..100 {
            metrics.observe_request("unmatched", &format!("BREW{n}"), 405, Duration::from_millis(1));
        }
        metrics.observe_request("/v1/me", "GET", 200, Duration::from_millis(1));
        let text = metrics.render();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("payroll_http_requests_total"))
            .collect();
        assert!(!text.contains("BREW"), "{text}");
        assert_eq!(series.len(), 2, "{series:#?}");
    }
}
