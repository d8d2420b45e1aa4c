// SIP.js (its npm package's ES modules under lib/, unchanged) behind the harness's operations.
// config: { wss, uri, user, password }.
import { Inviter, Registerer, SessionState, UserAgent } from '/sdk/sip.js/index.js';

let ua = null;
let session = null;
const sdh = (video) => ({ constraints: { audio: true, video: !!video } });
function follow(s) {
  session = s;
  s.stateChange.addListener((state) => {
    if (state === SessionState.Established) rm.emit('confirmed');
    if (state === SessionState.Terminated) rm.emit('ended');
  });
}
rm.start = async (config) => {
  ua = new UserAgent({
    uri: UserAgent.makeURI(config.uri),
    transportOptions: { server: config.wss },
    authorizationUsername: config.user,
    authorizationPassword: config.password,
    sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },
    logLevel: 'warn',
    delegate: {
      onDisconnect(error) {
        rm.emit('disconnected', { reason: error ? String(error) : null });
      },
      onInvite(invitation) {
        rm.emit('incoming', { from: invitation.remoteIdentity.uri.toString() });
        follow(invitation);
      },
    },
  });
  await ua.start();
  rm.emit('connected');
  const registerer = new Registerer(ua, { expires: 300 });
  await registerer.register({
    requestDelegate: {
      onAccept: (r) => rm.emit('registered', { status: r.message.statusCode }),
      onReject: (r) => rm.emit('registrationFailed', { status: r.message.statusCode }),
    },
  });
};
rm.call = async (target, video) => {
  const inviter = new Inviter(ua, UserAgent.makeURI(target), {
    sessionDescriptionHandlerOptions: sdh(video),
  });
  follow(inviter);
  await inviter.invite({
    requestDelegate: {
      onProgress: (r) => rm.emit('progress', { status: r.message.statusCode }),
      onReject: (r) => rm.emit('failed', { status: r.message.statusCode }),
    },
  });
};
rm.answer = async (video) => {
  await session.accept({ sessionDescriptionHandlerOptions: sdh(video) });
};
rm.reject = async () => { await session.reject(); };
rm.dtmf = (tones) => {
  // RTCDTMFSender: RFC 4733 events in the RTP stream.
  session.sessionDescriptionHandler.sendDtmf(tones, { duration: 160, interToneGap: 120 });
  rm.emit('dtmfSent', { tones });
};
rm.hangup = async () => {
  if (session.state === SessionState.Established) await session.bye();
  else if (session instanceof Inviter) await session.cancel();
  else await session.reject();
};
rm.ready = true;
