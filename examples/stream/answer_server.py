#!/usr/bin/env python3
"""An app's answer URL and event URL whose script streams every call to a voice agent
(examples/stream/agent.py), then says goodbye once the agent ends the stream. Python's
standard library only.

    python3 examples/stream/answer_server.py --listen 127.0.0.1:9000 \
        --agent ws://127.0.0.1:8765/agent --secret <app secret>
    ringmaster app create --name agent --answer-url http://127.0.0.1:9000/answer \
        --event-url http://127.0.0.1:9000/events

(A loopback agent needs `[policy] allow_networks = ["127.0.0.0/8"]` in ringmaster's config.)
Events are printed; with --secret their X-Ringmaster-Signature (HMAC-SHA256 of "<t>.<body>")
is checked first. A `stream_failed` error event says why an agent could not be reached.
"""

import argparse
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def script(agent, call):
    return [
        {"action": "stream", "ws_url": agent, "listen_mode": "caller", "voice_quality": "8000"},
        {"action": "speak", "text": "The agent has finished. Goodbye."},
    ]


def make_handler(args):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/answer":
                call = json.loads(body or b"{}")
                print(f"answer: {call.get('cmiuuid')} from {call.get('from')} to {call.get('to')}",
                      flush=True)
                reply = json.dumps(script(args.agent, call)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                return
            if args.secret and not self.signed(body):
                self.send_response(401)
                self.end_headers()
                return
            print(f"event: {body.decode(errors='replace')}", flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def signed(self, body):
            header = self.headers.get("X-Ringmaster-Signature", "")
            parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
            t = parts.get("t", "")
            if not t.isdigit() or abs(time.time() - int(t)) > 300:
                return False
            want = hmac.new(args.secret.encode(), t.encode() + b"." + body,
                            hashlib.sha256).hexdigest()
            return hmac.compare_digest(want, parts.get("v1", ""))

        def log_message(self, *_):
            pass

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:9000")
    ap.add_argument("--agent", default="ws://127.0.0.1:8765/agent")
    ap.add_argument("--secret", help="the app's secret: check the events' signatures")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), make_handler(args))
    print(f"answer server listening on http://{host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
