"""``make bench`` in miniature: the benchmarks run, and the properties they report hold.

Tiny sizes, and assertions on behaviour (calls per delivery, calls per event, what the run
writes), never on speed: timings on a shared CI machine prove nothing.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import bench.__main__ as bench_main
import pytest
from bench import groups_bench, ingest_bench, reconcile_bench, worker_bench
from bench.common import embedded_aws
from bench.ingest_bench import Offender, find_offenders, parse_importtime

from tests.conftest import ROOT
from tvsync.local.api_gateway import MAX_LAMBDA_PAYLOAD, lambda_payload_bytes


def test_ingest_makes_one_send_message_batch_per_ten_events_and_measures_the_cold_start() -> None:
    result = ingest_bench.measure(
        invocations=2, import_runs=1, sizes=(1, 10, 25), warmups=1, prime_imports=False
    )
    # 25 events of 25 users: three lanes of 9, 8 and 8, one call each.
    assert [(s.events, s.sqs_calls) for s in result.sizes] == [(1, 1), (10, 1), (25, 3)]
    for size in result.sizes:
        assert size.sqs_calls == size.expected_calls == math.ceil(size.events / 10)
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
    assert "floor: the libraries this path is built on" in section


def test_worker_calls_per_event_stay_within_their_goals() -> None:
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


def test_group_benchmarks_hold_their_call_counts_in_miniature(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench --only groups`` at tiny sizes: one member call per membership event
    once linked, ⌈N/100⌉ member calls for an initial push, and the seeded group drift found."""
    args = [
        "--only",
        "groups",
        "--groups-membership-users",
        "4",
        "--groups-push-members",
        "250",
        "--groups-reconcile-groups",
        str(groups_bench.DRIFT_EVERY),
        "--groups-reconcile-members",
        "12",
        "--groups-reconcile-users",
        "100",
        "--no-write",
    ]
    assert bench_main.main(args) == 0
    section = capsys.readouterr().out.split("### Groups", 1)[1]
    assert "| TeamViewer calls on groups / event | 1 (1.00) | ≤ 1 ✅ |" in section
    assert "8 `group.user_membership.add|remove` requests" in section
    assert "| member calls (POST …/members) | 3 = ⌈250/100⌉ ✅ |" in section
    assert "add members (POST …/members) 3" in section and "create group 1" in section
    assert (
        "| group drift found (= seeded ✅) | members-extra 1, members-missing 1, name-differs 1, "
        "not-linked 1, role-differs 1 |"
    ) in section
    assert "| groups checked / drifted | 20 / 5 |" in section
    assert "| users drifted | 0 (seeded in step) |" in section


def test_reconcile_finds_the_seeded_drift_and_asks_okta_about_unclaimed_accounts_in_batches() -> None:
    # measure() fails unless every drift count matches the seed.
    measured = reconcile_bench.measure(400, okta_latency=0.0, tv_latency=0.0, unclaimed_share=0.1)
    assert measured.seeded.unclaimed == 40
    # The token owner's account is unclaimed too; at most 50 emails a search.
    assert measured.calls["okta_searches"] == math.ceil((measured.seeded.unclaimed + 1) / 50)
    assert measured.calls["okta_user_reads"] == 0
    assert measured.calls["tv_pages"] == math.ceil(measured.seeded.teamviewer_users / 100)
    section = reconcile_bench.render([measured], command="c", latency=(0.0, 0.0), okta_side_mb=1.0)
    assert section.startswith("### Reconcile at scale") and "Why TeamViewer is the side held" in section


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


def test_results_go_to_the_results_file_never_the_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = ROOT / "docs" / "benchmarks.md"
    curated = docs.read_bytes()
    default = tmp_path / "default" / "benchmarks.md"
    monkeypatch.setattr(bench_main, "RESULTS", default)
    args = [
        "--only",
        "ingest",
        "--ingest-invocations",
        "1",
        "--ingest-sizes",
        "3",
        "--ingest-import-runs",
        "0",
        "--ingest-capacity",
        "none",
        "--no-ingest-hanging",
    ]
    assert bench_main.main([*args, "--no-write"]) == 0
    assert "### Ingest handler" in capsys.readouterr().out
    assert not default.parent.exists()

    assert bench_main.main(args) == 0
    written = default.read_text(encoding="utf-8")
    assert written.startswith("\n## Run of ")
    assert "Command: `python -m bench --only ingest" in written
    assert "### Ingest handler" in written and "| 3 | 1 ✅ |" in written

    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text("# Mine\n", encoding="utf-8")
    assert bench_main.main([*args, "--results", str(elsewhere)]) == 0
    assert elsewhere.read_text(encoding="utf-8").startswith("# Mine\n\n## Run of ")
    assert default.read_text(encoding="utf-8") == written, "one run, one file"
    assert docs.read_bytes() == curated


def test_by_default_results_stay_out_of_version_control() -> None:
    assert bench_main.RESULTS == ROOT / ".tvsync" / "benchmarks.md"
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run([git, "check-ignore", "-q", str(bench_main.RESULTS)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "make bench would leave the checkout dirty"


def test_the_capacity_search_brackets_the_largest_delivery_and_checks_each_users_order() -> None:
    with embedded_aws(secrets={"OktaHookSecret": ingest_bench.HOOK_SECRET}) as aws:
        # Tiny: calls of 1 ms, and the search stops doubling at 40 events.
        capacity = ingest_bench.measure_capacity(
            aws, 4, seconds=0.001, start=10, ceiling=40, platform_events=15
        )
        hanging = ingest_bench.measure_hanging(aws)
    assert [(t.events, t.status) for t in capacity.trials] == [(10, 200), (20, 200), (40, 200)]
    assert capacity.events == 40 and capacity.smallest_missed is None
    alone = capacity.at_platform
    assert alone is not None and (alone.events, alone.status, alone.received) == (15, 200, 15)
    assert all(t.max_in_flight <= 4 for t in capacity.trials)
    # 40 events of 14 users (13 with 3, one with 1): lanes of 12, 10, 9 and 9, five calls.
    assert capacity.trials[-1].calls == 5
    assert hanging.status == 503
    samples = ingest_bench.provisioning_samples()
    platform = ingest_bench.platform_limit(samples)
    over = ingest_bench.apigw_post(ingest_bench.bulk_delivery(platform.events + 1, 0, samples).body)
    assert platform.event_bytes <= MAX_LAMBDA_PAYLOAD < lambda_payload_bytes(over)
    assert platform.body_limit_events >= platform.events
    result = ingest_bench.IngestResult(sizes=(), capacity=(capacity,), platform=platform, hanging=hanging)
    section = ingest_bench.render(result)
    assert "none up to 40" in section and "answered 503 after" in section
