// The headless-browser half of tests/e2e_browser_*.rs (driven by tests/support/browser.rs).
//
// It starts Debian's chromium (one process per fake-microphone WAV, so each browser "user"
// sends its own tone), attaches to it with playwright-core over the DevTools protocol, serves
// the test pages and the SDK files exactly as their npm packages ship them from a static HTTP
// server on 127.0.0.1 (random port), and runs one page per SIP user agent.
//
// Commands arrive as JSON lines on stdin:
//   {"cmd":"open","id":"alice","sdk":"jssip|sipjs|piopiy","wav":"/x/440.wav","config":{...}}
//   {"cmd":"do","id":"alice","op":"call","args":["sip:5000@test.local"]}
//   {"cmd":"quit"}
// Events leave as JSON lines on stdout: {"id":"alice","event":"registered","status":200}.
// A page's own events are the SDK adapter's (tests/browser/pages/*.js); the runner adds
// "browser" (a chromium PID, so the Rust side can stop it even if this process dies), "opened",
// "result" (an op's return value), "opError", "pageError" and "quit".
//
// JsSIP is pinned at 3.12.0, its last npm release with a browser build (dist/jssip.min.js);
// later ones ship CommonJS sources only.
//
// Everything is on loopback: chromium resolves no name but 127.0.0.1 (host-resolver-rules),
// ICE may use loopback, and this process exits by itself after RM_SECONDS.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const modules = process.env.RM_MODULES;
const chromiumPath = process.env.RM_CHROMIUM || '/usr/bin/chromium';
const lifetime = Number(process.env.RM_SECONDS || '120');
const pagesDir = path.join(__dirname, 'pages');

const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

// The files a page may load: the harness's pages, and each SDK's browser build unchanged.
const sdkFiles = {
  '/sdk/jssip.min.js': 'jssip/dist/jssip.min.js',
  '/sdk/piopiy.min.js': 'piopiyjs/dist/piopiy.min.js',
};
function resolveUrl(url) {
  const p = decodeURIComponent(new URL(url, 'http://x').pathname);
  if (sdkFiles[p]) return path.join(modules, sdkFiles[p]);
  // SIP.js ships ES modules only: its lib/ tree is served as is, imports and all.
  const roots = [['/sdk/sip.js/', path.join(modules, 'sip.js/lib')], ['/pages/', pagesDir]];
  for (const [prefix, root] of roots) {
    if (p.startsWith(prefix)) {
      const file = path.normalize(path.join(root, p.slice(prefix.length)));
      if (file.startsWith(root + path.sep)) return file;
    }
  }
  return null;
}
const types = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };
const server = http.createServer((req, res) => {
  const file = resolveUrl(req.url);
  fs.readFile(file || '/nonexistent', (err, body) => {
    if (err) {
      if (req.url !== '/favicon.ico') log('static: 404', req.url);
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
    res.end(body);
  });
});

const browsers = new Map(); // wav path -> Promise<{ proc, browser, dir }>
const pages = new Map(); // id -> playwright Page

function launch(wav) {
  // Profiles live in the test's directory (RM_WORK), which the test removes.
  const dir = fs.mkdtempSync(path.join(process.env.RM_WORK || os.tmpdir(), 'chromium-'));
  const args = [
    '--no-sandbox',
    '--headless=new',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${wav}`,
    '--allow-loopback-in-peer-connection',
    '--ignore-certificate-errors',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    // Real host candidates (not mDNS names), media without a user gesture.
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--autoplay-policy=no-user-gesture-required',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-gpu',
    // Containers often have a small /dev/shm.
    '--disable-dev-shm-usage',
    '--mute-audio',
    `--user-data-dir=${dir}`,
    '--remote-debugging-address=127.0.0.1',
    '--remote-debugging-port=0',
    'about:blank',
  ];
  const proc = spawn(chromiumPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  say({ event: 'browser', pid: proc.pid, wav });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error('chromium did not start: ' + err)), 20000);
    proc.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err}`)));
    proc.stderr.on('data', (d) => {
      const text = d.toString();
      err += text;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m && timer) {
        clearTimeout(timer);
        chromium.connectOverCDP(m[1]).then((browser) => resolve({ proc, browser, dir }), reject);
        err = '';
      }
    });
  });
}

async function open(cmd) {
  if (!browsers.has(cmd.wav)) browsers.set(cmd.wav, launch(cmd.wav));
  const { browser } = await browsers.get(cmd.wav);
  // A context per user agent: piopiyjs keeps module-wide state and localStorage.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  pages.set(cmd.id, page);
  await page.exposeFunction('rmEmit', (event, data) => say({ id: cmd.id, event, ...(data || {}) }));
  page.on('pageerror', (e) => say({ id: cmd.id, event: 'pageError', message: String(e) }));
  page.on('console', (m) => log(`[${cmd.id}] ${m.type()}: ${m.text()}`));
  const { port } = server.address();
  await page.goto(`http://127.0.0.1:${port}/pages/${cmd.sdk}.html`);
  await page.waitForFunction(() => window.rm && window.rm.ready, null, { timeout: 10000 });
  await page.evaluate((config) => window.rm.start(config), cmd.config || {});
  say({ id: cmd.id, event: 'opened', sdk: cmd.sdk });
}

async function run(cmd) {
  const page = pages.get(cmd.id);
  if (!page) throw new Error(`no page ${cmd.id}`);
  const result = await page.evaluate(({ op, args }) => window.rm[op](...args), {
    op: cmd.op,
    args: cmd.args || [],
  });
  say({ id: cmd.id, event: 'result', op: cmd.op, result: result === undefined ? null : result });
}

let quitting = false;
async function quit(code) {
  if (quitting) return;
  quitting = true;
  for (const b of browsers.values()) {
    try {
      const { proc, browser } = await Promise.race([
        b,
        new Promise((_, rej) => setTimeout(() => rej(new Error('late')), 2000)),
      ]);
      const exited = new Promise((r) => proc.on('exit', r));
      await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      proc.kill('SIGKILL');
    } catch (e) {
      log('quit:', e);
    }
  }
  say({ event: 'quit' });
  server.close();
  process.exit(code);
}

async function handle(line) {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    say({ event: 'badCommand', line });
    return;
  }
  try {
    if (cmd.cmd === 'open') await open(cmd);
    else if (cmd.cmd === 'do') await run(cmd);
    else if (cmd.cmd === 'quit') await quit(0);
    else say({ event: 'badCommand', line });
  } catch (e) {
    say({ id: cmd.id, event: 'opError', cmd: cmd.cmd, op: cmd.op, message: String(e) });
  }
}

server.listen(0, '127.0.0.1', () => {
  say({ event: 'serving', port: server.address().port });
  const rl = readline.createInterface({ input: process.stdin });
  // Commands run concurrently (a wait in one page must not hold up another's command).
  rl.on('line', (line) => { handle(line); });
  rl.on('close', () => quit(0));
});
setTimeout(() => { say({ event: 'lifetimeOver' }); quit(2); }, lifetime * 1000).unref();
process.on('SIGTERM', () => quit(0));
