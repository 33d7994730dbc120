"""``make bench`` in miniature: the benchmarks run, and the properties they report hold.

Tiny sizes, and assertions on behaviour (calls per delivery, calls per event, what the run
writes), never on speed: timings on a shared CI machine prove nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import bench.__main__ as bench_main
import pytest
from bench import ingest_bench, worker_bench
from bench.ingest_bench import Offender, find_offenders, parse_importtime


def test_ingest_makes_one_send_message_batch_per_ten_events_and_measures_the_cold_start() -> None:
    result = ingest_bench.measure(
        invocations=2, import_runs=1, sizes=(1, 10, 25), warmups=1, prime_imports=False
    )
    assert [(s.events, s.sqs_calls) for s in result.sizes] == [(1, 1), (10, 1), (25, 3)]
    for size in result.sizes:
        assert size.sqs_calls == math.ceil(size.events / 10)
        assert len(size.totals) == len(size.sqs_times) == 2
        assert all(inside <= total for inside, total in zip(size.sqs_times, size.totals, strict=True))
    assert result.cold is not None
    assert len(result.cold.boto3_runs) == len(result.cold.floor_runs) == len(result.cold.handler_runs) == 1
    assert result.cold.ratio > 0
    assert result.cold.floor_ratio is not None and result.cold.floor_ratio > 0
    if not result.cold.meets_goal:
        assert result.cold.offenders, "a missed goal must name what the handler imports"
    section = ingest_bench.render(result)
    assert section.startswith("### Ingest handler")
    assert "| 25 | 3 ✅ |" in section
    assert "floor: the libraries issue 2 prescribes" in section


def test_worker_calls_per_event_stay_within_the_issue_goals() -> None:
    result = worker_bench.measure(users=2)
    create = result.scenario("create (unknown user)")
    assert 1 <= create.teamviewer_max <= 2
    for name in ("rename (mapped user)", "email change (mapped user)", "deactivate (mapped user)"):
        assert 1 <= result.scenario(name).teamviewer_max <= 2, name
    duplicate = result.scenario("duplicate (redelivered event)")
    assert duplicate.events == 4, "the redelivered events reached the handler"
    assert (duplicate.teamviewer_max, duplicate.okta_max, duplicate.teamviewer_mean) == (0, 0, 0.0)
    for scenario in result.scenarios:
        assert scenario.okta_max <= 2, scenario.name
        assert scenario.meets_goals, scenario.name
        assert len(scenario.single) == 2, "one event per invocation in the single mode"
    assert "### Worker" in worker_bench.render(result)


def test_find_offenders_names_new_packages_and_who_imported_them() -> None:
    # -X importtime prints children first, one level deeper than their importer.
    handler = parse_importtime(
        "python startup noise\n"
        "bench: import starts\n"
        "import time:       100 |        100 |       botocore.x\n"
        "import time:      3000 |       3000 |         httpx._client\n"
        "import time:      1000 |       4000 |       httpx\n"
        "import time:       500 |       4500 |     tvsync.adapters.http\n"
        "import time:       200 |       4800 |   tvsync.wiring\n"
        "import time:      7000 |      12000 | app\n"
    )
    baseline = parse_importtime("bench: import starts\nimport time:  100 |   100 | botocore.x\n")
    offenders = find_offenders(handler, baseline)
    assert offenders[0] == Offender("httpx", 0.004, 2, ("app", "tvsync.wiring", "tvsync.adapters.http"))
    assert {o.name for o in offenders} == {"httpx", "tvsync.adapters.http", "tvsync.wiring"}


def test_no_write_prints_and_leaves_the_docs_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "benchmarks.md"
    monkeypatch.setattr(bench_main, "DOCS", docs)
    args = [
        "--only",
        "ingest",
        "--ingest-invocations",
        "1",
        "--ingest-sizes",
        "3",
        "--ingest-import-runs",
        "0",
    ]
    assert bench_main.main([*args, "--no-write"]) == 0
    assert "### Ingest handler" in capsys.readouterr().out
    assert not docs.exists()

    docs.write_text("# Benchmarks\n", encoding="utf-8")
    assert bench_main.main(args) == 0
    written = docs.read_text(encoding="utf-8")
    assert written.startswith("# Benchmarks\n")
    assert "## Run of " in written and "Command: `python -m bench --only ingest" in written
    assert "### Ingest handler" in written and "| 3 | 1 ✅ |" in written
