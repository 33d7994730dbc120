"""Benchmarks behind ``make bench`` (``python -m bench``); results go to .tvsync/benchmarks.md.

Each benchmark is a module ``bench.<name>_bench`` exposing

- ``run(args: argparse.Namespace) -> str``: measure, and return one markdown section
  (starting with a ``###`` heading) — raise ``bench.common.BenchmarkFailure`` when a
  required property (not a speed) does not hold;
- optionally ``add_arguments(parser: argparse.ArgumentParser) -> None`` for its own
  options, prefixed with the benchmark's name (``--ingest-invocations``) so modules never
  collide.

``bench.__main__`` runs them in ``BENCHMARKS`` order, skipping modules that do not exist.
"""
