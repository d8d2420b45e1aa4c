// What every test page shares, loaded before the SDK: it watches the peer connections the SDK
// makes (without changing them) so the test can measure what the browser hears and sees, and
// gives the SDK adapter `rm.emit` (events to the runner) and `rm.localMedia`.
'use strict';
window.rm = { ready: false };
rm.emit = (event, data) => window.rmEmit(event, data || {});
rm.peers = [];
rm.remoteTracks = [];
{
  const Native = window.RTCPeerConnection;
  // A subclass that records the peer and the tracks it receives, then behaves as the native one.
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      rm.peers.push(this);
      this.addEventListener('track', (e) => {
        rm.remoteTracks.push(e.track);
        rm.emit('remoteTrack', { kind: e.track.kind });
      });
      this.addEventListener('iceconnectionstatechange', () =>
        rm.emit('iceState', { state: this.iceConnectionState }));
    }
    // The SDP exchanged, for a failing test's report.
    setRemoteDescription(d) {
      if (d && d.sdp) rm.emit('sdp', { side: 'remote', type: d.type, sdp: d.sdp });
      return super.setRemoteDescription(d);
    }
    setLocalDescription(d) {
      return super.setLocalDescription(d).then((r) => {
        const l = this.localDescription;
        if (l) rm.emit('sdp', { side: 'local', type: l.type, sdp: l.sdp });
        return r;
      });
    }
  }
  window.RTCPeerConnection = Watched;
}

// Chrome feeds a remote WebRTC track into WebAudio only while a media element plays it.
rm.sinks = [];
function play(track) {
  const el = document.createElement('audio');
  el.muted = true;
  el.srcObject = new MediaStream([track]);
  document.body.appendChild(el);
  el.play().catch(() => {});
  rm.sinks.push(el);
}

// The loudest frequency of the last live remote audio track, over `ms` of audio: an
// AnalyserNode's FFT (8192 points), power-averaged over the window; `binHz` is its resolution.
rm.measure = async (ms) => {
  const track = rm.remoteTracks.filter((t) => t.kind === 'audio' && t.readyState === 'live').pop();
  if (!track) return { error: 'no remote audio track' };
  play(track);
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const power = new Float64Array(analyser.frequencyBinCount);
  const end = performance.now() + (ms || 1000);
  let frames = 0;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    analyser.getFloatFrequencyData(bins);
    for (let i = 0; i < bins.length; i++) power[i] += Math.pow(10, bins[i] / 10);
    frames++;
  }
  let peak = 1;
  for (let i = 2; i < power.length; i++) if (power[i] > power[peak]) peak = i;
  const binHz = ctx.sampleRate / analyser.fftSize;
  const db = 10 * Math.log10(power[peak] / frames);
  source.disconnect();
  await ctx.close();
  return { hz: peak * binHz, binHz, db, frames };
};

// What the peer connections report about received video (frames decoded, size).
rm.videoStats = async () => {
  const out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0 };
  const sum = ['packetsReceived', 'packetsLost', 'framesReceived', 'keyFramesDecoded', 'framesDropped',
    'pliCount', 'firCount', 'nackCount', 'freezeCount'];
  for (const pc of rm.peers) {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
        out.frameHeight = Math.max(out.frameHeight, s.frameHeight || 0);
        for (const k of sum) out[k] = (out[k] || 0) + (s[k] || 0);
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.framesSent = (out.framesSent || 0) + (s.framesSent || 0);
        out.keyFramesSent = (out.keyFramesSent || 0) + (s.keyFramesEncoded || 0);
        out.pliReceived = (out.pliReceived || 0) + (s.pliCount || 0);
        out.qualityLimitation = s.qualityLimitationReason;
        out.sendFps = s.framesPerSecond;
      }
      if (s.type === 'candidate-pair' && s.nominated) out.outgoingBitrate = s.availableOutgoingBitrate;
    });
  }
  return out;
};

// RTP counters of every peer connection (inbound and outbound, with the codec), for a failing
// test's report.
rm.rtpStats = async () => {
  const out = [];
  for (const pc of rm.peers) {
    const stats = await pc.getStats();
    const codecs = {};
    stats.forEach((s) => { if (s.type === 'codec') codecs[s.id] = s.mimeType; });
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
        out.push({ type: s.type, kind: s.kind, ssrc: s.ssrc, packets: s.packetsReceived ?? s.packetsSent,
          bytes: s.bytesReceived ?? s.bytesSent, codec: codecs[s.codecId] || null });
      }
    });
  }
  return out;
};

// Harness check, no server involved: two peer connections in this page, the fake microphone
// sent from one to the other; the receiving side's measure must find this browser's own tone.
rm.selfTest = async () => {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  mic.getTracks().forEach((t) => a.addTrack(t, mic));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  await new Promise((r) => setTimeout(r, 1000));
  const m = await rm.measure(1000);
  a.close();
  b.close();
  return m;
};
