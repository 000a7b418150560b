#!/usr/bin/env python3
"""revocation_test.py M2MSEC: revocation reaches every holder (issue 11 items 1 and 6).

Real "m2msec mef|maf|cse serve" processes on loopback (saef_harness.py),
real devices ("m2msec enrol", "m2msec associate"), real operator commands.
Each holder follows its issuer's revocation feed (docs/protocol.md
"Revocation feed"); a device that stays connected ("associate --repeat")
shows that a session using a revoked key is closed.

  * "mef enrolee remove" of a MAF device: its Entity B session is closed;
    its KmID is refused at the MAF; its KeID too, without the MAF asking the
    MEF again.
  * "maf revoke --entity": the same, while the MEF still holds the enrolment
    (the MAF remembers it revoked that Km and never fetches it again).
  * "maf revoke --kc-id": that session is closed; a new association works.
  * "mef enrolee rotate" of a Kpsa device: Entity B drops the Kpsa it
    fetched, closes the session, and refuses the KpsaID afterwards.
  * "mef enrolee retarget": the old MAF drops Km; the device's next
    enrolment gives a Km for the new MAF only (the old MAF's fetch is
    refused); unknown enrolee and bad target are usage errors.
  * A MAF that was down while the MEF removed an enrolee does not serve its
    Km after restart; a MAF that cannot read the MEF's feed at start does
    not serve Km from the MEF until it can (then it does).
  * The audit trails record each revocation; no key in any output.

The test waits for outcomes with generous bounds and asserts no duration;
it prints how long each revocation took to take effect (the figures for
docs/performance.md come from bench/revocation_latency.py).
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_ID, MAF, MAF2, Saef, wait_until  # noqa: E402

BOUND = 15  # seconds: far above the 250 ms feeds, so a loaded CI machine cannot fail it


def grants(h, entity, kind):
    return len([r for r in audit(h, "cse-audit.jsonl")
                if r.get("event") == "grant" and r.get("kind") == kind and r.get("to") == entity])


def held_session(h, state, entity, framework="maf"):
    """held_session starts a device that stays connected to Entity B (one request every 200 ms for 20 s)
    and waits until Entity B has taken its key (a new grant in its audit trail; a Kpsa Entity B already
    holds is not granted again, so for kpsa the caller starts from a fresh Entity B cache). Returns the
    process, or None if the session did not open."""
    kind = "kc" if framework == "maf" else "kpsa"
    before = grants(h, entity, kind)
    extra = ["--repeat", "100", "--interval-ms", "200"]
    p = h.spawn(h.associate_args(state, framework=framework, extra=extra))
    opened = wait_until(lambda: grants(h, entity, kind) > before, BOUND, step=0.05)
    # The grant is recorded as the key is taken, just before the handshake completes.
    time.sleep(0.5)
    h.check(opened and p.poll() is None, f"{entity} holds a session at Entity B")
    return p


def audit(h, name):
    path = os.path.join(h.dir, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ended_by_entity_b(h, p, what):
    """ended_by_entity_b collects a held device and checks Entity B ended its session early."""
    rc, out, err = h.wait(p, timeout=60)
    h.check(rc == 1 and "ended the session after" in err, f"{what}: Entity B closed the open session",
            f"exit {rc}, {err.strip()[:400]!r}")


def without_km_id(h, state, name):
    """without_km_id copies a device state with its KmID blanked, so the device presents its KeID to the MAF."""
    d = os.path.join(h.dir, "state-" + name)
    shutil.copytree(state, d)
    s = h.state(d)
    s["km_id"] = ""
    h.secret_file(os.path.join(d, "state.json"), json.dumps(s))
    return d


def maf_psk_session(h, state):
    """maf_psk_session opens a TLS-PSK session at the MAF with the device's KmID and Km (openssl s_client,
    stdin kept open so the session stays up); returns the process once the handshake is done."""
    s = h.state(state)
    km = h.read(os.path.join(state, "km.key"))
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{h.ports['maf']}", "-tls1_2",
                          "-psk_identity", s["km_id"], "-psk", km, "-cipher", "PSK-AES128-CBC-SHA256",
                          "-servername", MAF], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    seen = []

    def up():
        line = p.stdout.readline()
        seen.append(line)
        return "Cipher is PSK-AES128-CBC-SHA256" in line or p.poll() is not None
    wait_until(up, BOUND, step=0)
    h.check(p.poll() is None, "a PSK session with the device's Km is open at the MAF", "".join(seen)[-800:])
    return p


def mef_gave_km(h, ke_id):
    return h.mef.log_text().count(f"gave Km for {ke_id}")


def body(h):
    h.start_all()

    # -- MEF remove: MAF Km, Entity B Kc and the open session go ---------------------------
    st = h.enrol("rv-1")
    h.expect_ok("rv-1 associates", h.associate(st))
    ke_id = h.state(st)["ke_id"]
    p = held_session(h, st, "/rv-1")
    t0 = time.time()
    rc, out, err = h.run(["mef", "enrolee", "remove", "--config", h.config, "--enrolee-id", "/rv-1"])
    h.check(rc == 0, "mef enrolee remove /rv-1", err)
    gone = wait_until(lambda: not [c for c in h.maf_clients() if c["entity_id"] == "/rv-1"], BOUND, step=0.05)
    print(f"remove -> MAF dropped Km after {time.time() - t0:.2f} s")
    h.check(gone, "after remove: the MAF no longer holds Km of /rv-1")
    ended_by_entity_b(h, p, "after remove")
    print(f"remove -> Entity B session closed within {time.time() - t0:.2f} s")
    h.expect_refusal("after remove: KmID at the MAF", h.associate(st), "unknown psk identity")
    asked = mef_gave_km(h, ke_id)
    h.expect_refusal("after remove: KeID at the MAF", h.associate(without_km_id(h, st, "rv-1-ke")),
                     "unknown psk identity")
    h.check(mef_gave_km(h, ke_id) == asked, "after remove: the MAF did not fetch Km again")
    h.expect_ok("another device still associates", h.associate(h.enrol("rv-0")))

    # -- maf revoke --entity: remembered while the MEF still has the enrolment -------------
    st = h.enrol("rv-2")
    h.expect_ok("rv-2 associates", h.associate(st))
    ke_id = h.state(st)["ke_id"]
    p = held_session(h, st, "/rv-2")
    # A session at the MAF authenticated with rv-2's Km, held open by openssl s_client.
    maf_session = maf_psk_session(h, st)
    t0 = time.time()
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--entity", "/rv-2", "--json"])
    h.check(rc == 0 and json.loads(out).get("revoked_client") == "/rv-2", "maf revoke --entity /rv-2", err)
    ended_by_entity_b(h, p, "after maf revoke --entity")
    try:
        maf_session.wait(BOUND)
        closed = True
    except subprocess.TimeoutExpired:
        maf_session.kill()
        closed = False
    h.check(closed, "after maf revoke --entity: the MAF closed the session authenticated with the Km")
    print(f"maf revoke --entity -> Entity B session closed within {time.time() - t0:.2f} s")
    h.expect_refusal("after maf revoke: KmID", h.associate(st), "unknown psk identity")
    asked = mef_gave_km(h, ke_id)
    h.expect_refusal("after maf revoke: KeID (the MEF would still give Km)",
                     h.associate(without_km_id(h, st, "rv-2-ke")), "unknown psk identity")
    h.check(mef_gave_km(h, ke_id) == asked, "after maf revoke: the MAF never asked the MEF for that Km again",
            (asked, mef_gave_km(h, ke_id)))
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--entity", "/nobody"])
    h.check(rc == 2, "maf revoke of an unknown entity: usage error (exit 2)", err)

    # -- maf revoke --kc-id: one session goes, the device associates again -----------------
    st = h.enrol("rv-3")
    p = held_session(h, st, "/rv-3")
    kc = [k for k in h.maf_keys() if k["entity_a_id"] == "/rv-3"]
    h.check(len(kc) == 1, "rv-3's Kc is listed at the MAF", kc)
    if kc:
        rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--kc-id", kc[0]["kc_id"]])
        h.check(rc == 0, "maf revoke --kc-id", err)
        ended_by_entity_b(h, p, "after maf revoke --kc-id")
    else:
        h.wait(p, timeout=60)
    h.expect_ok("after maf revoke --kc-id: a new association works", h.associate(st))

    # -- Kpsa: MEF rotate reaches Entity B -------------------------------------------------
    st = h.enrol("rv-4", target=CSE_ID)
    p = held_session(h, st, "/rv-4", framework="kpsa")
    t0 = time.time()
    rc, out, err = h.run(["mef", "enrolee", "rotate", "--config", h.config, "--enrolee-id", "/rv-4"])
    h.check(rc == 0, "mef enrolee rotate /rv-4", err)
    ended_by_entity_b(h, p, "after rotate of a Kpsa enrolee")
    print(f"rotate -> Entity B Kpsa session closed within {time.time() - t0:.2f} s")
    h.expect_refusal("after rotate: the KpsaID at Entity B", h.associate(st, framework="kpsa"),
                     "unknown psk identity")
    revs = [r for r in audit(h, "cse-audit.jsonl") if r.get("event") == "revocation"]
    h.check(any(r.get("kind") == "kpsa" and r.get("reason") == "mef_feed" for r in revs) and
            any(r.get("kind") == "kc" and r.get("reason") == "maf_feed" for r in revs),
            "Entity B's audit trail records the Kc and Kpsa revocations", revs)

    # -- retarget: old MAF drops Km; the next enrolment is for the new MAF only ------------
    st = h.enrol("rv-5")
    h.expect_ok("rv-5 associates via maf.example.com", h.associate(st))
    old_ke = h.state(st)["ke_id"]
    rc, out, err = h.run(["mef", "enrolee", "retarget", "--config", h.config, "--enrolee-id", "/rv-5",
                          "--target", MAF2, "--json"])
    r = json.loads(out) if rc == 0 else {}
    h.check(rc == 0 and r.get("old_target") == MAF and r.get("target") == MAF2, "mef enrolee retarget", out + err)
    h.check(wait_until(lambda: not [c for c in h.maf_clients() if c["entity_id"] == "/rv-5"], BOUND, step=0.05),
            "after retarget: the old MAF no longer holds Km of /rv-5")
    h.expect_refusal("after retarget: the old KmID", h.associate(st), "unknown psk identity")
    kpm_file = os.path.join(h.dir, "rv-5.kpm.hex")
    st2 = os.path.join(h.dir, "state-rv-5-new")
    rc, out, err = h.run(["enrol", "--mef", f"127.0.0.1:{h.ports['mef']}", "--mef-fqdn", "mef.example.com",
                          "--kpm-id", "rv-5@factory.example.com", "--kpm-file", kpm_file, "--maf", MAF2,
                          "--state", st2, "--json"])
    h.check(rc == 0 and h.state(st2)["target"] == MAF2 and h.state(st2)["ke_id"] != old_ke,
            "re-enrolment after retarget: a new KeID for maf2", err)
    rc, out, err = h.run(["enrol", "--mef", f"127.0.0.1:{h.ports['mef']}", "--mef-fqdn", "mef.example.com",
                          "--kpm-id", "rv-5@factory.example.com", "--kpm-file", kpm_file, "--maf", MAF,
                          "--state", os.path.join(h.dir, "state-rv-5-old"), "--json"])
    h.check(rc != 0, "an enrolment naming the old MAF is refused", out + err)
    # The old MAF, shown the new KeID, asks the MEF, which refuses: Km is for maf2 only.
    st_old = os.path.join(h.dir, "state-rv-5-at-old")
    shutil.copytree(st2, st_old)
    s = h.state(st_old)
    s.update({"target": MAF, "maf_address": f"127.0.0.1:{h.ports['maf']}", "km_id": ""})
    h.secret_file(os.path.join(st_old, "state.json"), json.dumps(s))
    h.expect_refusal("the new KeID at the old MAF", h.associate(st_old), "unknown psk identity")
    h.check(f"whose target is {MAF2}" in h.mef.log_text(), "the MEF refused Km to the old MAF")
    h.start("maf2")
    rc, out, err = h.run(h.associate_args(st2))
    # Entity B does not know maf2 (saef_harness), so the association stops there; the MAF phase must not.
    h.check([c for c in h.maf_clients(h.config2) if c["entity_id"] == "/rv-5"] != [],
            "the new MAF (maf2) holds Km of /rv-5", out + err)
    rc, out, err = h.run(["mef", "enrolee", "retarget", "--config", h.config, "--enrolee-id", "/nobody",
                          "--target", MAF])
    h.check(rc == 2, "retarget of an unknown enrolee: usage error (exit 2)", err)
    rc, out, err = h.run(["mef", "enrolee", "retarget", "--config", h.config, "--enrolee-id", "/rv-5",
                          "--target", "not a target"])
    h.check(rc == 2, "retarget to a bad target: usage error (exit 2)", err)

    # -- a MAF that was down ----------------------------------------------------------------
    st6 = h.enrol("rv-6")
    st7 = h.enrol("rv-7")
    h.expect_ok("rv-6 associates", h.associate(st6))
    h.expect_ok("rv-7 associates", h.associate(st7))
    h.maf.kill()
    rc, out, err = h.run(["mef", "enrolee", "remove", "--config", h.config, "--enrolee-id", "/rv-6"])
    h.check(rc == 0, "remove /rv-6 while the MAF is down", err)
    h.start("maf")
    # Once the MAF serves Km from the MEF again (its feed read), the removal must have reached it.
    # (Entity B may need a moment to reconnect to the restarted MAF: its breaker was open.)
    h.check(wait_until(lambda: h.associate(st7)[0] == 0, BOUND, step=0.3),
            "after the MAF's restart: /rv-7 associates again")
    h.check(not [c for c in h.maf_clients() if c["entity_id"] == "/rv-6"],
            "after the MAF's restart: it no longer holds Km of /rv-6")
    h.expect_refusal("after the MAF's restart: removed /rv-6 is refused", h.associate(st6), "unknown psk identity")
    # The MEF down while the MAF starts: Km from the MEF is not served until its feed is read.
    h.maf.kill()
    h.mef.kill()
    h.start("maf")
    h.expect_refusal("MEF feed not read: Km from the MEF is not served", h.associate(st7), "unknown psk identity")
    h.check("the MEF's revocations are not read yet since start" in h.maf.log_text(),
            "the MAF says why it refuses", h.maf.log_text()[-2000:])
    h.start("mef")
    ok = wait_until(lambda: h.associate(st7)[0] == 0, BOUND, step=0.3)
    h.check(ok, "once the MEF's feed is read, /rv-7 associates again")

    maf_revs = [r for r in audit(h, "mafdata/audit.jsonl") if r.get("event") == "revocation"]
    h.check(any(r.get("kind") == "km" and r.get("entity") == "/rv-1" for r in maf_revs),
            "the MAF's audit trail records the Km it dropped for the MEF", maf_revs)
    h.stop_all()
    h.scan_secrets(expect_at_least=10)


if __name__ == "__main__":
    Saef(sys.argv[1], "revocation").main(body)
