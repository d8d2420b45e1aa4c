//! The process's counters and gauges, served as Prometheus text by the API's `/metrics`.
//!
//! Kept up to date where things change, so a scrape costs the same with ten bindings or a
//! million: a registration actor moves `ringmaster_registrations` by the change in its own
//! binding count, the directory moves `ringmaster_apps` when an app comes or goes. The SIP
//! core's own counters (transactions, live calls, bans, the flood limiter, TCP connections)
//! live inside the SIP actor; the scrape copies its O(1) snapshot ([`Metrics::record_sip`]).
//!
//! One registry per process (a `static`), because the registration actors that move the
//! bindings gauge are created in many places and have no engine handle to carry it; an
//! actor adds and later removes exactly what it contributed, so the gauge stays right even
//! with several engines in one test process (it is their sum).

use std::sync::LazyLock;

use prometheus::{Encoder, IntCounter, IntGauge, Opts, Registry, TextEncoder};

use crate::actors::sip::SipStats;

/// Every metric ringmaster exports; names keep the `ringmaster_` prefix they always had.
pub struct Metrics {
    registry: Registry,
    /// Live SIP registration bindings.
    pub registrations: IntGauge,
    /// Apps configured.
    pub apps: IntGauge,
    uptime_seconds: IntCounter,
    sip_transactions: IntGauge,
    calls_live: IntGauge,
    sip_banned_sources: IntGauge,
    sip_blocked_pairs: IntGauge,
    rtp_foreign_dropped_total: IntCounter,
    sip_flood_dropped_total: IntCounter,
    sip_tracked_sources: IntGauge,
    sip_tcp_connections: IntGauge,
    draining: IntGauge,
    /// TLS handshakes (SIP over TLS and WSS) that failed or timed out.
    pub tls_handshake_failures: IntCounter,
    /// WebSocket upgrades refused (no `sip` subprotocol, not an upgrade, timed out).
    pub ws_upgrades_refused: IntCounter,
    /// Browser (WebRTC) legs whose ICE and DTLS completed.
    pub webrtc_connected: IntCounter,
    /// Browser legs given up: DTLS failed, ICE timed out or stayed disconnected.
    pub webrtc_failures: IntCounter,
    /// Packets from SRTP legs that failed authentication or were replays.
    pub srtp_refused: IntCounter,
    pub streams_started: IntCounter,
    pub streams_failed: IntCounter,
    pub stream_frames_dropped: IntCounter,
    pub stream_messages_dropped: IntCounter,
    pub stream_audio_refused: IntCounter,
    /// SQL round trips to a PostgreSQL store (0 on sled).
    pub store_db_round_trips: IntCounter,
    /// Group commits written to a PostgreSQL store.
    pub store_db_commits: IntCounter,
    /// 1 while the PostgreSQL store is reachable (and on sled).
    pub store_db_up: IntGauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::with_opts(Opts::new(format!("ringmaster_{name}"), help))
        .expect("a valid constant metric name");
    registry
        .register(Box::new(g.clone()))
        .expect("each metric is registered once");
    g
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::with_opts(Opts::new(format!("ringmaster_{name}"), help))
        .expect("a valid constant metric name");
    registry
        .register(Box::new(c.clone()))
        .expect("each metric is registered once");
    c
}

/// Moves a counter that mirrors a monotonic source up to `value` (never down).
fn advance(c: &IntCounter, value: u64) {
    let now = c.get();
    if value > now {
        c.inc_by(value - now);
    }
}

impl Metrics {
    fn new() -> Metrics {
        let r = Registry::new();
        Metrics {
            registrations: gauge(&r, "registrations", "Live SIP registration bindings."),
            apps: gauge(&r, "apps", "Apps configured."),
            uptime_seconds: counter(&r, "uptime_seconds", "Seconds since start."),
            sip_transactions: gauge(
                &r,
                "sip_transactions",
                "Live SIP transactions (returns to its baseline when idle).",
            ),
            calls_live: gauge(&r, "calls_live", "Calls up now."),
            sip_banned_sources: gauge(
                &r,
                "sip_banned_sources",
                "Source addresses banned after failed authentications.",
            ),
            sip_blocked_pairs: gauge(
                &r,
                "sip_blocked_pairs",
                "(address, user) pairs blocked after failed authentications.",
            ),
            rtp_foreign_dropped_total: counter(
                &r,
                "rtp_foreign_dropped_total",
                "RTP/RTCP packets refused because their source was not the leg's (latching).",
            ),
            sip_flood_dropped_total: counter(
                &r,
                "sip_flood_dropped_total",
                "SIP messages dropped by the per-source rate limit.",
            ),
            sip_tracked_sources: gauge(
                &r,
                "sip_tracked_sources",
                "Source addresses the rate limit tracks.",
            ),
            sip_tcp_connections: gauge(
                &r,
                "sip_tcp_connections",
                "Open SIP stream connections (TCP, TLS, WS and WSS).",
            ),
            draining: gauge(&r, "draining", "1 while a graceful drain is under way."),
            tls_handshake_failures: counter(
                &r,
                "sip_tls_handshake_failures_total",
                "TLS handshakes on the SIP-over-TLS and WSS ports that failed or timed out.",
            ),
            ws_upgrades_refused: counter(
                &r,
                "sip_ws_upgrades_refused_total",
                "WebSocket upgrades refused (no `sip` subprotocol, malformed, timed out).",
            ),
            webrtc_connected: counter(
                &r,
                "media_webrtc_connected_total",
                "Browser (WebRTC) legs whose ICE and DTLS handshakes completed.",
            ),
            webrtc_failures: counter(
                &r,
                "media_webrtc_failures_total",
                "Browser legs given up: DTLS failed, ICE timed out or stayed disconnected.",
            ),
            srtp_refused: counter(
                &r,
                "rtp_srtp_refused_total",
                "SRTP/SRTCP packets refused (failed authentication, replayed, not SRTP).",
            ),
            streams_started: counter(
                &r,
                "streams_started_total",
                "`stream` WebSockets opened to agents.",
            ),
            streams_failed: counter(
                &r,
                "streams_failed_total",
                "`stream`s that failed: unreachable, refused by [policy], handshake or I/O error.",
            ),
            stream_frames_dropped: counter(
                &r,
                "stream_frames_dropped_total",
                "Audio frames not streamed because the agent's connection was behind.",
            ),
            stream_messages_dropped: counter(
                &r,
                "stream_messages_dropped_total",
                "Messages from agents dropped: malformed, oversize, or unsupported audio (ogg).",
            ),
            stream_audio_refused: counter(
                &r,
                "stream_audio_refused_total",
                "Audio from agents refused because the caller's playout queue was full.",
            ),
            store_db_round_trips: counter(
                &r,
                "store_db_round_trips_total",
                "SQL round trips to the PostgreSQL store.",
            ),
            store_db_commits: counter(
                &r,
                "store_db_commits_total",
                "Group commits written to the PostgreSQL store.",
            ),
            store_db_up: gauge(
                &r,
                "store_db_up",
                "1 while the store's database is reachable (always 1 on sled).",
            ),
            registry: r,
        }
    }

    /// Copies the SIP actor's snapshot (taken for a scrape).
    pub fn record_sip(&self, s: &SipStats) {
        self.sip_transactions.set(s.transactions as i64);
        self.calls_live.set(s.live_calls as i64);
        self.sip_banned_sources.set(s.banned_sources as i64);
        self.sip_blocked_pairs.set(s.blocked_pairs as i64);
        advance(&self.sip_flood_dropped_total, s.flood_dropped);
        self.sip_tracked_sources.set(s.tracked_sources as i64);
        self.sip_tcp_connections.set(s.tcp_connections as i64);
        self.draining.set(i64::from(s.draining));
    }

    /// Packets the media plane refused from strangers (its own monotonic count).
    pub fn record_rtp_foreign(&self, dropped: u64) {
        advance(&self.rtp_foreign_dropped_total, dropped);
    }

    /// Seconds the server has run (the caller owns the clock).
    pub fn record_uptime(&self, secs: u64) {
        advance(&self.uptime_seconds, secs);
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on a metric family without samples, which a
        // registered gauge or counter always has.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// What one registration actor has added to the bindings gauge, so it can move it by its
/// changes and take it all back when it stops.
#[derive(Debug, Default)]
pub struct BindingCount(i64);

impl BindingCount {
    /// The actor now holds `n` bindings.
    pub fn set(&mut self, n: usize) {
        let n = n as i64;
        metrics().registrations.add(n - self.0);
        self.0 = n;
    }
}

impl Drop for BindingCount {
    fn drop(&mut self) {
        metrics().registrations.sub(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_counts_move_the_gauge_by_their_changes_and_take_them_back() {
        // Other tests in this process may hold bindings: compare against the start.
        let base = metrics().registrations.get();
        let mut a = BindingCount::default();
        let mut b = BindingCount::default();
        a.set(3);
        b.set(2);
        a.set(1);
        assert_eq!(metrics().registrations.get() - base, 3);
        drop(a);
        assert_eq!(metrics().registrations.get() - base, 2);
        b.set(0);
        drop(b);
        assert_eq!(metrics().registrations.get(), base);
    }

    #[test]
    fn the_text_keeps_the_metric_names_and_kinds() {
        metrics().record_sip(&SipStats {
            flood_dropped: 7,
            ..SipStats::default()
        });
        metrics().record_sip(&SipStats {
            flood_dropped: 5,
            ..SipStats::default()
        });
        let text = metrics().encode();
        for (name, kind) in [
            ("registrations", "gauge"),
            ("apps", "gauge"),
            ("uptime_seconds", "counter"),
            ("sip_transactions", "gauge"),
            ("calls_live", "gauge"),
            ("sip_banned_sources", "gauge"),
            ("sip_blocked_pairs", "gauge"),
            ("rtp_foreign_dropped_total", "counter"),
            ("sip_flood_dropped_total", "counter"),
            ("sip_tracked_sources", "gauge"),
            ("sip_tcp_connections", "gauge"),
            ("draining", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE ringmaster_{name} {kind}\n")),
                "{name} {kind}:\n{text}"
            );
        }
        assert!(
            text.contains("ringmaster_sip_flood_dropped_total 7\n"),
            "a counter never goes down:\n{text}"
        );
    }
}
