"""carve analyze against grimp and pydeps on Django's own source tree, in one run.

    .venv/bin/python benchmarks/analyzer.py [--repeat N] [--tree PATH]

Copies the tree to a temporary folder, then times (wall clock, each as its own process, the
median of N runs; the machine is shared, so medians):

- carve cold: empty cache; carve warm: nothing changed (the result cache answers);
  carve warm, facts only: the result cache emptied, every file's facts from the cache;
  carve one touched: one file touched (new mtime, same content: contents are hashed);
  carve one changed: a comment line appended to one file before each run (one parse, and the
  graph, clustering, metrics and report computed afresh); carve one changed (imports): an
  import of another Django module appended instead, so that the graph itself changes too
  (a new site on an edge each run: its weight changes, so the clustering runs again);
- grimp.build_graph without and with its cache; pydeps --show-deps --no-output.

Prints one JSON object: wall-clock and CPU seconds (user + system, worker processes
included; steadier than wall time on a busy machine), the ratios the targets are about (wall
clock), and whether each target holds (cold <= pydeps, warm <= 2 x grimp cached, one changed
<= 2 x warm; the imports variant is reported beside it, without a target).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
CHANGED_FILE = "db/models/query_utils.py"
IMPORTED_MODULE = "utils.text"  # under the tree's package; query_utils.py does not import it


CPU: list[float] = []  # CPU seconds (user + system, children included) of the last run


def timed(command: list[str], *, env: dict[str, str], cwd: Path) -> float:
    """Wall-clock seconds of one run; its CPU seconds go to CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def interleaved(
    repeat: int, runs: dict[str, Callable[[int], float]]
) -> dict[str, tuple[float, float]]:
    """Median wall-clock and CPU seconds of each run, taking turns so that all of them see
    the same moments of a busy machine."""
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(repeat):
        for name, run in runs.items():
            walls[name].append(run(i))
            cpus[name].append(CPU[-1])
    return {
        name: (round(statistics.median(walls[name]), 3), round(statistics.median(cpus[name]), 3))
        for name in runs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    parser.add_argument("--tree", type=Path, help="the package to analyse (default: Django)")
    args = parser.parse_args()
    if args.tree is None:
        import django

        args.tree = Path(django.__file__).parent
    with tempfile.TemporaryDirectory(prefix="carve-bench-") as scratch_name:
        scratch = Path(scratch_name)
        src = scratch / "src"
        tree = src / args.tree.name
        shutil.copytree(args.tree, tree, ignore=shutil.ignore_patterns("__pycache__"))
        # the scratch tree first; a PYTHONPATH of the caller's (a worktree's code) stays after it
        path = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        carve = [str(BIN / "carve"), "analyze", str(tree)]

        def carve_env(cache: Path) -> dict[str, str]:
            return {**env, "CARVE_CACHE_DIR": str(cache)}

        def cold(i: int) -> float:
            return timed(carve, env=carve_env(scratch / f"cold-{i}"), cwd=scratch)

        warm_cache = scratch / "warm"
        timed(carve, env=carve_env(warm_cache), cwd=scratch)

        def warm(_: int) -> float:
            return timed(carve, env=carve_env(warm_cache), cwd=scratch)

        def facts_only(_: int) -> float:
            for version in warm_cache.glob("v*"):  # whichever cache format is current
                shutil.rmtree(version / "results", ignore_errors=True)
            return timed(carve, env=carve_env(warm_cache), cwd=scratch)

        changed_path = tree / CHANGED_FILE

        def touched(_: int) -> float:
            changed_path.touch()  # a new mtime, the same content
            return timed(carve, env=carve_env(warm_cache), cwd=scratch)

        def one_changed(i: int) -> float:
            with changed_path.open("a") as handle:
                handle.write(f"\n# carve benchmark edit {i}\n")
            return timed(carve, env=carve_env(warm_cache), cwd=scratch)

        def one_changed_imports(_: int) -> float:
            with changed_path.open("a") as handle:
                handle.write(f"\nimport {args.tree.name}.{IMPORTED_MODULE}\n")
            return timed(carve, env=carve_env(warm_cache), cwd=scratch)

        grimp_cache = scratch / "grimp-cache"
        grimp = [
            str(BIN / "python"),
            "-c",
            f"import grimp, sys; grimp.build_graph({args.tree.name!r}, cache_dir=sys.argv[1])",
        ]
        timed([*grimp, str(grimp_cache)], env=env, cwd=scratch)
        grimp_nocache = [
            str(BIN / "python"),
            "-c",
            f"import grimp; grimp.build_graph({args.tree.name!r}, cache_dir=None)",
        ]
        pydeps = [str(BIN / "pydeps"), args.tree.name, "--show-deps", "--no-output"]

        measured = {
            **interleaved(
                args.repeat,
                {"carve_cold": cold, "pydeps": lambda _: timed(pydeps, env=env, cwd=src)},
            ),
            **interleaved(
                args.repeat,
                {
                    "carve_warm": warm,
                    "carve_one_touched": touched,
                    "carve_one_changed": one_changed,
                    "carve_one_changed_imports": one_changed_imports,
                    "carve_warm_facts_only": facts_only,
                    "grimp_cached": lambda _: timed([*grimp, str(grimp_cache)], env=env, cwd=src),
                    "grimp_no_cache": lambda _: timed(grimp_nocache, env=env, cwd=src),
                },
            ),
        }
        files = sum(1 for _ in tree.rglob("*.py"))
    results = {name: wall for name, (wall, _) in measured.items()}
    cpu = {name: seconds for name, (_, seconds) in measured.items()}
    ratios = {
        "cold_over_pydeps": round(results["carve_cold"] / results["pydeps"], 2),
        "warm_over_grimp_cached": round(results["carve_warm"] / results["grimp_cached"], 2),
        "one_changed_over_warm": round(results["carve_one_changed"] / results["carve_warm"], 2),
        "one_changed_imports_over_warm": round(
            results["carve_one_changed_imports"] / results["carve_warm"], 2
        ),
        "one_touched_over_warm": round(results["carve_one_touched"] / results["carve_warm"], 2),
        "facts_only_over_grimp_cached": round(
            results["carve_warm_facts_only"] / results["grimp_cached"], 2
        ),
        "one_changed_over_facts_only": round(
            results["carve_one_changed"] / results["carve_warm_facts_only"], 2
        ),
    }
    targets = {
        "cold_no_slower_than_pydeps": ratios["cold_over_pydeps"] <= 1,
        "warm_within_2x_grimp_cached": ratios["warm_over_grimp_cached"] <= 2,
        "one_changed_within_2x_warm": ratios["one_changed_over_warm"] <= 2,
    }
    report = {
        "tree": args.tree.name,
        "python_files": files,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": results,
        "cpu_seconds": cpu,
        "ratios": ratios,
        "targets": targets,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
