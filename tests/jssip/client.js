// A headless JsSIP user agent for tests/e2e_transport_ws_tls.rs: Node 20 with the `ws`
// package as its WebSocket (browsers have one built in). It registers, reports what happens
// as JSON lines on stdout, and in mode "busy" turns an incoming call down with 486 (JsSIP
// needs WebRTC, which Node lacks, to answer one). Exits by itself within RM_SECONDS.
//
// Environment: RM_WS_URL (ws:// or wss://), RM_URI (sip:user@domain), RM_PASSWORD,
// RM_MODE ("register" or "busy"), RM_SECONDS. For wss, NODE_EXTRA_CA_CERTS names the
// server's certificate, so it is verified as a browser would.
'use strict';
global.WebSocket = require('ws');
// JsSIP takes an incoming INVITE only where `window.RTCPeerConnection` exists (else it answers
// 488 itself). Node has none: this one only passes that presence check and throws if JsSIP
// ever tried to use it — it does not, since the call is declined and never answered.
global.window = { RTCPeerConnection: function () { throw new Error('no WebRTC in Node'); } };
const JsSIP = require('jssip');

const say = (event, extra) => process.stdout.write(JSON.stringify({ event, ...extra }) + '\n');
const seconds = Number(process.env.RM_SECONDS || '10');
setTimeout(() => { say('timeout'); process.exit(2); }, seconds * 1000);

const socket = new JsSIP.WebSocketInterface(process.env.RM_WS_URL);
const ua = new JsSIP.UA({
  sockets: [socket],
  uri: process.env.RM_URI,
  password: process.env.RM_PASSWORD,
  register: true,
  register_expires: 300,
  session_timers: false,
});
ua.on('connected', () => say('connected'));
ua.on('disconnected', () => say('disconnected'));
ua.on('registered', (e) => say('registered', { status: e.response.status_code }));
ua.on('registrationFailed', (e) => {
  say('registrationFailed', { cause: e.cause, status: e.response ? e.response.status_code : null });
  ua.stop();
  setTimeout(() => process.exit(1), 200);
});
ua.on('newRTCSession', (e) => {
  if (e.originator !== 'remote') return;
  say('incoming', { from: e.request.from.uri.toString(), ruri: e.request.ruri.toString(),
                   via: e.request.getHeader('Via') });
  e.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  say('declined');
  setTimeout(() => { ua.stop(); setTimeout(() => process.exit(0), 300); }, 200);
});
if (process.env.RM_MODE === 'register') {
  ua.on('registered', () => { ua.stop(); setTimeout(() => process.exit(0), 300); });
}
ua.start();
