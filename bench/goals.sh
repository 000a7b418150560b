#!/usr/bin/env bash
# goals.sh: issue 10's six goals on this machine, each beside its bare
# OpenSSL loop of the same run, and where one exists the ceiling: the bare
# loop doing the least work the goal's operation needs (the exchange and
# the stored row; docs/performance.md "the ceiling"). It runs, RUNS times:
#
#   build/release/bench/bench_maf 3000 16 200   associations, Entity B latency
#   build/release/bench/bench_enrol 12000 16    durable enrolments
#   build/release/m2msec demo --devices 1000    onboardings/s, all kinds
#   bench/fleet.sh 1000 16                      server CPU per device ÷ floor
#
# and prints a table (goal, each run's figure, the ceiling, how many runs
# held) and, as its last line, one JSON object with the same figures.
# About a minute per run on a 2-core machine; progress goes to stderr.
# Release build:
#
#   cmake --preset release && cmake --build --preset release --target m2msec bench_maf bench_enrol bench_tls
#   bench/goals.sh [RUNS]
#
# RUNS (default 1): rounds of all four. BUILD_DIR=DIR measures another
# build (default build/release).
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."
RUNS="${1:-1}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] ||
  { echo "usage: bench/goals.sh [RUNS] (a positive integer; --help for more)" >&2; exit 2; }
BIN="${BUILD_DIR:-build/release}"
for f in m2msec bench/bench_maf bench/bench_enrol bench/bench_tls; do
  [ -x "$BIN/$f" ] || { echo "missing $BIN/$f: build the release preset first (see the header)" >&2; exit 2; }
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
last_json() {  # the last line of a bench's output must be its JSON record
  tail -n 1 "$1" | python3 -c 'import json,sys; json.loads(sys.stdin.read())' 2>/dev/null ||
    { echo "$2 printed no JSON record; its output:" >&2; cat "$1" >&2; exit 1; }
}
for r in $(seq 1 "$RUNS"); do
  echo "== run $r of $RUNS: bench_maf 3000 16 200" >&2
  "$BIN/bench/bench_maf" 3000 16 200 > "$out/maf.$r" 2>&1 || { cat "$out/maf.$r" >&2; exit 1; }
  last_json "$out/maf.$r" bench_maf
  echo "== run $r of $RUNS: bench_enrol 12000 16" >&2
  "$BIN/bench/bench_enrol" 12000 16 > "$out/enrol.$r" 2>&1 || { cat "$out/enrol.$r" >&2; exit 1; }
  last_json "$out/enrol.$r" bench_enrol
  echo "== run $r of $RUNS: m2msec demo --devices 1000" >&2
  "$BIN/m2msec" demo --devices 1000 --json > "$out/demo.$r" 2> "$out/demo-log.$r" ||
    { cat "$out/demo-log.$r" >&2; exit 1; }
  last_json "$out/demo.$r" "m2msec demo"
  echo "== run $r of $RUNS: bench/fleet.sh 1000 16" >&2
  BUILD_DIR="$BIN" bench/fleet.sh 1000 16 > "$out/fleet.$r" 2> "$out/fleet-log.$r" ||
    { cat "$out/fleet-log.$r" "$out/fleet.$r" >&2; exit 1; }
  last_json "$out/fleet.$r" bench/fleet.sh
done

python3 - "$out" "$RUNS" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])


def record(name, r):
    return json.loads(open(f"{out}/{name}.{r}").read().strip().splitlines()[-1])


maf = [record("maf", r) for r in range(1, runs + 1)]
enrol = [record("enrol", r) for r in range(1, runs + 1)]
demo = [record("demo", r) for r in range(1, runs + 1)]
fleet = [record("fleet", r) for r in range(1, runs + 1)]
# name, goal text, at least (True) or at most, goal, figures, ceilings
goals = [
    ("maf_ratio", "bench_maf: associations/s ÷ bare handshakes/s", True, 0.8,
     [m["ratio"] for m in maf], [m["ceiling_ratio"] for m in maf]),
    ("enrol_ratio", "bench_enrol: durable enrolments/s ÷ bare handshakes/s", True, 0.7,
     [e["ratio"] for e in enrol], [e["ceiling_ratio"] for e in enrol]),
    ("cold_ratio", "Entity B, cold KcID: handshake p50 ÷ bare p50", False, 2.0,
     [m["cold_ratio"] for m in maf], None),
    ("warm_ratio", "Entity B, warm KcID: handshake p50 ÷ bare p50", False, 1.2,
     [m["warm_ratio"] for m in maf], None),
    ("demo_onboardings_per_s", "m2msec demo --devices 1000: onboardings/s", True, 500.0,
     [d["onboardings_per_s"] for d in demo], None),
    ("cpu_x_floor", "fleet.sh: server CPU per device ÷ its handshake floor", False, 2.0,
     [f["cpu_x_floor"] for f in fleet], None),
]


def holds(at_least, goal, v):
    return v >= goal if at_least else v <= goal


def fmt(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"


print(f"issue 10's goals, {runs} run(s); bare loop figures from the same run as each figure")
print()
print("| goal | target | figure, each run | ceiling, each run | held |")
print("|---|---|---|---|---|")
record_out = {"bench": "goals", "runs": runs, "figures": {}}
for name, text, at_least, goal, values, ceilings in goals:
    held = sum(holds(at_least, goal, v) for v in values)
    target = (">= " if at_least else "<= ") + fmt(goal)
    ceiling = ", ".join(fmt(c) for c in ceilings) if ceilings else "-"
    print(f"| {text} | {target} | {', '.join(fmt(v) for v in values)} | {ceiling} | {held} of {runs} |")
    entry = {"goal": goal, "at_least": at_least, "values": [round(v, 3) for v in values],
             "median": round(statistics.median(values), 3), "held": held}
    if ceilings:
        entry["ceiling"] = [round(c, 3) for c in ceilings]
        entry["ceiling_held"] = sum(holds(at_least, goal, c) for c in ceilings)
    record_out["figures"][name] = entry
print()
for name, text, at_least, goal, values, ceilings in goals:
    if ceilings and not any(holds(at_least, goal, c) for c in ceilings):
        print(f"{name}: the goal lies above the bare loop's own ceiling in every run")
print()
print("bare OpenSSL loop, each run: bench_maf " + ", ".join(f"{m['bare_per_s']:.0f}/s" for m in maf) +
      "; bench_enrol " + ", ".join(f"{e['bare_per_s']:.0f}/s" for e in enrol) +
      "; fleet.sh TLS-PSK " + ", ".join(f"{f['bare_psk_hs_per_s']}/s" for f in fleet))
record_out["bare_per_s"] = {"bench_maf": [m["bare_per_s"] for m in maf], "bench_enrol": [e["bare_per_s"] for e in enrol],
                            "fleet_psk": [f["bare_psk_hs_per_s"] for f in fleet]}
print(json.dumps(record_out, separators=(",", ":"), ensure_ascii=False))
PY
