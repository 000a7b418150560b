#!/usr/bin/env python3
"""mef_restart_test.py M2MSEC: the MEF's state survives a restart.

Enrol, stop the server (SIGTERM), start it again on the same data dir:
"mef enrolee show" still has the KeID; re-enrolling replaces the KeID
(the old one is gone from every view).
"""
import json
import sys

from mef_harness import Harness


def body(h):
    kpm, _ = h.add_psk_enrolee("/dev-001", "dev-001@mef.example.com")
    mef = h.start_mef()
    rc, out, err = h.enrol(mef.tls_port, "first", "dev-001@mef.example.com", kpm)
    h.check(rc == 0, "first enrolment", err)
    first = json.loads(out)["ke_id"]
    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM")

    j = h.mef_json(["enrolee", "show", "--enrolee-id", "/dev-001"])
    h.check(j["enrolment"] and j["enrolment"]["ke_id"] == first, "KeID readable while the server is down", str(j))

    mef = h.start_mef()
    j = h.mef_json(["enrolee", "show", "--enrolee-id", "/dev-001"])
    h.check(j["enrolment"] and j["enrolment"]["ke_id"] == first, "KeID survives the restart", str(j))
    rc, out, err = h.enrol(mef.tls_port, "second", "dev-001@mef.example.com", kpm)
    h.check(rc == 0, "re-enrolment after the restart", err)
    second = json.loads(out)["ke_id"] if rc == 0 else None
    h.check(second and second != first, "re-enrolment gives a new KeID", f"{first} -> {second}")
    j = h.mef_json(["enrolee", "show", "--enrolee-id", "/dev-001"])
    h.check(j["enrolment"]["ke_id"] == second, "show has the new KeID", str(j))
    lst = h.mef_json(["enrolee", "list"])
    h.check(len(lst["enrolees"]) == 1 and lst["enrolees"][0]["enrolment"]["ke_id"] == second,
            "list has only the new KeID", str(lst))
    st = h.mef_json(["status"])
    h.check(st["enrolments"] == 1 and st["integrity"] == "ok", "one enrolment, integrity ok", str(st))
    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM (2)")


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_restart").main(body)
