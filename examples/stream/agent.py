#!/usr/bin/env python3
"""A small voice agent for ringmaster's `stream` action: a parrot.

It greets the caller with a one-second beep, then plays back everything the caller says, and
answers digits: `*` clears what is queued (barge-in), `#` ends the stream (the call's script
goes on with its next action). It speaks the Twilio Media Streams messages ringmaster sends
(connected, start, media, dtmf, mark, stop) and answers in the same dialect; see the README's
"Voice agents (stream)".

    pip install websockets
    python3 examples/stream/agent.py --listen 127.0.0.1:8765 --secret <app secret>

With --secret, the upgrade request's X-Ringmaster-Signature (HMAC-SHA256 of "<t>.<path?query>"
with the app's secret) is checked and a bad one is refused (HTTP 401).
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import math
import struct
import time
from http import HTTPStatus

from websockets.asyncio.server import serve


def signature_ok(header, secret, target, tolerance=300):
    parts = dict(p.split("=", 1) for p in (header or "").split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
        return False
    want = hmac.new(secret.encode(), f"{t}.{target}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, v1)


def mulaw(sample):
    """One 16-bit sample to G.711 μ-law."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    return ~(sign | (exponent << 4) | ((magnitude >> (exponent + 3)) & 0x0F)) & 0xFF


def beep(fmt, seconds=1.0, hz=440.0):
    """`seconds` of a tone in the stream's format (`mediaFormat` of `start`)."""
    rate = fmt["sampleRate"]
    samples = [int(8000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(int(rate * seconds))]
    if fmt["encoding"] == "audio/x-mulaw":
        return bytes(mulaw(s) for s in samples)
    return struct.pack(f"<{len(samples)}h", *samples)  # audio/x-l16: little-endian


async def session(ws):
    sid, greeted = None, False
    async for raw in ws:
        msg = json.loads(raw)
        event = msg.get("event")
        if event == "start":
            start = msg["start"]
            sid = msg["streamSid"]
            print(f"call {start['callSid']} from {start['from']} to {start['to']}: "
                  f"{start['mediaFormat']}, tracks {start['tracks']}")
            audio = base64.b64encode(beep(start["mediaFormat"])).decode()
            await ws.send(json.dumps({"event": "media", "streamSid": sid,
                                      "media": {"payload": audio}}))
            await ws.send(json.dumps({"event": "mark", "streamSid": sid,
                                      "mark": {"name": "greeting"}}))
        elif event == "mark":
            greeted = True  # the beep has played: start repeating the caller
        elif event == "media" and greeted and msg["media"]["track"] == "inbound":
            # The caller's own audio, in the stream's format: played straight back.
            await ws.send(json.dumps({"event": "media", "streamSid": sid,
                                      "media": {"payload": msg["media"]["payload"]}}))
        elif event == "dtmf":
            digit = msg["dtmf"]["digit"]
            print(f"digit {digit}")
            if digit == "*":
                await ws.send(json.dumps({"event": "clear", "streamSid": sid}))
            elif digit == "#":
                await ws.send(json.dumps({"action": "stop"}))
        elif event == "stop":
            print(f"stream {sid} stopped")


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:8765")
    ap.add_argument("--secret", help="the app's secret: check X-Ringmaster-Signature")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)

    def check(connection, request):
        header = request.headers.get("X-Ringmaster-Signature")
        if args.secret and not signature_ok(header, args.secret, request.path):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad signature\n")
        return None

    async with serve(session, host, int(port), process_request=check) as server:
        bound = server.sockets[0].getsockname()
        print(f"agent listening on ws://{bound[0]}:{bound[1]}/agent", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
