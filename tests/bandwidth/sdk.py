"""Runs one method of the Bandwidth Python SDK (bandwidth-sdk 3.1.0, unchanged) against
ringmaster and prints its result as JSON: `sdk.py voice.create_call '{"from_":..}'`.

The base URL and credentials come from BW_BASE, BW_USER, BW_TOKEN, BW_SECRET. An SDK
exception prints {"error": {"status": .., "message": .., "code": ..}} and exits 3, so the
Rust test can check error paths too.
"""
import json
import os
import sys
import types

import bandwidth.account
import bandwidth.voice


def main():
    kind, method = sys.argv[1].split(".", 1)
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    module = {"voice": bandwidth.voice, "account": bandwidth.account}[kind]
    client = module.Client(
        os.environ["BW_USER"],
        os.environ["BW_TOKEN"],
        os.environ["BW_SECRET"],
        api_endpoint=os.environ["BW_BASE"],
    )
    try:
        result = getattr(client, method)(**kwargs)
        # Lists come back lazily (generators, `map` objects): read them whole.
        if isinstance(result, (types.GeneratorType, map)):
            result = list(result)
    except Exception as e:  # the SDK raises its own exception types
        print(json.dumps({"error": {
            "status": getattr(e, "status_code", None),
            "message": getattr(e, "message", str(e)),
            "code": getattr(e, "code", None),
        }}))
        sys.exit(3)
    print(json.dumps({"result": result}, default=str))


main()
