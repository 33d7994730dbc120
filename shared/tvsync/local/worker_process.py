"""One WorkerFunction execution environment in its own process, fed by the SQS event source.

Lambda runs each concurrent instance in its own sandbox; the local stack does the same with
processes, which also lets instances use every core instead of sharing one interpreter.
The process prints the function's JSON logs on stdout — the parent reads them as CloudWatch
Logs would — and stops after its current batch on SIGTERM, SIGINT or SIGHUP, and when the
parent closes its stdin or ends in any way, SIGKILL included (``tvsync.local.lifeline``).

Usage (by ``LocalStack``): ``python -m tvsync.local.worker_process '<json settings>'`` with
the function's environment already in the process environment.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

from tvsync.local.aws import local_session
from tvsync.local.event_source import SqsEventSource
from tvsync.local.functions import load_function
from tvsync.local.lifeline import hold
from tvsync.local.template import load_template


def main(argv: list[str]) -> int:
    settings = json.loads(argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if hasattr(signal, "SIGHUP"):  # the terminal of `tvsync serve` was closed: finish the batch
        signal.signal(signal.SIGHUP, lambda *_: stop.set())
    hold()  # SIGTERM when the parent closes our stdin or dies
    function = load_function(load_template(), "WorkerFunction", dict(os.environ))
    sqs = local_session(settings["region"]).client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    source = SqsEventSource(
        sqs=sqs,
        queue_url=settings["queue_url"],
        queue_arn=settings["queue_arn"],
        handler=function.invoke,
        batch_size=int(settings["batch_size"]),
        region=settings["region"],
    )
    print(json.dumps({"message": "worker ready", "pid": os.getpid()}), flush=True)
    source.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
