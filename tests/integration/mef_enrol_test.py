#!/usr/bin/env python3
"""mef_enrol_test.py M2MSEC: full enrolments against a real MEF.

PSK over TLS, PSK over DTLS (--dtls) and certificate-based (a CSE-ID
certificate, dNSName dev-002.sp.example.com). For each: the state files
are mode 0600, nothing printed contains a key, Km in km.key is
KDF(Ke, MAF-ID) as "m2msec derive km" computes it, and the operator views
("mef enrolee show/list", "mef status") report the KeID without secrets.
"""
import json
import os
import sys

from mef_harness import MAF, Harness, file_mode, read_hex


def check_enrolment(h, label, rc, out, err, state, enrolee_id):
    if not h.check(rc == 0, f"{label}: enrol exits 0", f"exit {rc}: {err.strip()}"):
        return None
    j = json.loads(out)
    h.check(j["enrolee_id"] == enrolee_id, f"{label}: assigned enrolee ID {enrolee_id}", out)
    h.check(j["target"] == MAF and j["target_kind"] == "maf", f"{label}: target is the MAF", out)
    d = os.path.join(h.dir, state)
    h.check(file_mode(d) == 0o700, f"{label}: state dir mode 0700", oct(file_mode(d)))
    for name in ("state.json", "ke.key", "km.key"):
        p = os.path.join(d, name)
        h.check(os.path.exists(p) and file_mode(p) == 0o600, f"{label}: {name} mode 0600",
                oct(file_mode(p)) if os.path.exists(p) else "missing")
    ke, km = read_hex(os.path.join(d, "ke.key")), read_hex(os.path.join(d, "km.key"))
    h.check(len(ke) == 64 and len(km) == 64, f"{label}: Ke and Km are 32 bytes")
    printed = (out + err).lower()
    h.check(ke not in printed and km not in printed, f"{label}: output holds neither Ke nor Km")
    rc2, dk, derr = h.run(["derive", "km", "--ke-file", os.path.join(d, "ke.key"), "--maf-id", MAF])
    h.check(rc2 == 0 and dk.strip().lower() == km, f"{label}: km.key == derive km(ke.key, {MAF})", derr)
    with open(os.path.join(d, "state.json")) as f:
        st = json.load(f)
    h.check(st.get("ke_id") == j["ke_id"], f"{label}: state.json has the KeID")
    h.check(ke not in json.dumps(st).lower() and km not in json.dumps(st).lower(), f"{label}: state.json has no key")
    return j["ke_id"], ke, km


def body(h):
    kpm1, kpm1_hex = h.add_psk_enrolee("/dev-001", "dev-001@mef.example.com")
    kpm3, kpm3_hex = h.add_psk_enrolee("/dev-003", "dev-003@mef.example.com")
    subject = h.pki_cse("dev-002")
    rc, out, err = h.mef(["enrolee", "add", "--enrolee-id", "/dev-002", "--cert-subject", subject, "--cert-ca", os.path.join(h.pki, "device-ca.crt"),
                          "--target", MAF])
    h.check(rc == 0, "cert enrolee added", err)

    mef = h.start_mef()
    h.check(mef.tls_port > 0 and mef.dtls_port > 0, "ready line has tls_port and dtls_port")

    # PSK over TLS, in text mode too (what an installer sees).
    rc, out, err = h.enrol(mef.tls_port, "tls", "dev-001@mef.example.com", kpm1)
    tls = check_enrolment(h, "psk/tls", rc, out, err, "tls", "/dev-001")
    rc, out, err = h.enrol(mef.tls_port, "tls-text", "dev-001@mef.example.com", kpm1, json_out=False)
    h.check(rc == 0 and "KeID" in out, "psk/tls text output", err)
    h.check(kpm1_hex not in (out + err).lower(), "psk/tls text output holds no Kpm")

    # PSK over DTLS.
    rc, out, err = h.enrol(mef.dtls_port, "dtls", "dev-003@mef.example.com", kpm3, dtls=True)
    dtls = check_enrolment(h, "psk/dtls", rc, out, err, "dtls", "/dev-003")

    # Certificate-based.
    rc, out, err = h.enrol(mef.tls_port, "cert", cert="dev-002")
    cert = check_enrolment(h, "cert/tls", rc, out, err, "cert", "/dev-002")

    # Operator views: the MEF's current KeID per enrolee, never a key.
    for label, eid, got in (("psk/dtls", "/dev-003", dtls), ("cert/tls", "/dev-002", cert)):
        if not got:
            continue
        rc, out, err = h.mef(["enrolee", "show", "--enrolee-id", eid, "--json"])
        h.check(rc == 0, f"{label}: enrolee show exits 0", err)
        j = json.loads(out) if rc == 0 else {}
        h.check((j.get("enrolment") or {}).get("ke_id") == got[0], f"{label}: show has the device's KeID",
                f"{out.strip()} vs {got[0]}")
        h.check(got[1] not in out.lower() and got[2] not in out.lower(), f"{label}: show prints no key")
    rc, out, err = h.mef(["enrolee", "show", "--enrolee-id", "/dev-001"])
    h.check(rc == 0 and "KeID" in out and "/dev-001" in out, "enrolee show (text)", out + err)
    h.check(kpm1_hex not in out.lower() and (not tls or tls[1] not in out.lower()), "show (text) prints no key")

    rc, out, err = h.mef(["enrolee", "list"])
    lines = out.splitlines()
    h.check(rc == 0 and lines and lines[0].split()[0] == "ENROLEE" and len(lines) == 4, "enrolee list: header + 3 rows",
            out + err)
    h.check(all(k not in out.lower() for k in (kpm1_hex, kpm3_hex)), "enrolee list prints no Kpm")
    h.check("dev-002.sp.example.com" in out and "dev-001@mef.example.com" in out,
            "enrolee list shows KpmID and cert subject")
    h.check(any("T" in c and c.endswith("Z") for c in lines[1].split()), "enrolee list shows ISO expiry", lines[1])
    j = h.mef_json(["enrolee", "list", "--limit", "2"])
    h.check(j["count"] == 2 and j["next_after"] == "/dev-002", "enrolee list --limit 2 pages", json.dumps(j))
    j = h.mef_json(["enrolee", "list", "--after", j["next_after"]])
    h.check([e["enrolee_id"] for e in j["enrolees"]] == ["/dev-003"] and j["next_after"] is None,
            "enrolee list --after continues", json.dumps(j))
    h.check(all(e["enrolment"] for e in j["enrolees"]), "enrolled rows carry their enrolment")
    rc, out, err = h.mef(["enrolee", "list", "--limit", "0"])
    h.check(rc == 2 and err.startswith("m2msec: error:"), "enrolee list --limit 0 is a usage error", err)
    rc, out, err = h.mef(["enrolee", "list", "--state", "gone"])
    h.check(rc == 2, "enrolee list --state gone is a usage error", err)
    rc, out, err = h.mef(["enrolee", "show", "--enrolee-id", "/nobody"])
    h.check(rc == 2 and err.count("\n") == 1 and "/nobody" in err, "show of an unknown enrolee: exit 2, one line", err)

    st = h.mef_json(["status"])
    h.check(st["active_enrolees"] == 3 and st["enrolments"] == 3 and st["integrity"] == "ok",
            "mef status: 3 enrolees, 3 enrolments, integrity ok", json.dumps(st))
    rc, out, err = h.mef(["status"])
    h.check(rc == 0 and "integrity     ok" in out, "mef status (text)", out + err)

    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM")


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_enrol").main(body)
