#!/usr/bin/env python3
"""Pipecat (PyPI `pipecat-ai`) as the voice agent of a ringmaster `stream`, for the tests.

This is Pipecat's own telephony setup, as its Twilio examples run it: a FastAPI WebSocket
endpoint, `parse_telephony_websocket` to read the `connected`/`start` messages, the
`TwilioFrameSerializer` and the `FastAPIWebsocketTransport`, a `PipelineWorker` run by a
`WorkerRunner`. The only change: `auto_hang_up=False`, since hanging up calls Twilio's REST
API. No cloud service: instead of speech-to-text, an LLM and text-to-speech, one local
processor answers every 20 ms of the caller's audio with 20 ms of a tone and counts the
caller's tone in what it receives (the detector of agent.py).

Usage: pipecat_agent.py HZ LISTEN_HZ. Prints {"ready": {"port": PORT}} once the server
listens on 127.0.0.1:PORT (path /ws); then answers each stdin line {"cmd": "report"} with
{"ok": {...}} (see `STATS`). Exits when stdin closes.
"""

import asyncio
import json
import math
import os
import socket
import sys
import threading

import uvicorn
from fastapi import FastAPI, WebSocket
from loguru import logger

from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import from_l16_le, l16_le, sine, tone_frames  # noqa: E402

HZ, LISTEN_HZ = float(sys.argv[1]), float(sys.argv[2])
STATS = {
    "connections": 0,
    "transport": None,
    "call_id": None,
    "stream_id": None,
    "audio_frames": 0,  # InputAudioRawFrames that reached the processor
    "heard_frames": 0,  # 20 ms blocks of LISTEN_HZ among them
    "sent_ms": 0,  # tone sent back
    "ended": False,
}
logger.remove()
logger.add(sys.stderr, level="INFO")


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class ToneAnswer(FrameProcessor):
    """Answers each chunk of the caller's audio with as much of a HZ tone."""

    def __init__(self):
        super().__init__()
        self.sent = 0  # samples of the tone sent, so its phase carries on
        self.pending = []  # caller samples not yet judged (whole 20 ms blocks only)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            rate = frame.sample_rate
            samples = from_l16_le(frame.audio)
            STATS["audio_frames"] += 1
            self.pending.extend(samples)
            block = rate // 50
            whole = len(self.pending) // block * block
            if whole:
                STATS["heard_frames"] += tone_frames(self.pending[:whole], LISTEN_HZ, rate)
                del self.pending[:whole]
            n = len(samples)
            tone = l16_le(sine(HZ, rate, self.sent, n))
            self.sent += n
            STATS["sent_ms"] += round(1000 * n / rate)
            await self.push_frame(
                OutputAudioRawFrame(audio=tone, sample_rate=rate, num_channels=1)
            )
        else:
            await self.push_frame(frame, direction)


app = FastAPI()


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket):
    await websocket.accept()
    STATS["connections"] += 1
    transport_type, call_data = await parse_telephony_websocket(websocket)
    STATS["transport"] = transport_type
    STATS["call_id"] = call_data["call_id"]
    STATS["stream_id"] = call_data["stream_id"]
    serializer = TwilioFrameSerializer(
        stream_sid=call_data["stream_id"],
        call_sid=call_data["call_id"],
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    pipeline = Pipeline([transport.input(), ToneAnswer(), transport.output()])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
    )

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    STATS["ended"] = True


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    emit({"ready": {"port": sock.getsockname()[1]}})
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def read_stdin():
        for line in sys.stdin:
            if line.strip():
                try:
                    cmd = json.loads(line)
                    if cmd.get("cmd") != "report":
                        raise ValueError(f"unknown command {cmd!r}")
                    emit({"ok": dict(STATS)})
                except Exception as e:  # the driver reads the error and fails the test
                    emit({"error": f"{type(e).__name__}: {e}"})
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=read_stdin, daemon=True).start()
    await done.wait()
    server.should_exit = True
    await asyncio.wait_for(serving, 5)


if __name__ == "__main__":
    asyncio.run(main())
