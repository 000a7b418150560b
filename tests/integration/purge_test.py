#!/usr/bin/env python3
"""purge_test.py M2MSEC: expired rows are purged on a schedule, without operator action.

Issue 11 item 8: "Expired rows (enrolments, Km, Kc) are purged on a
schedule." "m2msec {mef,maf,cse} serve" (saef_harness.py) run with
purge_interval_s = 1 in [mef] and [maf]. A device enrolled with a short
enrolee expiry (so its enrolment, and the Km the MAF fetched for it, expire
with it) and a device without one both enrol and associate; then, with no
command but "m2msec status" (which only reads), the short-lived enrolment
disappears from the MEF's store and its Km registration from the MAF's,
while the long-lived device's rows and both enrolees stay, and each server
logs what it purged. The Kc of an association is de-registered by Entity B
when the association ends, so Kc purging is covered by the unit test
(tests/unit/service/purge_test.cc) with a real store.

No step is timed: each outcome is polled for with a generous deadline.
Prints "N passed, N failed"; exits non-zero on a failure.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import Saef, wait_until  # noqa: E402

DEADLINE = 60
SHORT = "8s"  # enrolee expiry: long enough to enrol and associate under ASan


def status(h):
    rc, out, err = h.run(["status", "--config", h.config, "--json"])
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return None


def store_count(h, role, key):
    j = status(h)
    try:
        return j[role]["store"][key]
    except (TypeError, KeyError):
        return None


def body(h):
    with open(h.config) as f:
        text = f.read()
    for table in ("[mef]", "[maf]"):
        text = text.replace(table + "\n", table + "\npurge_interval_s = 1\n", 1)
    with open(h.config, "w") as f:
        f.write(text)
    h.start_all()

    st_long = h.enrol("dev-long")
    st_short = h.enrol("dev-short", expiry=SHORT)
    for name, st in (("dev-long", st_long), ("dev-short", st_short)):
        h.expect_ok(f"{name}: MAF-based association", h.associate(st))
    clients = {c["entity_id"] for c in h.maf_clients()}
    h.check({"/dev-long", "/dev-short"} <= clients, "MAF holds Km for both devices", clients)
    h.check(store_count(h, "mef", "enrolments") == 2, "MEF holds both enrolments", status(h))

    h.check(wait_until(lambda: store_count(h, "mef", "enrolments") == 1, DEADLINE, step=0.5),
            "MEF: the expired enrolment is purged without operator action", status(h))
    h.check(wait_until(lambda: {c["entity_id"] for c in h.maf_clients()} == {"/dev-long"}, DEADLINE, step=0.5),
            "MAF: the expired Km registration is purged without operator action", h.maf_clients())
    h.check(store_count(h, "mef", "active_enrolees") == 2, "MEF: both enrolees stay (only expiry rows go)",
            status(h))
    h.check("mef: purged 1 expired rows" in h.mef.log_text(), "MEF log: purged 1 expired rows",
            h.mef.log_text()[-1500:])
    h.check("maf: purged" in h.maf.log_text(), "MAF log: purged expired rows", h.maf.log_text()[-1500:])
    h.expect_ok("dev-long still associates", h.associate(st_long))
    rc, j, err = h.associate(st_short)
    h.check(rc != 0, "dev-short, expired and purged, no longer associates", f"exit {rc}, {err.strip()!r}")
    h.scan_secrets(expect_at_least=4)


if __name__ == "__main__":
    Saef(sys.argv[1], "purge", kc_lifetime_s=2).main(body)
