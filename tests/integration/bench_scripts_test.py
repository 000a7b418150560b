#!/usr/bin/env python3
"""The front door of the bench scripts (bench/goals.sh, bench/fleet.sh):
--help teaches the usage and exits 0; an argument that is not a positive
integer is refused with a usage line and exit 2; a build directory
without the benches is refused with exit 2 before anything runs. Nothing
is measured here (tests never time anything): the benches themselves are
run by hand, docs/performance.md.

Usage: bench_scripts_test.py PATH/TO/SOURCE-TREE
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checks  # noqa: E402
from checks import check  # noqa: E402

ROOT = sys.argv[1]


def run(script, *args, build_dir=None):
    env = dict(os.environ)
    if build_dir is not None:
        env["BUILD_DIR"] = build_dir
    return subprocess.run(["bash", os.path.join(ROOT, "bench", script), *args], capture_output=True, text=True,
                          env=env, timeout=60)


with tempfile.TemporaryDirectory() as empty:
    for script, usage, args_ok in (("goals.sh", "bench/goals.sh [RUNS]", ["1"]),
                                   ("fleet.sh", "bench/fleet.sh [DEVICES] [THREADS]", ["10", "2"])):
        for flag in ("--help", "-h"):
            r = run(script, flag, build_dir=empty)
            check(r.returncode == 0, f"{script} {flag}: exit 0 (got {r.returncode}: {r.stderr})")
            check(usage in r.stdout, f"{script} {flag}: prints its usage ({r.stdout[:200]!r})")
            check("set -euo" not in r.stdout and "#" not in r.stdout.splitlines()[0],
                  f"{script} {flag}: prints the header's text, not the script")
        bad = [["0"], ["-1"], ["x"], ["1.5"], ["01"], ["2x"]]
        if script == "fleet.sh":
            bad += [["10", "0"], ["10", "y"], ["0", "16"]]
        for args in bad:
            # With an empty BUILD_DIR, an argument taken by mistake would
            # stop at the build check, not run a bench (its message differs).
            r = run(script, *args, build_dir=empty)
            check(r.returncode == 2, f"{script} {args}: refused with exit 2 (got {r.returncode})")
            check(f"usage: bench/{script}" in r.stderr, f"{script} {args}: says its usage ({r.stderr!r})")
            check(r.stdout == "", f"{script} {args}: runs nothing ({r.stdout[:200]!r})")
        # A build directory without the benches: refused before anything runs.
        r = run(script, *args_ok, build_dir=empty)
        check(r.returncode == 2, f"{script} with an empty BUILD_DIR: exit 2 (got {r.returncode}: {r.stderr})")
        check("build the release preset first" in r.stderr,
              f"{script} with an empty BUILD_DIR: says to build first ({r.stderr!r})")
        check(r.stdout == "" and "==" not in r.stderr, f"{script} with an empty BUILD_DIR: runs nothing")

sys.exit(checks.summary("bench_scripts_test"))
