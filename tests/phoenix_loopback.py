"""Run Arize Phoenix (a real OTLP receiver) bound to 127.0.0.1 only.

Phoenix binds its HTTP server to PHOENIX_HOST but its OTLP/gRPC server to
every interface ("[::]:port"); tests may listen on loopback only, so the
gRPC bind is rewritten to 127.0.0.1 before Phoenix starts.
Usage: python tests/phoenix_loopback.py serve   (PHOENIX_* env as usual)
"""

from __future__ import annotations

import sys

from grpc.aio import _server


def _loopback(add):
    def bind(self, address, *args, **kwargs):
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address[5:]
        return add(self, address, *args, **kwargs)

    return bind


_server.Server.add_insecure_port = _loopback(_server.Server.add_insecure_port)
_server.Server.add_secure_port = _loopback(_server.Server.add_secure_port)

from phoenix.server.main import main  # noqa: E402

if __name__ == "__main__":
    sys.argv[0] = "phoenix"
    sys.exit(main())
