// JsSIP (its npm package's dist/jssip.min.js, unchanged) behind the harness's operations.
// config: { wss, uri, password }.
'use strict';
(() => {
  let ua = null;
  let session = null;
  const media = (video) => ({
    mediaConstraints: { audio: true, video: !!video },
    pcConfig: { iceServers: [] },
  });
  function follow(s) {
    session = s;
    s.on('progress', (e) => rm.emit('progress', { status: e.response ? e.response.status_code : null }));
    s.on('accepted', () => rm.emit('accepted'));
    s.on('confirmed', () => rm.emit('confirmed'));
    s.on('ended', (e) => rm.emit('ended', { cause: e.cause, originator: e.originator }));
    s.on('failed', (e) => rm.emit('failed', {
      cause: e.cause,
      originator: e.originator,
      status: e.message && e.message.status_code ? e.message.status_code : null,
    }));
    s.on('newDTMF', (e) => rm.emit('dtmf', { originator: e.originator, tone: e.dtmf.tone }));
  }
  rm.start = (config) => {
    const socket = new JsSIP.WebSocketInterface(config.wss);
    ua = new JsSIP.UA({
      sockets: [socket],
      uri: config.uri,
      password: config.password,
      register: true,
      register_expires: 300,
      session_timers: false,
    });
    ua.on('connected', () => rm.emit('connected'));
    ua.on('disconnected', (e) => rm.emit('disconnected', { code: e.code || null, reason: e.reason || null }));
    ua.on('registered', (e) => rm.emit('registered', { status: e.response.status_code }));
    ua.on('registrationFailed', (e) => rm.emit('registrationFailed', {
      cause: e.cause,
      status: e.response ? e.response.status_code : null,
    }));
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      rm.emit('incoming', {
        from: e.request.from.uri.toString(),
        headers: Object.fromEntries(['X-cmi-uuid', 'X-Call-ID', 'X-To-Number']
          .map((h) => [h, e.request.getHeader(h) || null])),
      });
      follow(e.session);
    });
    ua.start();
  };
  rm.call = (target, video) => { follow(ua.call(target, media(video))); };
  rm.answer = (video) => { session.answer(media(video)); };
  rm.reject = (status) => { session.terminate({ status_code: status || 486 }); };
  rm.dtmf = (tones) => {
    // RFC 4733 events in the RTP stream, as `play_get_input` reads them.
    session.sendDTMF(tones, { transportType: 'RFC2833', duration: 160, interToneGap: 120 });
    rm.emit('dtmfSent', { tones });
  };
  rm.hangup = () => { if (session && !session.isEnded()) session.terminate(); };
  rm.ready = true;
})();
