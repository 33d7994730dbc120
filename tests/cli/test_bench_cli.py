"""``tvsync bench`` keeps its results to the admin's working directory and its complaints to stderr.

The burst itself is replaced by a canned report here (tests/e2e runs the real one): what is
under test is where the results go, which does not depend on how they were measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tvsync.cli import bench
from tvsync.cli.main import main
from tvsync.local.burst import BurstConfig, BurstReport

PROJECT_RESULTS = ROOT / "docs" / "benchmarks.md"


@pytest.fixture
def canned_burst(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    def run_burst(
        config: BurstConfig, *, on_progress: Callable[[int, int], None] | None = None
    ) -> BurstReport:
        return BurstReport(config=config, events_posted=4, events_applied=4)

    monkeypatch.setattr(bench, "run_burst", run_burst)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_results_go_to_the_working_directory_not_the_projects_docs(
    canned_burst: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = PROJECT_RESULTS.read_bytes()
    assert main(["bench", "--users", "2"]) == 0
    results = canned_burst / ".tvsync" / "benchmarks.md"
    assert "| events posted / applied | 4 / 4 |" in results.read_text(encoding="utf-8")
    assert PROJECT_RESULTS.read_bytes() == before
    assert "results appended to .tvsync/benchmarks.md" in capsys.readouterr().out


def test_results_can_be_sent_anywhere(canned_burst: Path) -> None:
    target = canned_burst / "elsewhere" / "bench.md"
    assert main(["bench", "--users", "2", "--results", str(target)]) == 0
    assert "Pipeline burst" in target.read_text(encoding="utf-8")
    assert not (canned_burst / ".tvsync").exists()


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--users", "0"], "argument --users: must be at least 1"),
        (["--rate", "0"], "argument --rate: must be more than 0"),
        (["--rate", "fast"], "argument --rate: 'fast' is not a number"),
        (["--concurrency", "0"], "argument --concurrency: must be at least 1"),
    ],
)
def test_bad_arguments_are_reported_on_stderr_and_nothing_runs(
    canned_burst: Path, argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", *argv])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert problem in captured.err
    assert not (canned_burst / ".tvsync").exists()


def test_json_prints_the_figures_as_numbers_and_nothing_else_on_stdout(
    canned_burst: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--users", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)  # the whole of stdout is one JSON document
    assert (figures["users"], figures["events_posted"], figures["events_applied"]) == (2, 4, 4)
    assert (figures["events_lost"], figures["dlq_messages"], figures["rate_limit"]) == (0, 0, 20.0)
    assert figures["results_file"] == str(Path(".tvsync/benchmarks.md"))
    assert "| events posted / applied | 4 / 4 |" in (canned_burst / ".tvsync" / "benchmarks.md").read_text()

    assert main(["bench", "--users", "2", "--json", "--no-write"]) == 0
    assert json.loads(capsys.readouterr().out)["results_file"] is None
