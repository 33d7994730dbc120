"""The worker throughput benchmark in miniature: both runs converge every user, at the same cost.

Behaviour only — which runs, how many events, calls per event, what the section says —
never the speed-up itself: timings on a shared machine prove nothing.
"""

from __future__ import annotations

from dataclasses import replace

from bench import worker_bench


def test_one_at_a_time_and_side_by_side_converge_the_same_users_for_the_same_calls() -> None:
    result = worker_bench.ThroughputResult(
        before=worker_bench.measure_throughput(users=4, concurrency=1, okta_latency=0, teamviewer_latency=0),
        after=worker_bench.measure_throughput(users=4, concurrency=4, okta_latency=0, teamviewer_latency=0),
    )
    for run in (result.before, result.after):
        assert run.events == 4
        assert (run.okta_per_event, run.teamviewer_per_event) == (2.0, 1.0)
        assert run.seconds > 0
    assert (result.before.concurrency, result.after.concurrency) == (1, 4)
    section = worker_bench.render_throughput(result)
    assert section.startswith("#### Worker throughput per instance")
    assert "| 1 (one after another) | 4 |" in section
    assert "the events per second of one record at a time (goal ≥ 3x)" in section
    empty = worker_bench.WorkerResult(users=0, scenarios=())
    assert "Worker throughput" in worker_bench.render(replace(empty, throughput=result))
    assert "Worker throughput" not in worker_bench.render(empty)
