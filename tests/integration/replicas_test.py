#!/usr/bin/env python3
"""replicas_test.py M2MSEC ENROL_STORM: 2 MEF + 2 MAF + 2 Entity B on PostgreSQL behind real load balancers.

The topology is scripts/replicas.py's, as a user starts it: a PostgreSQL
cluster with a database per role, two replicas of each role, HAProxy (TCP,
health-checked on /readyz) in front of the TLS listeners and nginx's stream
module (per-client affinity) in front of the DTLS listeners. Devices only
ever see the fronts; the roles reach each other through them too.

- Devices enrol (TLS and DTLS) and associate through the fronts; the work
  lands on both replicas of every role (their /metrics say so), so Km
  fetched by one MAF replica, and Kc registered at one MAF replica and
  retrieved by an Entity B replica through the other, are exercised.
- An enrolee removed through MEF replica 2's CLI: within 1 s its device's
  association is refused through every replica of the MAF (tried until
  both have answered).
- kill -9 of MEF replica 1 during 1000 parallel enrolments through the
  front (enrol_storm): every acknowledged KeID is the enrolee's current
  one in the shared database (0 acknowledged lost), and MEF replica 2
  keeps serving: a device cut off by the kill enrols afterwards.
"""
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts"))
import proc_watch  # noqa: E402
import replicas  # noqa: E402
from replicas import CSE_FQDN, CSE_ID, MAF_FQDN, MEF_FQDN  # noqa: E402

DEVICES = 1000
THREADS = 32
KILL_AFTER = 200
STORM_TIMEOUT = 120


class Test:
    def __init__(self, m2msec, storm):
        self.m2msec = os.path.abspath(m2msec)
        self.storm = os.path.abspath(storm)
        self.passed = self.failed = 0
        self.watch = proc_watch.Watch()
        self.topo = replicas.Topology(self.m2msec, watch=self.watch, log=lambda m: print("--", m, flush=True))

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok:", what, flush=True)
        else:
            self.failed += 1
            print("FAIL:", what, ("-- " + detail) if detail else "", flush=True)
        return cond

    def run(self, args, timeout=60):
        p = subprocess.run([self.m2msec] + args, capture_output=True, text=True, timeout=timeout)
        reports = proc_watch.sanitizer_reports(p.stderr)
        if reports:
            self.check(False, f"no sanitizer report from m2msec {' '.join(args[:2])}", "; ".join(reports))
        return p.returncode, p.stdout, p.stderr

    def secret_file(self, name, text):
        path = os.path.join(self.topo.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def config(self, role, i):
        return self.topo.replicas[role][i - 1].config

    def metric(self, role, i, name, label=""):
        """metric sums the samples of |name| (whose labels contain |label|) on replica i's /metrics."""
        status, body = replicas.http_get(self.topo.replicas[role][i - 1].admin_port, "/metrics")
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name) and (line[len(name)] in " {") and label in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def add_enrolee(self, name, replica=1):
        kpm = self.secret_file(name + ".kpm", secrets.token_hex(32) + "\n")
        rc, _, err = self.run(["mef", "enrolee", "add", "--config", self.config("mef", replica), "--enrolee-id",
                               "/" + name, "--kpm-id", f"{name}@{MEF_FQDN}", "--kpm-file", kpm,
                               "--target", MAF_FQDN])
        if rc != 0:
            raise RuntimeError(f"enrolee add {name}: {err.strip()}")
        return kpm

    def enrol(self, name, kpm, dtls=False):
        args = ["enrol", "--mef", f"127.0.0.1:{self.topo.front['mef']}", "--mef-fqdn", MEF_FQDN, "--kpm-id",
                f"{name}@{MEF_FQDN}", "--kpm-file", kpm, "--maf", MAF_FQDN, "--state",
                os.path.join(self.topo.dir, "dev-" + name), "--timeout-ms", "15000", "--json"]
        if dtls:
            args.append("--dtls")
        return self.run(args)

    def associate(self, name, dtls=False):
        args = ["associate", "--state", os.path.join(self.topo.dir, "dev-" + name), "--cse",
                f"127.0.0.1:{self.topo.front['cse']}", "--cse-fqdn", CSE_FQDN, "--cse-id", CSE_ID,
                "--timeout-ms", "15000", "--json"]
        if dtls:
            args.append("--dtls")
        return self.run(args)

    # -- the test ----------------------------------------------------------------
    def body(self):
        self.topo.start()
        t = self.topo
        self.check(all(r.alive() for role in replicas.ROLES for r in t.replicas[role]), "6 replicas serving")

        # Enrol and associate through the fronts, enough times that round
        # robin reaches both replicas of each role.
        names = [f"d{i}" for i in range(8)]
        kpms = {n: self.add_enrolee(n, replica=1 + i % 2) for i, n in enumerate(names)}
        for i, n in enumerate(names):
            rc, _, err = self.enrol(n, kpms[n], dtls=(i == 3))
            self.check(rc == 0, f"{n} enrols through the MEF front{' (DTLS, nginx)' if i == 3 else ''}", err.strip())
        for i, n in enumerate(names):
            rc, out, err = self.associate(n, dtls=(i == 5))
            self.check(rc == 0, f"{n} associates through the MAF and Entity B fronts{' (DTLS)' if i == 5 else ''}",
                       (err or out).strip()[-400:])
        for role, family in (("mef", "m2msec_sessions_total"), ("maf", "m2msec_sessions_total"),
                             ("cse", "m2msec_sessions_total")):
            counts = [self.metric(role, i, family) for i in (1, 2)]
            self.check(all(c > 0 for c in counts), f"both {role} replicas served sessions", str(counts))
        grants = [self.metric("maf", i, "m2msec_key_grants_total", 'kind="kc"') for i in (1, 2)]
        self.check(sum(grants) >= len(names), "Kc granted by the MAF replicas", str(grants))

        # Each association's connection has ended, on whichever Entity B
        # replica it ran: every Kc is de-registered (per key: the last
        # holder lets it go; docs/protocol.md "Kc holders").
        def kc_left():
            rc, out, err = self.run(["maf", "keys", "--config", self.config("maf", 2), "--json"])
            return json.loads(out)["keys"] if rc == 0 else [{"error": err.strip()}]

        left = replicas.wait_until(lambda: not kc_left(), 10, 0.5)
        self.check(left, "no Kc is left at the MAF once the connections have ended", str(kc_left())[:300])

        # A revocation at MEF replica 2 reaches every MAF replica within 1 s.
        rc, _, err = self.run(["mef", "enrolee", "remove", "--config", self.config("mef", 2), "--enrolee-id", "/d0"])
        self.check(rc == 0, "/d0 removed through MEF replica 2's CLI", err.strip())
        time.sleep(1.0)
        before = [self.metric("maf", i, "m2msec_handshake_failures_total") for i in (1, 2)]
        refused = 0
        for _ in range(6):
            rc, out, err = self.associate("d0")
            refused += rc != 0
        after = [self.metric("maf", i, "m2msec_handshake_failures_total") for i in (1, 2)]
        self.check(refused == 6, "after 1 s, /d0's associations are refused", f"{refused} of 6 refused")
        self.check(all(a > b for a, b in zip(after, before)), "by both MAF replicas (their handshake failures)",
                   f"{before} -> {after}")
        rc, _, err = self.associate("d1")
        self.check(rc == 0, "another device still associates", err.strip()[-300:])

        self.storm_with_kill()

    def storm_with_kill(self):
        t = self.topo
        rows = ["enrolee_id,kpm_id,kpm,target"]
        for i in range(DEVICES):
            rows.append(f"/s-{i:04d},s-{i:04d}@{MEF_FQDN},{secrets.token_hex(32)},{MAF_FQDN}")
        csv = self.secret_file("storm.csv", "\n".join(rows) + "\n")
        rc, _, err = self.run(["mef", "enrolee", "import", "--config", self.config("mef", 1), "--file", csv],
                              timeout=120)
        if not self.check(rc == 0, f"import {DEVICES} devices", err.strip()[:300]):
            return
        err_path = os.path.join(t.dir, "storm.err")
        with open(err_path, "w") as storm_err:
            storm = subprocess.Popen([self.storm, csv, f"127.0.0.1:{t.front['mef']}", MEF_FQDN, MAF_FQDN,
                                      str(THREADS)], stdout=subprocess.PIPE, stderr=storm_err, text=True)
            acked, killed_at = {}, None
            deadline = time.time() + STORM_TIMEOUT
            try:
                while time.time() < deadline:
                    ready, _, _ = select.select([storm.stdout], [], [], 1.0)
                    if not ready:
                        continue
                    line = storm.stdout.readline()
                    if not line:
                        break
                    eid, ke_id = line.split()
                    acked[eid] = ke_id
                    if killed_at is None and len(acked) >= KILL_AFTER:
                        t.replicas["mef"][0].kill(signal.SIGKILL)
                        killed_at = len(acked)
                storm.wait(30)
            finally:
                if storm.poll() is None:
                    storm.kill()
                    storm.wait()
        with open(err_path, errors="replace") as f:
            storm_text = f.read()
        tail = storm_text.strip().splitlines()[-1:]
        print("enrol_storm:", tail[0] if tail else "(no summary)", flush=True)
        self.check(killed_at is not None, f"MEF replica 1 killed (SIGKILL) after {killed_at} acks",
                   f"only {len(acked)} acks")
        self.check(not proc_watch.sanitizer_reports(storm_text), "no sanitizer report from enrol_storm")
        self.check(len(acked) > killed_at + 100 if killed_at else False,
                   f"MEF replica 2 kept serving: {len(acked)} acknowledged in all")
        rc, out, err = self.run(["mef", "enrolee", "list", "--config", self.config("mef", 2), "--limit", "1000",
                                 "--after", "/s-", "--json"])
        current = {}
        if self.check(rc == 0, "list the storm's enrolees through replica 2", err.strip()):
            current = {e["enrolee_id"]: (e["enrolment"] or {}).get("ke_id") for e in json.loads(out)["enrolees"]}
        lost = [f"{eid}: acked {k}, stored {current.get(eid)}" for eid, k in acked.items() if current.get(eid) != k]
        self.check(not lost, f"0 of {len(acked)} acknowledged enrolments lost", "; ".join(lost[:5]))
        left = sorted(set(f"/s-{i:04d}" for i in range(DEVICES)) - set(acked))
        if left:
            eid = left[-1]
            kfile = self.secret_file("late.kpm", rows[int(eid[3:]) + 1].split(",")[2] + "\n")
            rc, _, err = self.run(["enrol", "--mef", f"127.0.0.1:{t.front['mef']}", "--mef-fqdn", MEF_FQDN,
                                   "--kpm-id", f"{eid[1:]}@{MEF_FQDN}", "--kpm-file", kfile, "--maf", MAF_FQDN,
                                   "--state", os.path.join(t.dir, "late"), "--timeout-ms", "15000"])
            self.check(rc == 0, f"{eid}, cut off by the kill, enrols through the front afterwards", err.strip())

    def main(self):
        try:
            self.body()
        except Exception:  # noqa: BLE001 - a failed check
            import traceback
            self.check(False, "no exception", traceback.format_exc())
        finally:
            keep = self.failed > 0
            for role in replicas.ROLES:
                for r in self.topo.replicas[role]:
                    if r.p is not None and r.p.poll() is None:
                        r.kill()
            problems = self.watch.problems()
            self.check(not problems, "no sanitizer report or unasked exit in the replicas", "; ".join(problems))
            self.topo.stop(remove=not keep)
            if keep:
                print("kept", self.topo.dir)
            print(f"{self.passed} passed, {self.failed} failed")
            sys.exit(1 if self.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    Test(sys.argv[1], sys.argv[2]).main()
