#!/usr/bin/env python3
"""operator_test.py M2MSEC: the operator commands against real servers.

  * "m2msec status": listeners up, store counts and integrity; exit 1 and
    "up": false once a server is stopped.
  * "m2msec rotate --entity": the device's KeID and Km are revoked; its
    next association fails; after a fresh enrolment it gets a new Ke and
    Km and associates again.
  * "m2msec maf revoke --kc-id/--entity", unknown entity -> exit 2.
  * Before any server ran, the commands that read or change a store (maf
    keys|clients|revoke, mef enrolee list|remove|rotate|retarget, mef
    subscriber remove, rotate, status) say there is none and create
    nothing, not even the demo PKI of a [pki] table.
  * "m2msec maf keys": a header, then one row per Kc.
  * "m2msec state show": never a key; "--reveal" shows them.
  * No key in any command output except "state show --reveal".

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import Saef  # noqa: E402


def no_store_yet(h):
    """Before any server ran: the commands that read or change a role's store say there is none, exit 1,
    and create nothing (no data directory, KEK or database)."""
    for args, role in ((["maf", "keys"], "MAF"), (["maf", "clients"], "MAF"),
                       (["maf", "revoke", "--entity", "/op-1"], "MAF"),
                       (["mef", "enrolee", "list"], "MEF"), (["mef", "enrolee", "remove", "--enrolee-id", "/op-1"], "MEF"),
                       (["mef", "enrolee", "rotate", "--enrolee-id", "/op-1"], "MEF"),
                       (["mef", "enrolee", "retarget", "--enrolee-id", "/op-1", "--target", "/in-cse"], "MEF"),
                       (["mef", "subscriber", "remove", "--impi", "op-1@ims.example.com"], "MEF")):
        rc, out, err = h.run(args + ["--config", h.config])
        h.check(rc == 1 and f"no {role} database " in err and "creates it" in err and err.count("\n") == 1,
                f"{' '.join(args[:3])} with no {role} store yet: exit 1, says which commands create one",
                f"exit {rc}: {err!r}")
    rc, out, err = h.run(["rotate", "--entity", "/op-1", "--config", h.config])
    h.check(rc == 2 and "nothing to rotate" in err, "rotate with no stores yet: nothing to rotate, exit 2", f"{rc} {err!r}")
    # The same commands, and status, with a [pki] table (the all-in-one's demo PKI, which "m2msec serve"
    # creates on first start): no CA or certificate either.
    with_pki = os.path.join(h.dir, "with-pki.toml")
    with open(with_pki, "w") as f:
        f.write(open(h.config).read() + '\n[pki]\ndir = "demo-pki"\n')
    for args, want_rc, needle in ((["maf", "revoke", "--entity", "/op-1"], 1, "no MAF database "),
                                  (["rotate", "--entity", "/op-1"], 2, "nothing to rotate for /op-1"),
                                  (["mef", "enrolee", "retarget", "--enrolee-id", "/op-1", "--target", "/in-cse"], 1,
                                   "no MEF database "),
                                  (["status", "--json"], 1, "")):
        rc, out, err = h.run(args + ["--config", with_pki])
        h.check(rc == want_rc and needle in err, f"{' '.join(args[:3])} with a [pki] table: exit {want_rc}", (rc, err))
        if args[0] == "status":
            st = json.loads(out) if out.strip() else {}
            h.check(all(st.get(r, {}).get("store") == {"exists": False} for r in ("mef", "maf")),
                    "status with no stores yet: each says its store does not exist", out)
    made = [d for d in ("mefdata", "mafdata", "demo-pki") if os.path.exists(os.path.join(h.dir, d))]
    h.check(not made, "no command created a data directory or a demo PKI", made)


def body(h):
    no_store_yet(h)
    h.start_all()
    st = h.enrol("op-1")
    rc, j, err = h.associate(st)
    h.check(rc == 0 and j and j["rsc"] == 2000, "first association", err)

    rc, out, err = h.run(["status", "--config", h.config, "--json"])
    s = json.loads(out) if rc == 0 else {}
    h.check(rc == 0 and s.get("healthy") is True, "status: healthy", out + err)
    h.check(s.get("mef", {}).get("store", {}).get("active_enrolees", 0) >= 1 and
            s.get("mef", {}).get("store", {}).get("integrity") == "ok", "status: MEF counts and integrity", s)
    h.check(s.get("maf", {}).get("store", {}).get("clients", 0) >= 1, "status: MAF clients counted", s)
    h.check(all(s.get(r, {}).get("tls", {}).get("up") for r in ("mef", "maf", "cse")), "status: all listeners up", s)

    # state show: no key unless --reveal.
    ke = open(os.path.join(st, "ke.key")).read().strip()
    km = open(os.path.join(st, "km.key")).read().strip()
    rc, out, err = h.run(["state", "show", "--state", st, "--json"])
    h.check(rc == 0 and ke not in out and km not in out and json.loads(out)["enrolee_id"] == "/op-1",
            "state show: IDs, no key", out)
    rc, out, err = h.run(["state", "show", "--state", st, "--reveal", "--json"])
    shown = json.loads(out) if rc == 0 else {}
    h.check(shown.get("ke") == ke and shown.get("km") == km, "state show --reveal: the keys")

    # Rotation: old KeID and Km revoked; the device must enrol again.
    old = h.state(st)
    rc, out, err = h.run(["rotate", "--config", h.config, "--entity", "/op-1", "--json"])
    r = json.loads(out) if rc == 0 else {}
    h.check(rc == 0 and r.get("mef_enrolment_revoked") and r.get("maf_km_revoked"), "rotate: both revoked", out + err)
    rc, j, err = h.associate(st)
    h.check(rc == 1 and "unknown psk identity" in err.lower(), "after rotate: the old Km is refused at the MAF", err)
    rc, out, err = h.run(["mef", "enrolee", "show", "--config", h.config, "--enrolee-id", "/op-1", "--json"])
    h.check(rc == 0 and old["ke_id"] not in out, "after rotate: the old KeID no longer resolves", out)
    kpm_file = os.path.join(h.dir, "op-1.kpm.hex")
    rc, out, err = h.run(["enrol", "--mef", f"127.0.0.1:{h.ports['mef']}", "--mef-fqdn", old["mef_fqdn"],
                          "--kpm-id", "op-1@factory.example.com", "--kpm-file", kpm_file, "--maf", old["target"],
                          "--state", st, "--json"])
    h.check(rc == 0, "re-enrolment after rotate", err)
    new = h.state(st)
    h.check(new["ke_id"] != old["ke_id"] and open(os.path.join(st, "km.key")).read().strip() != km,
            "re-enrolment: new KeID and a new Km", new)
    rc, j, err = h.associate(st)
    h.check(rc == 0 and j and j["rsc"] == 2000, "association with the rotated Km", err)

    # Revocation of one Kc and of a client. A Kc registered for another
    # target stays registered (Entity B refuses it), so there is one to revoke.
    rc, j, err = h.associate(st, cse_id="/other-cse", extra=["--cse-fqdn", "in-cse.sp.example.com"])
    h.check(rc == 1, "association for another target fails at Entity B", err)
    rc, out, err = h.run(["maf", "keys", "--config", h.config, "--json"])
    keys = [k for k in (json.loads(out)["keys"] if rc == 0 else []) if k["targets"] == ["/other-cse"]]
    h.check(len(keys) == 1, "the Kc for /other-cse is listed", out)
    # A second Kc for /other-cse, so that the listing has two pages of one.
    rc, j, err = h.associate(st, cse_id="/other-cse", extra=["--cse-fqdn", "in-cse.sp.example.com"])
    both = sorted(k["kc_id"] for k in h.maf_keys() if k["targets"] == ["/other-cse"])
    h.check(len(both) == 2, "two Kc for /other-cse", both)
    first = h.json_cmd(["maf", "keys", "--config", h.config, "--limit", "1"])
    rest = h.json_cmd(["maf", "keys", "--config", h.config, "--after", first["next_after"] or ""])
    listed = [k["kc_id"] for k in first["keys"]] + [k["kc_id"] for k in rest["keys"]]
    h.check(first["count"] == 1 and first["next_after"] == first["keys"][0]["kc_id"] and rest["next_after"] is None
            and sorted(listed) == sorted(k["kc_id"] for k in h.maf_keys()) and len(set(listed)) == len(listed),
            "maf keys --limit 1, then --after: every Kc once", (first, rest))
    rc, out, err = h.run(["mef", "enrolee", "list", "--config", h.config, "--limit", "0"])
    h.check(rc == 2 and "--limit: must be at least 1" in err, "mef enrolee list --limit 0: exit 2", (rc, err))
    rc, text, err = h.run(["maf", "keys", "--config", h.config])
    lines = text.splitlines()
    h.check(rc == 0 and lines and lines[0].split() == ["KCID", "ENTITY", "A", "TARGETS", "EXPIRES", "CREATED"]
            and any(keys and ln.startswith(keys[0]["kc_id"]) and "/other-cse" in ln for ln in lines[1:]),
            "maf keys: a header, then the Kc with its target", text)
    kc = keys[0]["kc_id"] if keys else "none@maf.example.com"
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--kc-id", kc, "--json"])
    h.check(rc == 0 and json.loads(out).get("revoked_key"), "maf revoke --kc-id", err)
    rc, out, err = h.run(["maf", "keys", "--config", h.config, "--json"])
    h.check(kc not in out, "revoked Kc no longer listed", out)
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--entity", "/op-1", "--json"])
    h.check(rc == 0, "maf revoke --entity", err)
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--entity", "/nobody"])
    h.check(rc == 2 and "not found" in err, "maf revoke of an unknown entity: exit 2", err)
    rc, out, err = h.run(["maf", "revoke", "--config", h.config])
    h.check(rc == 2 and "exactly one" in err, "maf revoke needs --entity or --kc-id", err)

    # Status notices a stopped server.
    h.cse.kill()
    rc, out, err = h.run(["status", "--config", h.config, "--json"])
    s = json.loads(out) if out.strip() else {}
    h.check(rc == 1 and s.get("healthy") is False and s["cse"]["tls"]["up"] is False, "status: Entity B down", out)


if __name__ == "__main__":
    h = Saef(sys.argv[1], "operator")
    sys.exit(h.main(body))
