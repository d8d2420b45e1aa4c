//! The shell of a `stream`: the WebSocket to the agent, on the call's media runtime. It
//! resolves the agent's host and keeps only the addresses `[policy]` allows, connects within
//! [`CONNECT_TIMEOUT`] (TLS for `wss://`, the public roots), signs the upgrade request like a
//! webhook (`X-Ringmaster-Signature` over `<t>.<path?query>`), then moves frames both ways
//! until the call's tap closes (`stop` is sent), the agent closes or says `stop`, or the
//! socket breaks. Its end goes back once, on the `done` channel. Message shapes and audio
//! conversion are `media::stream`'s (pure).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::media::control::Leg;
use crate::media::stream::convert::{self, Decoder, Encoder};
use crate::media::stream::wire::{self, AgentMessage, AudioKind, Outgoing};
use crate::media::stream::{Playout, StreamEnd, StreamSpec, Tap, CONNECT_TIMEOUT, MAX_MESSAGE};

/// How often reached marks are looked for.
const MARK_POLL: Duration = Duration::from_millis(20);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs one stream to its end.
pub(super) async fn run(
    spec: StreamSpec,
    stream_sid: String,
    tap: mpsc::Receiver<Tap>,
    playout: Arc<Mutex<Playout>>,
    done: oneshot::Sender<StreamEnd>,
) {
    crate::metrics::metrics().streams_started.inc();
    let end = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&spec)).await {
        Err(_) => StreamEnd::Failed("the agent did not answer within 5 s".into()),
        Ok(Err(why)) => StreamEnd::Failed(why),
        Ok(Ok(ws)) => serve(spec, stream_sid, ws, tap, playout).await,
    };
    if matches!(end, StreamEnd::Failed(_)) {
        crate::metrics::metrics().streams_failed.inc();
    }
    let _ = done.send(end);
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

async fn connect(spec: &StreamSpec) -> Result<Ws, String> {
    let url = reqwest::Url::parse(&spec.url).map_err(|_| "ws_url is not a URL".to_string())?;
    let tls = match url.scheme() {
        "ws" => false,
        "wss" => true,
        _ => return Err("ws_url is not ws:// or wss://".into()),
    };
    let host = url.host_str().ok_or("ws_url has no host")?.to_string();
    let port = url.port().unwrap_or(if tls { 443 } else { 80 });
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.as_str(), port))
        .await
        .map_err(|_| format!("cannot resolve {host}"))?
        .collect();
    let allowed: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| spec.policy.as_ref().is_none_or(|p| p.check(a.ip()).is_ok()))
        .collect();
    if allowed.is_empty() {
        return Err(format!("{host} is refused by [policy]"));
    }
    let mut last = String::new();
    let mut tcp = None;
    for addr in allowed {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(bare.clone())
            .map_err(|_| format!("{host} is not a TLS server name"))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host} failed: {e}"))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let mut request = spec
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad ws_url: {e}"))?;
    let signed = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let sig = crate::webhook::signature(&spec.secret, unix_now(), signed.as_bytes());
    let headers = request.headers_mut();
    if let Ok(v) = sig.parse() {
        headers.insert(crate::webhook::sign::SIGNATURE_HEADER, v);
    }
    if let Some(Ok(v)) = spec
        .start
        .get("callSid")
        .and_then(|c| c.as_str())
        .map(str::parse)
    {
        headers.insert("X-Ringmaster-Call-Id", v);
    }
    // The socket takes up to 16× the message limit, so an oversize message is dropped and
    // counted (below) rather than tearing the stream down; past that it is a broken peer.
    let config = WebSocketConfig::default()
        .max_message_size(Some(16 * MAX_MESSAGE))
        .max_frame_size(Some(16 * MAX_MESSAGE));
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, io, Some(config))
        .await
        .map_err(|e| format!("the WebSocket handshake failed: {e}"))?;
    Ok(ws)
}

fn track(leg: Leg) -> &'static str {
    match leg {
        Leg::A => "inbound",
        Leg::B => "outbound",
    }
}

async fn serve(
    spec: StreamSpec,
    stream_sid: String,
    ws: Ws,
    mut tap: mpsc::Receiver<Tap>,
    playout: Arc<Mutex<Playout>>,
) -> StreamEnd {
    let (mut sink, mut source) = ws.split();
    let account = spec
        .start
        .get("appid")
        .map(|a| a.to_string().trim_matches('"').to_string())
        .unwrap_or_default();
    let call = spec
        .start
        .get("callSid")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    let mut out = Outgoing::new(stream_sid, call, account);
    let tracks: Vec<&str> = [Leg::A, Leg::B]
        .into_iter()
        .filter(|l| spec.tracks[l.index()])
        .map(track)
        .collect();
    let start = out.start(&spec.start, &tracks, spec.encoding(), spec.rate);
    for m in [Outgoing::connected(), start] {
        if sink.send(Message::text(m)).await.is_err() {
            return StreamEnd::Failed("the agent closed before the start".into());
        }
    }
    let encoder = |rate| Encoder::new(rate).map_err(|e| e.to_string());
    let (mut enc_a, mut enc_b) = match (encoder(spec.rate), encoder(spec.rate)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return StreamEnd::Failed("unsupported voice_quality".into()),
    };
    let mut decoder = Decoder::new(spec.rate);
    let began = Instant::now();
    let mut chunks = [0u64; 2];
    let mut bytes = Vec::with_capacity(1280);
    let mut pcm = Vec::with_capacity(1600);
    let mut marks = tokio::time::interval(MARK_POLL);
    marks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            item = tap.recv() => {
                let text = match item {
                    None => {
                        let _ = sink.send(Message::text(out.stop("ended by the call"))).await;
                        let _ = sink.close().await;
                        return StreamEnd::Ended;
                    }
                    Some(Tap::Audio { leg, samples }) => {
                        let enc = if leg == Leg::A { &mut enc_a } else { &mut enc_b };
                        enc.frame(&samples, &mut bytes);
                        if bytes.is_empty() {
                            continue; // the resampler's first chunk
                        }
                        chunks[leg.index()] += 1;
                        let ms = began.elapsed().as_millis() as u64;
                        out.media(track(leg), chunks[leg.index()], ms, &bytes)
                    }
                    Some(Tap::Digit { leg, digit }) => out.dtmf(track(leg), digit),
                };
                if sink.send(Message::text(text)).await.is_err() {
                    return StreamEnd::Closed;
                }
            }
            msg = source.next() => {
                let msg = match msg {
                    None | Some(Err(_)) => return StreamEnd::Closed,
                    Some(Ok(m)) => m,
                };
                if msg.len() > MAX_MESSAGE {
                    crate::metrics::metrics().stream_messages_dropped.inc();
                    continue;
                }
                let text = match msg {
                    Message::Close(_) => return StreamEnd::Closed,
                    Message::Text(t) => t.to_string(),
                    // Raw bytes in the stream's format (what some agents send).
                    Message::Binary(b) => {
                        pcm.clear();
                        if decoder.media(&b, &mut pcm).is_err() {
                            crate::metrics::metrics().stream_messages_dropped.inc();
                        } else {
                            queue(&playout, &pcm);
                        }
                        continue;
                    }
                    _ => continue,
                };
                let parsed = match wire::parse(&text) {
                    Ok(p) => p,
                    Err(e) => {
                        crate::metrics::metrics().stream_messages_dropped.inc();
                        tracing::debug!(error = %e, "stream message dropped");
                        continue;
                    }
                };
                for m in parsed {
                    if apply(m, &mut decoder, &playout, &mut pcm) {
                        let _ = sink.send(Message::text(out.stop("stopped by the agent"))).await;
                        let _ = sink.close().await;
                        return StreamEnd::Stopped;
                    }
                }
            }
            _ = marks.tick() => {
                let reached = playout.lock().unwrap_or_else(|p| p.into_inner()).reached();
                for name in reached {
                    if sink.send(Message::text(out.mark(&name))).await.is_err() {
                        return StreamEnd::Closed;
                    }
                }
            }
        }
    }
}

fn queue(playout: &Mutex<Playout>, pcm: &[i16]) {
    if pcm.is_empty() {
        return;
    }
    let full = playout
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(pcm)
        .is_err();
    if full {
        crate::metrics::metrics().stream_audio_refused.inc();
    }
}

/// Carries out one message; `true` for `stop`.
fn apply(
    m: AgentMessage,
    decoder: &mut Decoder,
    playout: &Mutex<Playout>,
    pcm: &mut Vec<i16>,
) -> bool {
    pcm.clear();
    let converted = match m {
        AgentMessage::Media(bytes) => decoder.media(&bytes, pcm),
        AgentMessage::Audio {
            kind: AudioKind::Raw,
            rate,
            bytes,
        } => decoder.raw(rate, &bytes, pcm),
        AgentMessage::Audio { bytes, .. } => convert::file(&bytes).map(|s| *pcm = s),
        other => {
            let mut p = playout.lock().unwrap_or_else(|p| p.into_inner());
            match other {
                AgentMessage::Mark(name) => p.mark(name),
                AgentMessage::Clear => p.clear(),
                AgentMessage::Pause => p.set_paused(true),
                AgentMessage::Resume => p.set_paused(false),
                AgentMessage::Stop => return true,
                _ => {}
            }
            return false;
        }
    };
    match converted {
        Ok(()) => queue(playout, pcm),
        Err(e) => {
            crate::metrics::metrics().stream_messages_dropped.inc();
            tracing::debug!(error = %e, "stream audio dropped");
        }
    }
    false
}
