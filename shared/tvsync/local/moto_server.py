"""Embedded AWS's server process: moto's server, with DynamoDB's writes atomic.

Usage (by ``LocalStack``): ``python -m tvsync.local.moto_server -H 127.0.0.1 -p PORT``,
moto's own arguments (``tvsync.local.moto_atomic`` says why the writes need a lock).
"""

from __future__ import annotations

from moto.server import main

from tvsync.local.moto_atomic import make_dynamodb_writes_atomic

if __name__ == "__main__":
    make_dynamodb_writes_atomic()
    main()
