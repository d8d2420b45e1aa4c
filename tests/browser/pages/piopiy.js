// piopiyjs (its npm package's dist/piopiy.min.js, the PIOPIY global, unchanged) behind the
// harness's operations. Its events reach the test under their own names, data and all.
// config: { user, password, domain } as given to `login(user, password, domain)`.
'use strict';
(() => {
  const piopiy = new PIOPIY({ name: 'ringmaster test', debug: false, autoplay: true, autoReboot: false, ringTime: 60 });
  const events = ['login', 'loginFailed', 'logout', 'connected', 'disconnected', 'error', 'trying',
    'ringing', 'answered', 'ended', 'hangup', 'inComingCall', 'callStream', 'mediaFailed', 'dtmf',
    'hold', 'unhold'];
  for (const name of events) {
    piopiy.on(name, (o) => {
      // callStream carries a MediaStream, which does not cross to the runner as JSON.
      const data = name === 'callStream' ? { code: o && o.code } : JSON.parse(JSON.stringify(o || {}));
      rm.emit(name, data);
    });
  }
  rm.start = (config) => piopiy.login(config.user, config.password, config.domain);
  rm.call = (to) => piopiy.call(to);
  rm.answer = () => piopiy.answer();
  rm.reject = () => piopiy.reject();
  rm.dtmf = (tones) => { for (const t of tones) piopiy.sendDtmf(t); rm.emit('dtmfSent', { tones }); };
  rm.hangup = () => piopiy.terminate();
  rm.ready = true;
})();
