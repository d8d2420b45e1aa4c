#!/usr/bin/env python3
"""A "thin device" of the Cloud SIP UA API, for ringmaster's end-to-end tests.

It is what an intercom or alarm panel would be: it speaks the REST API with its own JWTs
(PyJWT), serves the HTTP callbacks, and sends and receives its own G.711 RTP (SRTP through
pylibsrtp, i.e. libsrtp, not ringmaster's code). Nothing here is shared with ringmaster: the
G.711 laws, the RTP framing and the tone detector are written out below on purpose, so a
bug in the engine's copies cannot hide itself.

A Rust test drives it over stdin/stdout, one JSON object per line:
  - first line printed: {"ready": {"callback_base": "http://127.0.0.1:PORT/cb"}};
  - each command {"cmd": NAME, ...} gets exactly one line, {"ok": ...} or {"error": "..."};
  - each callback received is printed when it arrives: {"callback", "path", "body",
    "signature"} (interleaved with the answers, which the driver tells apart by their key).
It exits when stdin closes. Everything it touches is on 127.0.0.0/8: it refuses anything else.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pylibsrtp import Policy, Session

RATE = 8000
FRAME = 160  # samples in 20 ms
OUT = threading.Lock()


def emit(obj):
    # Callbacks are printed from the HTTP threads: one lock keeps lines whole.
    with OUT:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def loopback(host):
    """Tests never send a packet off the machine: refuse any address outside 127/8."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"{host} is not a loopback address")
    return host


# --- G.711 (ITU-T G.711), written out from the standard's segment tables ------------------


def ulaw_encode(s):
    # On 14 bits, as the standard's reference code does (so rounding matches it exactly).
    pcm = s >> 2
    mask = 0x7F if pcm < 0 else 0xFF
    pcm = min(abs(pcm), 8159) + 0x21  # clip, then the bias that makes segments line up
    seg = max(0, pcm.bit_length() - 6)
    if seg > 7:  # the clipped maximum
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0F)) ^ mask


def ulaw_decode(u):
    u = ~u & 0xFF
    s = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)
    return 0x84 - s if u & 0x80 else s - 0x84


def alaw_encode(s):
    mask = 0xD5 if s >= 0 else 0x55  # A-law inverts the even bits on the wire
    s = min(s if s >= 0 else -s - 1, 32767)
    seg = 0 if s < 256 else min(7, s.bit_length() - 8)
    shift = 4 if seg < 2 else seg + 3
    return ((seg << 4) | ((s >> shift) & 0x0F)) ^ mask


def alaw_decode(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1) if seg > 1 else t + 0x108
    return t if a & 0x80 else -t


LAWS = {  # payload type -> (name, encode, decode table)
    0: ("PCMU", ulaw_encode, [ulaw_decode(i) for i in range(256)]),
    8: ("PCMA", alaw_encode, [alaw_decode(i) for i in range(256)]),
}
PT = {"PCMU": 0, "PCMA": 8}


def goertzel_level(block, hz):
    """Amplitude of the `hz` component of `block`: a pure sine of peak A reads about A."""
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2.0 * math.sqrt(max(power, 0.0)) / len(block)


def is_tone(block, hz):
    """A 20 ms block that is clearly the tone: loud (RMS > 1000) and pure (the target
    frequency carries > 80 % of what a pure sine of that RMS would), as the Rust side's
    tests/support/audio.rs `tone_frames` counts them, so both sides of a call are judged alike."""
    rms = math.sqrt(sum(x * x for x in block) / len(block))
    return rms > 1000.0 and goertzel_level(block, hz) / (rms * math.sqrt(2)) > 0.8


# --- SRTP (SDES keys, RFC 4568) through libsrtp ---------------------------------------------

SUITES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


def srtp_session(suite, config, inbound):
    """A libsrtp session from an SDES `inline:<base64 key||salt>` (lifetime/MKI ignored)."""
    key = base64.b64decode(config.split(":", 1)[1].split("|")[0])
    if len(key) != 30:
        raise ValueError(f"an SDES key is 30 bytes, this one {len(key)}")
    ssrc = Policy.SSRC_ANY_INBOUND if inbound else Policy.SSRC_ANY_OUTBOUND
    return Session(Policy(key=key, ssrc_type=ssrc, srtp_profile=SUITES[suite]))


# --- RTP --------------------------------------------------------------------------------------


class RtpPort:
    """One UDP socket: receives into a list (kept whole, decoded lazily by `heard`, so a key
    learnt after the first packets still decrypts them in order) and sends a paced tone from
    the same socket (symmetric RTP: ringmaster latches on where our packets come from)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.raw, self.lock = [], threading.Lock()
        self.done = 0  # raw packets already decoded
        self.samples, self.audio, self.failures, self.sources = [], 0, 0, set()
        self.counted = {}  # hz -> [samples already judged, tone frames among them]
        self.rx = None  # libsrtp session for what we receive
        self.stop = threading.Event()
        self.sending = None  # (thread, its stop event)
        self.rx_thread = threading.Thread(target=self._receive, daemon=True)
        self.rx_thread.start()

    def set_srtp(self, srtp):
        if srtp and srtp.get("remote"):
            self.rx = srtp_session(srtp["suite"], srtp["remote"], inbound=True)

    def _receive(self):
        while not self.stop.is_set():
            try:
                data, src = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.raw.append((data, src))

    def send(self, to, codec, hz, srtp):
        self.stop_sending()
        tx = None
        if srtp and srtp.get("local"):
            tx = srtp_session(srtp["suite"], srtp["local"], inbound=False)
        halt = threading.Event()
        t = threading.Thread(target=self._send, args=(to, PT[codec], hz, tx, halt), daemon=True)
        self.sending = (t, halt)
        t.start()

    def _send(self, to, pt, hz, tx, halt):
        encode = LAWS[pt][1]
        # Random SSRC, sequence and timestamp starts, as RFC 3550 §5.1 asks of a sender.
        ssrc, seq, ts = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
        start, n = time.monotonic(), 0
        while not halt.is_set() and not self.stop.is_set():
            payload = bytes(
                encode(int(round(8000 * math.sin(2 * math.pi * hz * (n * FRAME + i) / RATE))))
                for i in range(FRAME)
            )
            marker = 0x80 if n == 0 else 0  # first packet of a talk spurt
            packet = struct.pack("!BBHII", 0x80, marker | pt, (seq + n) & 0xFFFF,
                                 (ts + n * FRAME) & 0xFFFFFFFF, ssrc) + payload
            if tx is not None:
                packet = tx.protect(packet)
            try:
                self.sock.sendto(packet, to)
            except OSError:
                return
            n += 1
            # Paced against the start, not the previous packet, so the clock does not drift.
            halt.wait(max(0.0, start + n * 0.02 - time.monotonic()))

    def stop_sending(self):
        if self.sending:
            t, halt = self.sending
            halt.set()
            t.join(2)
            self.sending = None

    def heard(self, hz):
        with self.lock:
            fresh, self.done = self.raw[self.done:], len(self.raw)
        for data, src in fresh:
            self.sources.add(f"{src[0]}:{src[1]}")
            if self.rx is not None:
                try:
                    data = self.rx.unprotect(data)
                except Exception:  # libsrtp's auth or replay failure: counted, not fatal
                    self.failures += 1
                    continue
            parsed = parse_rtp(data)
            if parsed and parsed[0] in LAWS:
                table = LAWS[parsed[0]][2]
                self.samples.extend(table[b] for b in parsed[1])
                self.audio += 1
        # Only the blocks not judged yet: a test polls this while the call goes on.
        done, frames = self.counted.get(hz, [0, 0])
        while done + FRAME <= len(self.samples):
            frames += is_tone(self.samples[done:done + FRAME], hz)
            done += FRAME
        self.counted[hz] = [done, frames]
        return {"frames": frames, "packets": len(self.raw),
                "audio_packets": self.audio, "srtp_failures": self.failures,
                "sources": sorted(self.sources)}

    def close(self):
        self.stop_sending()
        self.stop.set()
        self.rx_thread.join(2)
        self.sock.close()


def parse_rtp(b):
    """(payload type, payload) of an RTP packet (RFC 3550 §5.1), or None."""
    if len(b) < 12 or b[0] >> 6 != 2:
        return None
    start = 12 + 4 * (b[0] & 0x0F)
    if b[0] & 0x10 and len(b) >= start + 4:  # header extension: skip its words
        start += 4 + 4 * struct.unpack("!H", b[start + 2:start + 4])[0]
    end = len(b) - (b[-1] if b[0] & 0x20 else 0)  # padding
    return (b[1] & 0x7F, b[start:end]) if start <= end else None


# --- JWTs ---------------------------------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(spec):
    """A token per `spec`: alg HS256/RS256/ES256 (key: a secret file or a private PEM, signed
    by PyJWT), or the two attacks PyJWT rightly refuses to make, built by hand: `none`
    (unsigned) and `HS256-raw` (HMAC keyed with the bytes of a file, e.g. the RSA public key
    PEM the server holds: the key-confusion attack). Claims: exp_in (default 300 s, null for
    no exp), nbf_in, aud, domain, iss, sub, plus any `claims`."""
    now = int(time.time())
    claims = {"iat": now}
    if spec.get("exp_in", 300) is not None:
        claims["exp"] = now + spec.get("exp_in", 300)
    if spec.get("nbf_in") is not None:
        claims["nbf"] = now + spec["nbf_in"]
    for k in ("aud", "domain", "iss", "sub"):
        if k in spec:
            claims[k] = spec[k]
    claims.update(spec.get("claims", {}))
    alg = spec["alg"]
    key = open(spec["key"], "rb").read() if spec.get("key") else None
    if alg in ("HS256", "RS256", "ES256"):
        return jwt.encode(claims, key, algorithm=alg)
    body = b64url(json.dumps(claims).encode())
    if alg == "none":
        return b64url(b'{"alg":"none","typ":"JWT"}') + "." + body + "."
    if alg == "HS256-raw":
        signing = b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + body
        return signing + "." + b64url(hmac.new(key, signing.encode(), hashlib.sha256).digest())
    raise ValueError(f"unknown alg {alg}")


def make_keys(d):
    """An HS256 secret and RSA-2048 and EC P-256 key pairs, as PEM files in `d`."""
    os.makedirs(d, exist_ok=True)
    paths = {k: os.path.join(d, f) for k, f in [
        ("hs256", "hs256.secret"), ("rsa_private", "rsa-private.pem"),
        ("rsa_public", "rsa-public.pem"), ("ec_private", "ec-private.pem"),
        ("ec_public", "ec-public.pem")]}
    with open(paths["hs256"], "w") as f:
        f.write(os.urandom(32).hex())  # text without a newline: trimmed or not, it is the same
    for name, key in (("rsa", rsa.generate_private_key(65537, 2048)),
                      ("ec", ec.generate_private_key(ec.SECP256R1()))):
        with open(paths[f"{name}_private"], "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(paths[f"{name}_public"], "wb") as f:
            f.write(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths


# --- HTTP: the REST client and the callback server --------------------------------------


def request(method, cmd, body=None):
    api = urllib.parse.urlsplit(cmd["api"])
    loopback(api.hostname)
    url = f"{cmd['api']}/mediaservice/{cmd['domain']}/{cmd['route']}"
    headers = dict(cmd.get("headers", {}))
    auth = cmd.get("auth")
    if auth and "token" in auth:
        headers["Authorization"] = "Bearer " + mint(auth["token"])
    elif auth and "bearer" in auth:
        headers["Authorization"] = "Bearer " + auth["bearer"]
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:  # 4xx/5xx: the answer the test wants to see
        status, raw, hdrs = e.code, e.read(), e.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return {"status": status, "body": parsed, "headers": {k.lower(): v for k, v in hdrs.items()}}


def signed(header, raw):
    """README "Webhooks": `t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, checked
    here from that description (within 5 minutes), not with ringmaster's code."""
    if Callbacks.secret is None or not header:
        return None
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t = parts.get("t", "")
    if not t.isdigit() or abs(time.time() - int(t)) > 300:
        return False  # a malformed header is a bad signature, never a crash of the handler
    mac = hmac.new(Callbacks.secret.encode(), t.encode() + b"." + raw, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts.get("v1", ""))


class Callbacks(BaseHTTPRequestHandler):
    session_reference = None  # what /newRemoteCall answers with, set by the `reply` command
    failing = {}  # callback name -> how many more to answer 500 (to see them retried)
    secret = None  # the app's secret, to check X-Ringmaster-Signature (`signing` command)
    lock = threading.Lock()  # callbacks come in on threads of their own

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        name = self.path.rstrip("/").rsplit("/", 1)[-1]
        with Callbacks.lock:
            fail = Callbacks.failing.get(name, 0) > 0
            if fail:
                Callbacks.failing[name] -= 1
        signature = self.headers.get("X-Ringmaster-Signature")
        emit({"callback": name, "path": self.path, "body": body, "failed": fail,
              "signature": signature, "signature_ok": signed(signature, raw)})
        reply = {}
        if name == "newRemoteCall" and Callbacks.session_reference is not None:
            reply = {"sessionReferenceId": Callbacks.session_reference}
        data = json.dumps(reply).encode()
        self.send_response(500 if fail else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # stdout is the protocol; the access log would only get in the way


# --- the command loop -------------------------------------------------------------------


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Callbacks)
    server.daemon_threads = True
    web = threading.Thread(target=server.serve_forever, daemon=True)
    web.start()
    ports = {}
    emit({"ready": {"callback_base": f"http://127.0.0.1:{server.server_address[1]}/cb"}})

    def port(cmd):
        return ports[cmd.get("name", "main")]

    def rtp_open(c):
        p = ports.setdefault(c.get("name", "main"), RtpPort())
        p.set_srtp(c.get("srtp"))
        return {"port": p.port}

    def rtp_send(c):
        p = port(c)
        p.set_srtp(c.get("srtp"))
        p.send((loopback(c["ip"]), int(c["port"])), c.get("codec", "PCMU"), c["hz"], c.get("srtp"))
        return True

    def reply(c):
        Callbacks.session_reference = c.get("session_reference_id")
        return True

    def signing(c):
        Callbacks.secret = c["secret"]
        return True

    def fail(c):
        Callbacks.failing[c["callback"]] = int(c["times"])
        return True

    commands = {
        "keys": lambda c: make_keys(c["dir"]),
        "token": lambda c: mint(c["spec"]),
        "srtp_key": lambda c: "inline:" + base64.b64encode(os.urandom(30)).decode(),
        "post": lambda c: request("POST", c, c["raw"].encode() if "raw" in c
                                  else json.dumps(c.get("body", {})).encode()),
        "options": lambda c: request("OPTIONS", c, None),
        "reply": reply,
        "fail": fail,
        "signing": signing,
        "rtp_open": rtp_open,
        "rtp_send": rtp_send,
        "rtp_stop": lambda c: port(c).stop_sending() or True,
        "heard": lambda c: port(c).heard(c["hz"]),
    }
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            emit({"ok": commands[cmd["cmd"]](cmd)})
        except Exception as e:  # any bad command is reported to the driver, never fatal
            emit({"error": f"{type(e).__name__}: {e}"})
    # stdin closed: the driver is gone; stop everything we started.
    for p in ports.values():
        p.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
