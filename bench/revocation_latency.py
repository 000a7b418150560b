#!/usr/bin/env python3
"""revocation_latency.py [M2MSEC] [SAMPLES]: how long a revocation takes to reach every holder.

Issue 11: "revocation is effective at every role within 1 s". Real
"m2msec mef|maf|cse serve" processes on loopback (the integration tests'
saef_harness.py, release build by default), default revocation_poll_ms
(250). Per sample, a device holds a session at Entity B, sending a request
every 20 ms ("associate --repeat --interval-ms 20"); the operator command
runs; the figure is the time from the command's exit (its write is then
committed) to the device seeing Entity B end its session, which happens
only after every holder on the way has acted:

  * remove:  "mef enrolee remove" -> the MAF reads the MEF's feed, revokes
             Km (and the entity's Kc) -> Entity B reads the MAF's feed,
             drops Kc, closes the session (two feeds in a row);
  * revoke:  "maf revoke --entity" -> Entity B reads the MAF's feed (one);
  * rotate:  "mef enrolee rotate" of a Kpsa device -> Entity B reads the
             MEF's feed, drops Kpsa (one).

The resolution is the 20 ms request interval. Prints a table, then one
JSON line: {"bench":"revocation_latency", "<case>_p50_ms", "<case>_max_ms", ...}.

    cmake --preset release && cmake --build --preset release --target m2msec
    bench/revocation_latency.py build/release/m2msec 10
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from saef_harness import CSE_ID, Saef, wait_until  # noqa: E402


def grants(h, entity):
    path = os.path.join(h.dir, "cse-audit.jsonl")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for line in f if f'"to":"{entity}"' in line and '"event":"grant"' in line)


def sample(h, state, entity, framework, command):
    before = grants(h, entity)
    p = h.spawn(h.associate_args(state, framework=framework, extra=["--repeat", "3000", "--interval-ms", "20"]))
    if not wait_until(lambda: grants(h, entity) > before, 30, step=0.02):
        raise RuntimeError(f"{entity}: no session at Entity B")
    time.sleep(0.3)
    rc, out, err = h.run(command)
    t0 = time.time()
    if rc != 0:
        raise RuntimeError(f"{' '.join(command[:3])}: {err}")
    while p.poll() is None and time.time() - t0 < 30:
        time.sleep(0.002)
    elapsed = (time.time() - t0) * 1000
    rc, out, err = h.wait(p)
    if rc == 0 or "ended the session" not in err:
        raise RuntimeError(f"{entity}: the session was not ended by Entity B: {err.strip()}")
    return elapsed


def main():
    m2msec = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "release", "m2msec")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    h = Saef(m2msec, "revocation-bench")
    figures = {"remove": [], "revoke": [], "rotate": []}
    try:
        h.start_all()
        for i in range(n):
            st = h.enrol(f"lat-a{i}")
            figures["remove"].append(sample(h, st, f"/lat-a{i}", "maf", [
                "mef", "enrolee", "remove", "--config", h.config, "--enrolee-id", f"/lat-a{i}"]))
            st = h.enrol(f"lat-b{i}")
            figures["revoke"].append(sample(h, st, f"/lat-b{i}", "maf", [
                "maf", "revoke", "--config", h.config, "--entity", f"/lat-b{i}"]))
            st = h.enrol(f"lat-c{i}", target=CSE_ID)
            figures["rotate"].append(sample(h, st, f"/lat-c{i}", "kpsa", [
                "mef", "enrolee", "rotate", "--config", h.config, "--enrolee-id", f"/lat-c{i}"]))
            print(f"sample {i + 1}/{n}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in figures.items()),
                  file=sys.stderr)
    finally:
        for s in list(h.servers):
            s.kill()
    out = {"bench": "revocation_latency", "samples": n, "revocation_poll_ms": 250}
    print("| case | holders in a row | p50 ms | max ms |")
    print("|---|---|---|---|")
    for case, hops in (("remove", 2), ("revoke", 1), ("rotate", 1)):
        v = figures[case]
        out[f"{case}_p50_ms"] = round(statistics.median(v), 1)
        out[f"{case}_max_ms"] = round(max(v), 1)
        print(f"| {case} | {hops} | {out[f'{case}_p50_ms']} | {out[f'{case}_max_ms']} |")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
