//! `benchkit`: the load tools the benchmark scripts (`scripts/bench/`) drive.
//!
//! * `provision`: adds N SIP endpoints to a ringmaster app through the PIOPIY REST API, with
//!   many requests in flight (each add is a durable write, so one at a time would take minutes).
//! * `answer`: an answer-URL server that returns one fixed PCMO script, fast (one worker),
//!   so the calls benchmark measures ringmaster rather than the app.
//! * `rtpgen`: a G.711-shaped RTP generator and meter: paced 50 packets/s per direction per
//!   call, send time stamped in the payload, loss and one-way delay percentiles per step.
//!   It relays through ringmaster (ports read from SIPp logs of real calls) or through
//!   rtpengine (sessions created with its ng protocol, see `ng.rs`).
//!
//! * `webrtcgen`: the same measurement with browser-style legs: per call a str0m peer doing
//!   ICE, DTLS and SRTP toward the relay, bridged to a plain RTP leg; through rtpengine (ng)
//!   or through ringmaster (real calls over SIP with WebRTC offers).
//!
//! * `live`: REST-driven calls as a Bandwidth v1 app makes them (create two, bridge, hang
//!   up), cycles per second and their latency, with the callbacks on its own listener.
//!
//! * `streamgen`: voice-agent load: calls streamed (PCMO `stream`) to a WebSocket agent it
//!   runs itself, which echoes the audio back; loss, RTP→WS delay and round trip per step.
//!
//! Timing figures printed here are measurements; nothing here is a pass/fail test.

mod answer;
mod browser_sdp;
mod live;
mod ng;
mod provision;
mod rtpgen;
mod sip_uac;
mod streamgen;
mod webrtc_peer;
mod webrtc_worker;
mod webrtcgen;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        anyhow::bail!("usage: benchkit provision|answer|rtpgen|webrtcgen|live|streamgen [options]");
    }
    let cmd = args.remove(0);
    let opts = Opts::parse(&args)?;
    match cmd.as_str() {
        "provision" => provision::run(&opts),
        "answer" => answer::run(&opts),
        "rtpgen" => rtpgen::run(&opts),
        "webrtcgen" => webrtcgen::run(&opts),
        "live" => live::run(&opts),
        "streamgen" => streamgen::run(&opts),
        other => anyhow::bail!("unknown command {other:?}"),
    }
}

/// `--name value` options, all required to have a value.
pub struct Opts(Vec<(String, String)>);

impl Opts {
    fn parse(args: &[String]) -> anyhow::Result<Opts> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| anyhow::anyhow!("expected --option, got {flag:?}"))?;
            let value = it
                .next()
                .ok_or_else(|| anyhow::anyhow!("--{name} needs a value"))?;
            out.push((name.to_string(), value.clone()));
        }
        Ok(Opts(out))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn req(&self, name: &str) -> anyhow::Result<&str> {
        self.get(name)
            .ok_or_else(|| anyhow::anyhow!("--{name} is required"))
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> anyhow::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| anyhow::anyhow!("--{name} {v:?}: {e}")),
        }
    }
}
