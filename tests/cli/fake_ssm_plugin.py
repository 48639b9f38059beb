"""A stand-in for AWS's session-manager-plugin: takes the arguments the AWS CLI passes and really forwards the port.

Installed first on PATH by tests/cli/test_tunnel*.py. Instead of a WebSocket to Session Manager it relays each
connection on the local port to FAKE_SSM_FORWARD (host:port, a real local PostgreSQL). FAKE_SSM_MODE=exit makes it
fail at once, FAKE_SSM_MODE=silent makes it run without ever opening the port. Each start is recorded as a JSON
line in FAKE_SSM_RECORD (the session token is only checked, never recorded).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _relay(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
    _pipe(client, upstream)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--version"]:
        print(os.environ.get("FAKE_SSM_PLUGIN_VERSION", "1.2.707.0"))
        return 0
    if len(argv) != 7:
        print(f"unexpected arguments: {len(argv) - 1}", file=sys.stderr)
        return 2
    response_argument, region, operation, profile, parameters_json, endpoint = argv[1:]
    from_env = response_argument in os.environ
    response = json.loads(os.environ[response_argument] if from_env else response_argument)
    if not all(response.get(key) for key in ("SessionId", "TokenValue", "StreamUrl")):
        print("the StartSession response lacks SessionId, TokenValue or StreamUrl", file=sys.stderr)
        return 2
    parameters = json.loads(parameters_json)
    forwarded = parameters["Parameters"]
    local_port = int(forwarded["localPortNumber"][0])
    with open(os.environ["FAKE_SSM_RECORD"], "a") as record:
        entry = {
            "pid": os.getpid(),
            "session_id": response["SessionId"],
            "response_from_env": from_env,
            "region": region,
            "operation": operation,
            "profile": profile,
            "endpoint": endpoint,
            "target": parameters["Target"],
            "document": parameters["DocumentName"],
            "host": forwarded["host"][0],
            "port": forwarded["portNumber"][0],
            "local_port": local_port,
        }
        record.write(json.dumps(entry) + "\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"\nStarting session with SessionId: {response['SessionId']}", flush=True)
    mode = os.environ.get("FAKE_SSM_MODE", "forward")
    if mode == "exit":
        print("----------ERROR-------\nUnable to start session: the data channel was refused", flush=True)
        return 1
    if mode == "silent":
        signal.pause()
        return 0
    host, _, port = os.environ["FAKE_SSM_FORWARD"].rpartition(":")
    listener = socket.create_server(("127.0.0.1", local_port))
    print(f"Port {local_port} opened for sessionId {response['SessionId']}.\nWaiting for connections...", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_relay, args=(client, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
