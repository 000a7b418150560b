#!/usr/bin/env python3
"""audit_test.py M2MSEC: the audit trail (issue 11 item 5, docs/audit.md) against real servers.

  * A real enrolment and association (MEF, MAF, Entity B processes): "m2msec audit --json" shows every
    grant of the run -- Ke to the enrolee and Km to the MAF at the MEF; Km stored, client registration,
    Kc registration and Kc retrieval at the MAF (each with the MAS-ID); Kc accepted at Entity B -- each
    by key identifier, with its expiry.
  * A Kc registered for another target: the MAF records the not_target refusal of Entity B's retrieval.
  * Operator actions: "maf revoke --entity" and "mef enrolee remove" appear as operator records.
  * Filters (--role, --entity, --since, --event), the table form, a malformed line skipped with a warning,
    the trail files mode 0600, and no key value (hex or base64) in any trail or output (scan_secrets).

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import json
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import Saef, MAF, CSE_ID  # noqa: E402


def audit(h, *args):
    rc, out, err = h.run(["audit", "--config", h.config, "--json", *args])
    recs = [json.loads(ln) for ln in out.splitlines() if ln.strip()] if rc == 0 else []
    return rc, recs, err


def find(recs, **want):
    return [r for r in recs if all(r.get(k) == v for k, v in want.items())]


def body(h):
    start = int(time.time())
    h.start_all()
    st = h.enrol("au-1")
    rc, j, err = h.associate(st)
    h.check(rc == 0 and j and j["rsc"] == 2000, "association", err)
    s = h.state(st)
    ke_id, km_id = s["ke_id"], s["km_id"]
    # A Kc for another target: Entity B's retrieval of it is refused by the MAF.
    rc, j, err = h.associate(st, cse_id="/other-cse", extra=["--cse-fqdn", "in-cse.sp.example.com"])
    h.check(rc == 1, "association for another target fails", err)
    time.sleep(0.3)  # Entity B de-registers Kc after the session; nothing else is asynchronous

    rc, recs, err = audit(h)
    h.check(rc == 0 and recs, "audit --json: exit 0, records", err)
    h.check(find(recs, role="mef", event="operator", action="add", entity="/au-1"), "mef: enrolee add", recs)
    ke = find(recs, role="mef", event="grant", kind="ke", key_id=ke_id, to="/au-1", framework="rsp")
    h.check(ke and isinstance(ke[0].get("expires_at"), int), "mef: Ke granted to /au-1, with expiry", recs)
    h.check(find(recs, role="mef", event="grant", kind="km", key_id=ke_id, to=MAF, entity="/au-1"),
            "mef: Km (for KeID) given to the MAF", recs)
    maf = [r for r in recs if r["role"] == "maf"]
    h.check(maf and all(r.get("mas_id") == MAF for r in maf), "maf: every record names the MAS-ID", maf)
    h.check(find(maf, event="grant", kind="km", key_id=km_id, to=MAF, entity="/au-1"), "maf: Km stored from MEF", maf)
    h.check(find(maf, event="grant", kind="km", key_id=km_id, to="/au-1", framework="maf"),
            "maf: client registration", maf)
    kc = find(maf, event="grant", kind="kc", to="/au-1", entity=CSE_ID)
    h.check(kc and isinstance(kc[0].get("expires_at"), int), "maf: Kc registered for /au-1 -> /in-cse", maf)
    kc_id = kc[0]["key_id"] if kc else "none"
    h.check(find(maf, event="grant", kind="kc", key_id=kc_id, to=CSE_ID, entity="/au-1"),
            "maf: Kc given to Entity B", maf)
    h.check(find(recs, role="cse", event="grant", kind="kc", key_id=kc_id, to="/au-1", framework="maf"),
            "cse: Kc accepted for /au-1", recs)
    h.check(find(maf, event="refusal", reason="not_target", to=CSE_ID),
            "maf: Entity B refused a Kc it is not a target of (not_target)", maf)
    h.check(all(r.get("key_id") for r in recs if r["event"] == "grant"), "every grant names its key identifier")

    # Operator actions.
    rc, out, err = h.run(["maf", "revoke", "--config", h.config, "--entity", "/au-1"])
    h.check(rc == 0, "maf revoke --entity", err)
    rc, out, err = h.run(["mef", "enrolee", "remove", "--config", h.config, "--enrolee-id", "/au-1"])
    h.check(rc == 0, "mef enrolee remove", err)
    rc, recs, err = audit(h, "--event", "operator")
    h.check(find(recs, role="maf", action="revoke", kind="km", entity="/au-1", mas_id=MAF), "audit: maf revoke", recs)
    h.check(find(recs, role="mef", action="remove", entity="/au-1"), "audit: mef enrolee remove", recs)
    h.check(recs and all(r["event"] == "operator" for r in recs), "--event operator: only operator records", recs)

    # Filters.
    rc, recs, err = audit(h, "--role", "maf")
    h.check(rc == 0 and recs and all(r["role"] == "maf" for r in recs), "--role maf", recs)
    rc, recs, err = audit(h, "--entity", "/au-1")
    h.check(rc == 0 and recs and all("/au-1" in (r.get("to"), r.get("entity")) for r in recs), "--entity", recs)
    rc, recs, err = audit(h, "--since", str(int(time.time()) + 3600))
    h.check(rc == 0 and recs == [], "--since in the future: nothing", recs)
    rc, recs, err = audit(h, "--since", str(start - 1))
    h.check(rc == 0 and len(recs) > 5, "--since the start: everything", len(recs))
    rc, recs, err = audit(h, "--since", "1h")
    h.check(rc == 0 and len(recs) > 5, "--since 1h", err)
    rc, out, err = h.run(["audit", "--config", h.config, "--since", "yesterday"])
    h.check(rc == 2 and "--since" in err, "bad --since: exit 2 with a clear error", err)
    rc, out, err = h.run(["audit", "--config", h.config, "--role", "xyz"])
    h.check(rc == 2, "bad --role: exit 2", err)
    rc, out, err = h.run(["audit", "--config", h.config])
    h.check(rc == 0 and out.startswith("TIME") and kc_id in out, "table form", out[:500] + err)
    lines = out.splitlines()
    col = lines[0].find("KEY-ID") if lines else -1
    rows = [ln for ln in lines[1:] if kc_id in ln]
    h.check(col > 0 and rows and all(ln.index(kc_id) == col for ln in rows) and all(ln == ln.rstrip() for ln in lines),
            "table form: each key identifier starts under KEY-ID, however long the cells before it; no trailing blanks",
            out[:1500])
    rc, out, err = h.run(["audit", "--help"])
    h.check(rc == 0 and "--since" in out and "docs/audit.md" in out, "--help teaches", out)

    files = [os.path.join(h.dir, "mefdata", "audit.jsonl"), os.path.join(h.dir, "mafdata", "audit.jsonl"),
             os.path.join(h.dir, "cse-audit.jsonl")]
    for p in files:
        h.check(os.path.exists(p) and stat.S_IMODE(os.stat(p).st_mode) == 0o600, f"{os.path.basename(os.path.dirname(p))}"
                f"/{os.path.basename(p)}: mode 0600")
    # Every trail goes through the secret scan.
    for p in files:
        with open(p, errors="replace") as f:
            h.transcript.append(("trail " + p, f.read()))
    h.scan_secrets(expect_at_least=4)

    # A malformed line is skipped with a warning, never a crash.
    with open(files[0], "a") as f:
        f.write("{not json\n\"a string\"\n")
    rc, recs, err = audit(h, "--role", "mef")
    h.check(rc == 0 and recs and "skipped 2 malformed" in err, "malformed lines skipped with a warning", err)


if __name__ == "__main__":
    h = Saef(sys.argv[1], "audit")
    sys.exit(h.main(body))
