#!/usr/bin/env python3
"""Checks tests/stream/agent.py on its own, with no ringmaster: this script plays ringmaster's
part (connected, start, 4 s of 20 ms `media` frames of a 700 Hz tone, stop) against the agent,
which answers with 1400 Hz, and checks what each side detected and the signature. Run it from
the stream venv: target/tools/stream-py/bin/python tests/stream/selfcheck.py
Exits 0 when every check passes."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

from websockets.asyncio.client import connect

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import agent as A  # noqa: E402  (its codec and detector, checked here against each other)


def fail(why):
    print(f"selfcheck: FAIL: {why}")
    sys.exit(1)


class Driver:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "agent.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.p.stdout.readline())["ready"]["port"]

    def cmd(self, **c):
        self.p.stdin.write(json.dumps(c) + "\n")
        self.p.stdin.flush()
        a = json.loads(self.p.stdout.readline())
        if "error" in a:
            fail(f"{c}: {a['error']}")
        return a["ok"]

    def quit(self):
        self.p.stdin.close()
        self.p.wait(timeout=5)


async def ringmaster(port, encoding, rate, secret, seconds=4.0, target="/agent?x=1"):
    """What ringmaster would do: signed upgrade, connected, start, paced media, stop."""
    t = str(int(time.time()))
    v1 = hmac.new(secret.encode(), f"{t}.{target}".encode(), hashlib.sha256).hexdigest()
    heard = []
    async with connect(f"ws://127.0.0.1:{port}{target}",
                       additional_headers={"X-Ringmaster-Signature": f"t={t},v1={v1}",
                                           "X-Ringmaster-Call-Id": "c1"}) as ws:
        seq = 0

        async def send(msg):
            nonlocal seq
            seq += 1
            msg["sequenceNumber"] = str(seq)
            await ws.send(json.dumps(msg))

        async def receive():
            async for raw in ws:
                heard.append(json.loads(raw))

        rx = asyncio.create_task(receive())
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await send({"event": "start", "streamSid": "MZ1", "start": {
            "streamSid": "MZ1", "callSid": "c1", "tracks": ["inbound"],
            "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1}}})
        n = rate // 50
        t0 = time.monotonic()
        for i in range(int(seconds * 50)):
            samples = A.sine(700, rate, i * n, n)
            payload = bytes(A.ulaw_encode(s) for s in samples) if encoding == "audio/x-mulaw" \
                else A.l16_le(samples)
            await send({"event": "media", "streamSid": "MZ1", "media": {
                "track": "inbound", "chunk": str(i + 1), "timestamp": str(i * 20),
                "payload": base64.b64encode(payload).decode()}})
            await asyncio.sleep(max(0.0, t0 + (i + 1) * 0.02 - time.monotonic()))
        await send({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "c1"}})
        await asyncio.sleep(0.2)
        rx.cancel()
    return heard


def agent_audio(heard, encoding, rate):
    """Decodes what the agent sent (either dialect) to samples at `rate`."""
    out = []
    for m in heard:
        if m.get("event") == "media":
            data = base64.b64decode(m["media"]["payload"])
            out.extend(A.ULAW[b] for b in data) if encoding == "audio/x-mulaw" \
                else out.extend(A.from_l16_le(data))
        elif m.get("type") == "streamAudio":
            data = base64.b64decode(m["data"]["audioData"])
            if m["data"]["audioDataType"] == "wav":
                data = data[44:]
            out.extend(A.from_l16_le(data))
    return out


def run(encoding, rate, tone):
    d = Driver()
    d.cmd(cmd="secret", secret="s3cret")
    d.cmd(cmd="plan", steps=[{"at": 0, "tone": tone}, {"at": 0.5, "send": {"event": "mark",
                                                                           "mark": {"name": "m1"}}}])
    heard = asyncio.run(ringmaster(d.port, encoding, rate, "s3cret"))
    r = d.cmd(cmd="report", hz=[700, 1400])["connections"][0]
    d.quit()
    track = r["tracks"]["inbound"]
    size = 160 if encoding == "audio/x-mulaw" else rate // 50 * 2
    checks = [
        (r["signature_ok"] is True, f"signature: {r['signature_ok']}"),
        (track["frames"] == 200, f"frames {track['frames']}"),
        (track["sizes"] == {str(size): 200}, f"sizes {track['sizes']}"),
        (track["tone"]["700"] >= 195, f"700 Hz frames {track['tone']}"),
        (track["tone"]["1400"] == 0, f"1400 Hz frames on the caller's track {track['tone']}"),
        (r["events"][:3] == ["connected", "start", "media*200"], f"events {r['events']}"),
        (r["stop"] is not None and r["bad_sequence"] == 0, f"stop/sequence {r}"),
    ]
    rate_back = int(tone.get("rate", rate)) if tone.get("dialect") == "piopiy" else rate
    back = agent_audio(heard, encoding, rate_back)
    got = A.tone_frames(back, 1400.0, rate_back)
    checks.append((got >= 90, f"the agent's 1400 Hz: {got} frames"))
    checks.append((any(m.get("event") == "mark" and m["streamSid"] == "MZ1" for m in heard),
                   "the mark carries the streamSid"))
    for ok, why in checks:
        if not ok:
            fail(f"{encoding}@{rate} {tone}: {why}")
    print(f"selfcheck: {encoding}@{rate} {tone.get('dialect')}: ok ({got} agent frames)")


def pipecat():
    """Pipecat (tests/stream/pipecat_agent.py) hears 700 Hz and answers with 1400 Hz."""
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "pipecat_agent.py"), "1400", "700"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = json.loads(p.stdout.readline())["ready"]["port"]
    heard = asyncio.run(ringmaster(port, "audio/x-mulaw", 8000, "s", target="/ws"))
    time.sleep(0.5)
    p.stdin.write('{"cmd": "report"}\n')
    p.stdin.flush()
    r = json.loads(p.stdout.readline())["ok"]
    p.stdin.close()
    p.wait(timeout=10)
    got = A.tone_frames(agent_audio(heard, "audio/x-mulaw", 8000), 1400.0, 8000)
    sids = {m.get("streamSid") for m in heard if m.get("event") == "media"}
    if r["transport"] != "twilio" or r["heard_frames"] < 190 or got < 150 or sids != {"MZ1"}:
        fail(f"pipecat: report {r}, {got} frames of 1400 Hz back, streamSids {sids}")
    print(f"selfcheck: pipecat: ok (it heard {r['heard_frames']}, we heard {got})")


def signature_checker():
    """The agent's checker refuses a wrong secret, another target and a stale timestamp."""
    now = int(time.time())
    good = hmac.new(b"s", f"{now}./a?x=1".encode(), hashlib.sha256).hexdigest()
    header = f"t={now},v1={good}"
    cases = [
        (A.check_signature(header, "s", "/a?x=1", now), True),
        (A.check_signature(header, "other", "/a?x=1", now) is True, False),
        (A.check_signature(header, "s", "/a?x=2", now) is True, False),
        (A.check_signature(header, "s", "/a?x=1", now + 600) is True, False),
        (A.check_signature(None, "s", "/a?x=1", now) is True, False),
    ]
    for i, (got, want) in enumerate(cases):
        if got != want:
            fail(f"signature case {i}: {got}")
    print("selfcheck: signature checker: ok")


if __name__ == "__main__":
    signature_checker()
    pipecat()
    run("audio/x-mulaw", 8000, {"dialect": "twilio", "hz": 1400, "seconds": 2})
    run("audio/x-l16", 16000, {"dialect": "twilio", "hz": 1400, "seconds": 2, "pace": "realtime"})
    run("audio/x-l16", 16000, {"dialect": "piopiy", "hz": 1400, "seconds": 2, "rate": 8000})
    run("audio/x-mulaw", 8000, {"dialect": "piopiy", "hz": 1400, "seconds": 2, "rate": 24000,
                                "format": "wav"})
    print("selfcheck: 6 passed, 0 failed")
