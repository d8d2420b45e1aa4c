#!/usr/bin/env python3
"""A voice agent's WebSocket server, for ringmaster's `stream` end-to-end tests.

It plays the part of a speech bot: ringmaster connects to it, streams the call's audio as
Twilio Media Streams messages, and plays back what the agent sends. Nothing here is shared
with ringmaster: the WebSocket side is the `websockets` package, and the G.711 law, the L16
framing, the WAV files and the tone detector are written out below on purpose, so a bug in
the engine's copies cannot hide itself.

A Rust test (tests/support/stream_agent.rs) drives it over stdin/stdout, one JSON object per
line:
  - first line printed: {"ready": {"port": PORT}} (the server listens on 127.0.0.1:PORT);
  - each command {"cmd": NAME, ...} gets exactly one line, {"ok": ...} or {"error": "..."}.
Commands:
  plan     {"steps": [...], "reject": STATUS?, "stall": SECONDS?}: what the agent does on each
           connection once ringmaster's `start` arrived (see `Connection.run_plan`); `reject`
           refuses the WebSocket upgrade with that HTTP status instead, `stall` leaves it
           unanswered that long.
  secret   {"secret": S}: check X-Ringmaster-Signature with this app secret.
  tone     {...a tone step...}: start sending a tone on the newest connection now.
  send     {"msg": {...}}: send this JSON on the newest connection now.
  raw      {"text": T} | {"oversize": BYTES}: send this text as it is, or a `media` message
           that long, on the newest connection now.
  close    {}: close the newest connection now (code 1000).
  report   {"hz": [..]}: what every connection saw (see `Connection.report`).
It exits when stdin closes. It listens on 127.0.0.1 only; `agent.py --tls CERT KEY` serves
wss:// with that certificate.
"""

import array
import asyncio
import base64
import hashlib
import hmac
import io
import json
import math
import ssl
import sys
import threading
import time
import wave
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

# The largest message the agent accepts (ringmaster's frames are small; this only bounds).
MAX_MESSAGE = 4 * 1024 * 1024
# Peak of the tones the agent sends (about -12 dBFS).
PEAK = 8000.0


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# --- G.711 μ-law (ITU-T G.711) and L16, written out from the standard -------------------------


def ulaw_encode(s):
    # On 14 bits, as the standard's reference code does.
    pcm = s >> 2
    mask = 0x7F if pcm < 0 else 0xFF
    pcm = min(abs(pcm), 8159) + 0x21  # clip, then the bias that makes segments line up
    seg = max(0, pcm.bit_length() - 6)
    if seg > 7:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0F)) ^ mask


def ulaw_decode(u):
    u = ~u & 0xFF
    s = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)
    return 0x84 - s if u & 0x80 else s - 0x84


ULAW = [ulaw_decode(i) for i in range(256)]


def l16_le(samples):
    """Signed 16-bit little-endian bytes (what `audio/x-l16` means in ringmaster's stream)."""
    a = array.array("h", samples)
    if sys.byteorder == "big":
        a.byteswap()
    return a.tobytes()


def from_l16_le(data):
    a = array.array("h")
    a.frombytes(data[: len(data) // 2 * 2])
    if sys.byteorder == "big":
        a.byteswap()
    return a


def wav_bytes(samples, rate, channels=1):
    """A whole PCM16 WAV file of `samples` (each sample repeated on every channel)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(l16_le([s for s in samples for _ in range(channels)]))
    return out.getvalue()


# --- the tone detector: Goertzel over 20 ms blocks --------------------------------------------


def goertzel_level(block, hz, rate):
    """Amplitude of the `hz` component of `block`: a pure sine of peak A reads about A."""
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2.0 * math.sqrt(max(power, 0.0)) / len(block)


def tone_frames(samples, hz, rate):
    """20 ms blocks that are clearly the tone: loud (RMS > 1000) and pure (the target frequency
    carries > 80 % of what a pure sine of that RMS would), as tests/support/audio.rs
    `tone_frames` counts them, so both ends of a call are judged alike."""
    n = rate // 50
    count = 0
    for i in range(0, len(samples) - n + 1, n):
        block = samples[i : i + n]
        rms = math.sqrt(sum(x * x for x in block) / n)
        if rms > 1000.0 and goertzel_level(block, hz, rate) / (rms * math.sqrt(2)) > 0.8:
            count += 1
    return count


def sine(hz, rate, start, count):
    """`count` samples of a `hz` sine at `rate`, from sample index `start` (phase carries on
    across chunks)."""
    w = 2.0 * math.pi * hz / rate
    return [int(round(PEAK * math.sin(w * (start + i)))) for i in range(count)]


# --- the signature on the upgrade request -----------------------------------------------------


def check_signature(header, secret, target, now, tolerance=300):
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<path?query>")>`: True, or why not."""
    if header is None:
        return "no X-Ringmaster-Signature header"
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t"), parts.get("v1")
    if t is None or v1 is None or not t.isdigit():
        return f"malformed signature header: {header}"
    if abs(now - int(t)) > tolerance:
        return f"timestamp {t} is more than {tolerance}s from now ({now})"
    want = hmac.new(secret.encode(), f"{t}.{target}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, v1):
        return "signature mismatch"
    return True


# --- one WebSocket connection -----------------------------------------------------------------


class Track:
    def __init__(self):
        self.frames = 0
        self.sizes = {}  # payload bytes -> frames of that size
        self.samples = array.array("h")
        self.bad_chunks = 0  # `chunk` not one more than the previous
        self.last_chunk = None


class Connection:
    def __init__(self, ws, target, headers):
        self.ws = ws
        self.target = target
        self.headers = headers
        self.opened = time.monotonic()
        self.events = []  # event names in order, consecutive `media` folded as "media*N"
        self.counts = {}
        self.start = None
        self.connected = None
        self.stop = None
        self.tracks = {}
        self.dtmf = []
        self.marks = []
        self.invalid = []  # what could not be read (first few)
        self.bad_sequence = 0
        self.last_sequence = 0
        self.sent = {"messages": 0, "audio_ms": 0.0}
        self.closed = None  # {"by": "agent"|"ringmaster", "code", "reason"}
        self.tasks = []
        self.sid = None

    # ringmaster's format for this stream, from its `start`
    def fmt(self):
        mf = (self.start or {}).get("start", {}).get("mediaFormat", {})
        return mf.get("encoding", "audio/x-mulaw"), int(mf.get("sampleRate", 8000))

    def note(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1
        if name == "media" and self.events and self.events[-1].startswith("media"):
            n = int(self.events[-1].split("*")[1]) if "*" in self.events[-1] else 1
            self.events[-1] = f"media*{n + 1}"
        else:
            self.events.append(name)

    def on_message(self, raw):
        if isinstance(raw, bytes):
            self.note("binary")
            return
        try:
            msg = json.loads(raw)
            event = msg["event"]
        except (ValueError, KeyError, TypeError):
            self.note("invalid")
            if len(self.invalid) < 5:
                self.invalid.append(raw[:200])
            return
        self.note(event)
        seq = msg.get("sequenceNumber")
        if seq is not None:
            try:
                n = int(seq)
                if n != self.last_sequence + 1:
                    self.bad_sequence += 1
                self.last_sequence = n
            except ValueError:
                self.bad_sequence += 1
        if event == "connected":
            self.connected = msg
        elif event == "start":
            self.start = msg
            self.sid = msg.get("streamSid") or msg.get("start", {}).get("streamSid")
        elif event == "media":
            self.on_media(msg.get("media", {}))
        elif event == "dtmf":
            self.dtmf.append(msg.get("dtmf", {}).get("digit"))
        elif event == "mark":
            self.marks.append(msg.get("mark", {}).get("name"))
        elif event == "stop":
            self.stop = msg

    def on_media(self, media):
        track = self.tracks.setdefault(media.get("track", "?"), Track())
        try:
            payload = base64.b64decode(media.get("payload", ""), validate=True)
        except ValueError:
            self.note("bad_payload")
            return
        track.frames += 1
        track.sizes[len(payload)] = track.sizes.get(len(payload), 0) + 1
        chunk = media.get("chunk")
        if chunk is not None:
            if track.last_chunk is not None and int(chunk) != track.last_chunk + 1:
                track.bad_chunks += 1
            track.last_chunk = int(chunk)
        encoding, _ = self.fmt()
        if encoding == "audio/x-mulaw":
            track.samples.extend(ULAW[b] for b in payload)
        else:
            track.samples.extend(from_l16_le(payload))

    async def send(self, msg):
        if isinstance(msg, dict) and "event" in msg and "streamSid" not in msg and self.sid:
            msg = dict(msg, streamSid=self.sid)
        await self.ws.send(json.dumps(msg))
        self.sent["messages"] += 1

    async def send_raw(self, raw):
        """Sends `raw["text"]` as it is, or a `media` message `raw["oversize"]` bytes long."""
        if "oversize" in raw:
            pad = "A" * max(0, int(raw["oversize"]) - 60)
            text = json.dumps({"event": "media", "streamSid": self.sid, "media": {"payload": pad}})
        else:
            text = raw["text"]
        await self.ws.send(text)
        self.sent["messages"] += 1

    async def tone(self, step):
        """Sends `seconds` of a `hz` tone: `dialect` "twilio" (`media` in the stream's own
        format) or "piopiy" (`streamAudio`, `format` raw L16 or wav, at `rate`); `pace`
        "realtime" (one `chunk_ms` chunk per `chunk_ms`) or "bulk" (all of it at once)."""
        hz, seconds = float(step["hz"]), float(step.get("seconds", 5))
        dialect = step.get("dialect", "twilio")
        chunk_ms = int(step.get("chunk_ms", 20 if step.get("pace") == "realtime" else 200))
        encoding, stream_rate = self.fmt()
        rate = int(step.get("rate", stream_rate)) if dialect == "piopiy" else stream_rate
        per_chunk = rate * chunk_ms // 1000
        chunks = int(round(seconds * 1000 / chunk_ms))
        began = time.monotonic()
        for i in range(chunks):
            samples = sine(hz, rate, i * per_chunk, per_chunk)
            if dialect == "twilio":
                if encoding == "audio/x-mulaw":
                    payload = bytes(ulaw_encode(s) for s in samples)
                else:
                    payload = l16_le(samples)
                msg = {"event": "media", "media": {"payload": base64.b64encode(payload).decode()}}
            else:
                kind = step.get("format", "raw")
                data = wav_bytes(samples, rate, int(step.get("channels", 1))) if kind == "wav" else l16_le(samples)
                msg = {"type": "streamAudio", "data": {"audioDataType": kind, "sampleRate": rate,
                                                       "audioData": base64.b64encode(data).decode()}}
            await self.send(msg)
            self.sent["audio_ms"] += chunk_ms
            if step.get("pace") == "realtime":
                await asyncio.sleep(max(0.0, began + (i + 1) * chunk_ms / 1000 - time.monotonic()))

    async def close(self):
        if self.closed is None:
            self.closed = {"by": "agent"}
        await self.ws.close(1000, "agent done")

    async def run_plan(self, steps):
        """Each step at `at` seconds after `start`: {"tone": {...}} (a realtime one in the
        background), {"send": {...}}, {"raw": {...}} (see `send_raw`), {"close": true}."""
        t0 = time.monotonic()
        for step in steps:
            await asyncio.sleep(max(0.0, t0 + float(step.get("at", 0)) - time.monotonic()))
            if "tone" in step:
                # A bulk tone is queued whole before the next step (a mark after it, say).
                if step["tone"].get("pace") == "realtime":
                    self.tasks.append(asyncio.create_task(self.tone(step["tone"])))
                else:
                    await self.tone(step["tone"])
            if "send" in step:
                await self.send(step["send"])
            if "raw" in step:
                await self.send_raw(step["raw"])
            if step.get("close"):
                await self.close()
                return

    def report(self, hzs, secret):
        encoding, rate = self.fmt()
        tracks = {}
        for name, t in self.tracks.items():
            tracks[name] = {
                "frames": t.frames,
                "sizes": {str(k): v for k, v in t.sizes.items()},
                "bad_chunks": t.bad_chunks,
                "tone": {str(hz): tone_frames(t.samples, float(hz), rate) for hz in hzs},
            }
        sig = None
        if secret is not None:
            sig = check_signature(self.headers.get("x-ringmaster-signature"), secret,
                                  self.target, int(time.time()))
        return {
            "target": self.target,
            "headers": self.headers,
            "signature_ok": sig,
            "events": self.events,
            "counts": self.counts,
            "connected": self.connected,
            "start": self.start,
            "stop": self.stop,
            "tracks": tracks,
            "dtmf": self.dtmf,
            "marks": self.marks,
            "invalid": self.invalid,
            "bad_sequence": self.bad_sequence,
            "sent": self.sent,
            "closed": self.closed,
            "open_seconds": round(time.monotonic() - self.opened, 3),
        }


# --- the server and its commands --------------------------------------------------------------


class Agent:
    def __init__(self):
        self.conns = []
        self.upgrades = []  # every upgrade request: {"target", "headers", "rejected"}
        self.steps = []
        self.reject = None
        self.stall = None
        self.secret = None

    async def process_request(self, connection, request):
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        self.upgrades.append({"target": request.path, "headers": headers,
                              "rejected": self.reject, "stalled": self.stall})
        if self.stall:
            # Never answers the upgrade (ringmaster's connect timeout must end it).
            await asyncio.sleep(self.stall)
        if self.reject:
            return connection.respond(HTTPStatus(self.reject), "refused by the test agent\n")
        return None

    async def handler(self, ws):
        headers = {k.lower(): v for k, v in ws.request.headers.raw_items()}
        conn = Connection(ws, ws.request.path, headers)
        self.conns.append(conn)
        planned = False
        try:
            async for raw in ws:
                conn.on_message(raw)
                if conn.start is not None and not planned:
                    planned = True
                    conn.tasks.append(asyncio.create_task(conn.run_plan(list(self.steps))))
        except ConnectionClosed:
            pass
        finally:
            if conn.closed is None:
                conn.closed = {"by": "ringmaster"}
            conn.closed["code"] = ws.close_code
            conn.closed["reason"] = ws.close_reason
            for t in conn.tasks:
                t.cancel()

    def newest(self):
        if not self.conns:
            raise ValueError("no connection yet")
        return self.conns[-1]

    async def command(self, cmd):
        name = cmd.get("cmd")
        if name == "plan":
            self.steps = cmd.get("steps", [])
            self.reject = cmd.get("reject")
            self.stall = cmd.get("stall")
            return True
        if name == "secret":
            self.secret = cmd["secret"]
            return True
        if name == "tone":
            conn = self.newest()
            conn.tasks.append(asyncio.create_task(conn.tone(cmd)))
            return True
        if name == "send":
            await self.newest().send(cmd["msg"])
            return True
        if name == "raw":
            await self.newest().send_raw(cmd)
            return True
        if name == "close":
            await self.newest().close()
            return True
        if name == "report":
            hzs = cmd.get("hz", [])
            now = int(time.time())
            for u in self.upgrades:
                if self.secret is not None:
                    u["signature_ok"] = check_signature(u["headers"].get("x-ringmaster-signature"),
                                                        self.secret, u["target"], now)
            return {"upgrades": self.upgrades,
                    "connections": [c.report(hzs, self.secret) for c in self.conns]}
        raise ValueError(f"unknown command {name!r}")


async def main():
    agent = Agent()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    tls = None
    if len(sys.argv) == 4 and sys.argv[1] == "--tls":
        # wss:// with this certificate and key (PEM files).
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    async with serve(agent.handler, "127.0.0.1", 0, process_request=agent.process_request,
                     max_size=MAX_MESSAGE, ping_interval=None, open_timeout=60,
                     ssl=tls) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"ready": {"port": port}})

        def read_stdin():
            for line in sys.stdin:
                line = line.strip()
                if not line:
                    continue
                try:
                    cmd = json.loads(line)
                    fut = asyncio.run_coroutine_threadsafe(agent.command(cmd), loop)
                    emit({"ok": fut.result(timeout=15)})
                except Exception as e:  # the driver reads the error and fails the test
                    emit({"error": f"{type(e).__name__}: {e}"})
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=read_stdin, daemon=True).start()
        await done.wait()


if __name__ == "__main__":
    asyncio.run(main())
