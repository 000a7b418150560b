#!/usr/bin/env python3
"""Runs the full demo fleet (real all-in-one server process, debug logs)
and checks that no key appears in any log or output, in hex (either case)
or base64: every device's Ke, Km and Kpsa, every Kpm of the factory list,
and the servers' key-encryption keys. Also checks that the demo onboarded
every device and that its --json summary is well formed. With --work-dir
the devices write state files (read here for their keys); without it they
hold their state in memory, which a second, smaller run checks: every
device onboarded.

Not covered here: Kc. Each association's Kc comes from a TLS exporter
inside the demo process and is never written to a file, so this test has
no value to look for. protocol_examples_test.py covers it: it runs its
own Entity-A sessions with openssl s_client, so it knows every Kc the
MAF and Entity B handle, and scans their debug logs for it.

Usage: demo_logs_test.py PATH/TO/m2msec [DEVICES]
"""
import base64
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proc_watch  # noqa: E402
import checks  # noqa: E402
from checks import check  # noqa: E402

M2MSEC = sys.argv[1]
DEVICES = int(sys.argv[2]) if len(sys.argv) > 2 else 30


def forms(hex_key):
    raw = bytes.fromhex(hex_key)
    return {hex_key.lower(), hex_key.upper(), base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def memory_run():
    """A demo without --work-dir: the devices keep their state in memory
    (client::DeviceCredentials), including the KmID the MAF assigns, and
    still all onboard."""
    n = 12
    p = subprocess.run([M2MSEC, "demo", "--devices", str(n), "--threads", "4", "--json"],
                       capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"memory demo exit {p.returncode}: {p.stderr[-500:]}")
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    check(summary["ok"] == n and summary["failed"] == 0 and summary.get("device_state") == "memory",
          f"memory demo summary {summary}")
    # The fleet figures are the phases' own, combined (no timing asserted):
    # devices per second of the two phases' wall time, and the server CPU
    # of a bootstrap plus an association.
    boot, assoc = summary["phases"]["bootstrap"], summary["phases"]["associate"]
    walls = boot["wall_s"] + assoc["wall_s"]
    check(walls > 0 and abs(summary.get("onboardings_per_s", -1) - n / walls) < 1e-6 * max(1.0, n / walls),
          f"onboardings_per_s {summary.get('onboardings_per_s')} against {n} / {walls}")
    # Both phases measure the server's CPU, so both figures are always there.
    check("server_cpu_ms_per_op" in boot and "server_cpu_ms_per_op" in assoc
          and abs(summary.get("server_cpu_ms_per_device", -1) - boot["server_cpu_ms_per_op"]
                  - assoc["server_cpu_ms_per_op"]) < 1e-9, f"server_cpu_ms_per_device in {summary}")
    # The same CPU split by the role whose threads spent it: the MEF's
    # threads work in the bootstrap, the MAF's and Entity B's in the
    # association (thread names "mef-tls-io", "maf-worker", ...; with the
    # names lost every share would be "other").
    for name, ph, busy in (("bootstrap", boot, ("mef",)), ("associate", assoc, ("maf", "cse"))):
        roles = ph.get("server_cpu_ms_per_op_by_role", {})
        check(set(roles) == {"mef", "maf", "cse", "other"} and min(roles.values()) >= 0
              and all(roles[r] > 0 for r in busy), f"{name} server CPU by role: {roles}")
    reports = proc_watch.sanitizer_reports(p.stdout + p.stderr)
    check(not reports, f"memory demo has sanitizer reports: {reports[:3]}")


def one_kind_runs():
    """--<kind>-every 1 makes every device that kind (the others 0)."""
    n = 4
    for flag, kinds in (("--kpsa-every", {"kpsa"}), ("--gba-every", {"gba_maf", "gba_saef"}),
                        ("--cert-every", {"cert"})):
        args = {"--kpsa-every": "0", "--cert-every": "0", "--gba-every": "0", "--coap-every": "0", flag: "1"}
        cmd = [M2MSEC, "demo", "--devices", str(n), "--threads", "2", "--json"]
        for k, v in args.items():
            cmd += [k, v]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, f"demo {flag} 1: exit {p.returncode}: {p.stderr[-500:]}")
        if p.returncode != 0:
            continue
        fw = json.loads(p.stdout.strip().splitlines()[-1])["frameworks"]
        check(sum(fw[k] for k in kinds) == n and sum(fw.values()) == n, f"demo {flag} 1: frameworks {fw}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "demo")
        p = subprocess.run([M2MSEC, "demo", "--devices", str(DEVICES), "--work-dir", work,
                            "--server-log-level", "debug", "--threads", "8", "--json"],
                           capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, f"demo exit {p.returncode}: {p.stderr[-500:]}")
        summary = json.loads(p.stdout.strip().splitlines()[-1])
        check(summary["devices"] == DEVICES and summary["ok"] == DEVICES and summary["failed"] == 0,
              f"summary {summary}")
        for phase in ("bootstrap", "associate"):
            ph = summary["phases"][phase]
            check(ph["count"] == DEVICES and ph["failed"] == 0 and ph["max_ms"] >= ph["p99_ms"] >= ph["p50_ms"] > 0,
                  f"phase {phase}: {ph}")
        check(sum(summary["frameworks"].values()) == DEVICES and min(summary["frameworks"].values()) > 0,
              f"framework mix {summary['frameworks']}")
        check(summary.get("device_state") == "files", f"device_state {summary.get('device_state')}")
        check(len(glob.glob(os.path.join(work, "devices", "*", "state.json"))) == DEVICES, "one state.json per device")

        secrets = set()
        for path in glob.glob(os.path.join(work, "devices", "*", "*.key")):
            check(oct(os.stat(path).st_mode & 0o777) == "0o600", f"{path} mode")
            secrets |= forms(open(path).read().strip())
        for path in glob.glob(os.path.join(work, "*", "kek.hex")):
            secrets |= forms(open(path).read().strip())
        with open(os.path.join(work, "factory.csv")) as f:
            next(f)
            for line in f:
                kpm = line.split(",")[2]
                if kpm:
                    secrets |= forms(kpm)
        check(len(secrets) >= 4 * DEVICES, f"collected {len(secrets)} secret forms")

        logs = {"demo stdout": p.stdout, "demo stderr": p.stderr,
                "server.log": open(os.path.join(work, "server.log"), errors="replace").read()}
        check(len(logs["server.log"]) > 1000, "server.log has debug content")
        for name, text in logs.items():
            leaked = [s for s in secrets if s in text]
            check(not leaked, f"{name} contains {len(leaked)} key forms")
            # The demo's server and clients run under the sanitizers in CI:
            # a report in any of their output fails the test.
            reports = proc_watch.sanitizer_reports(text)
            check(not reports, f"{name} has sanitizer reports: {reports[:3]}")
        memory_run()
        one_kind_runs()
    return checks.summary("demo_logs_test")


if __name__ == "__main__":
    sys.exit(main())
