//! Stopping: signals and the graceful drain.
//!
//! The first SIGTERM (or SIGINT) starts a drain: new calls are refused (SIP INVITE → 503 with
//! Retry-After, `pcmo_make_call` → 503), REGISTER and everything else is still served, and live
//! calls may run until they end or `calls.drain_timeout_secs` passes. Then HTTP stops, the
//! webhook outbox's worker stops (what it has not delivered stays pending in the store and is
//! sent after the next start), the store is flushed, and [`crate::run`] returns: exit 0.
//! A second signal during the drain exits at once, with status 1, without waiting for calls;
//! acknowledged writes are durable anyway (every one was flushed before its answer).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::web;
use engine::actors::sip::{Drain, GetSipStats};
use tokio::signal::unix::{signal, SignalKind};

use crate::State;

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn signalled() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Refuses new calls and waits (at most `timeout`) until no call is live. Returns the calls
/// still live when it gave up (0 after a clean drain).
pub async fn drain_calls(state: &web::Data<State>, timeout: Duration) -> usize {
    state.draining.store(true, Ordering::Relaxed);
    let retry_after = timeout.max(Duration::from_secs(1));
    let mut live = state
        .engine
        .sip
        .send(Drain { retry_after })
        .await
        .unwrap_or(0);
    tracing::info!(
        live_calls = live,
        timeout_secs = timeout.as_secs(),
        "draining"
    );
    let deadline = Instant::now() + timeout;
    while live > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        live = match state.engine.sip.send(GetSipStats).await {
            Ok(s) => s.live_calls,
            Err(_) => 0,
        };
    }
    if live > 0 {
        tracing::warn!(live_calls = live, "drain timeout: stopping with calls up");
    } else {
        tracing::info!("drained: no live calls");
    }
    live
}

/// Once the first signal came: a second one ends the process at once.
pub fn exit_on_second_signal() {
    actix_web::rt::spawn(async {
        signalled().await;
        tracing::warn!("second signal: exiting now, without waiting for calls");
        std::process::exit(1);
    });
}
