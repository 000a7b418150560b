#!/usr/bin/env python3
"""mef_identifiers_test.py M2MSEC: identifiers refused at input, and listings that survive old rows.

A KpmID is the psk_identity of the bootstrap handshake, so "mef enrolee
add" and "mef enrolee import" refuse one that no handshake can carry:
longer than 255 bytes (OpenSSL 3's PSK_MAX_IDENTITY_LEN is 256 including
the NUL), not UTF-8 (RFC 4279 clause 5.1), or holding a control
character. Each refusal is exit 2 and one error line, and writes nothing;
a 255-byte KpmID is accepted (the control). Enrolee IDs must be CSE-IDs or
AE-IDs.

A row written before these rules (put into the database here with
python's sqlite3, behind the MEF's back) must not break "enrolee list
--json" or "enrolee show": invalid UTF-8 is shown as U+FFFD.
"""
import json
import os
import secrets
import sqlite3
import sys

from mef_harness import MAF, Harness

LONG_OK = "k" * 251 + "@f.x"   # 255 bytes
LONG_BAD = "k" * 252 + "@f.x"  # 256 bytes
BAD_KPM_IDS = [
    (LONG_BAD, "longer than 255 bytes"),
    (os.fsdecode(b"kpm-\xff@factory"), "not valid UTF-8"),
    (os.fsdecode(b"kpm-\xc0\xaf@factory"), "not valid UTF-8"),   # overlong '/'
    ("kpm-\x1b[2J@factory", "control character"),
    ("kpm-\t@factory", "control character"),
    ("kpm-\u0085@factory", "control character"),                # NEL, a C1 control
]


def count(h):
    return h.mef_json(["status"])["active_enrolees"]


def expect_usage(h, what, result, needle):
    rc, out, err = result
    lines = [ln for ln in err.splitlines() if ln.strip()]
    h.check(rc == 2, f"{what}: exit 2", f"exit {rc}: {err.strip()!r}")
    h.check(len(lines) == 1 and lines[0].startswith("m2msec: error: "), f"{what}: one error line", repr(err))
    h.check(needle in err, f"{what}: error says {needle!r}", repr(err))
    h.check(out.strip() == "", f"{what}: nothing on stdout", repr(out))


def add(h, enrolee_id, kpm_id):
    path, _ = h.new_kpm("k" + secrets.token_hex(4))
    return h.mef(["enrolee", "add", "--enrolee-id", enrolee_id, "--kpm-id", kpm_id, "--kpm-file", path,
                  "--target", MAF])


def body(h):
    h.add_psk_enrolee("/ok-1", "ok-1@factory")
    h.check(count(h) == 1, "control: one enrolee added")

    # -- mef enrolee add ------------------------------------------------------------------
    for i, (kpm_id, needle) in enumerate(BAD_KPM_IDS):
        expect_usage(h, f"add: bad KpmID #{i} ({needle})", add(h, f"/bad-{i}", kpm_id), needle)
    expect_usage(h, "add: enrolee ID that is not a CSE-ID/AE-ID", add(h, "dev-7", "dev-7@factory"),
                 "enrolee_id")
    expect_usage(h, "add: empty enrolee ID", add(h, "", "dev-8@factory"), "enrolee_id")
    h.check(count(h) == 1, "refused adds wrote nothing")
    rc, _, err = add(h, "/long", LONG_OK)
    h.check(rc == 0, "control: a 255-byte KpmID is accepted", err)

    # -- mef enrolee import (CSV and JSON) ------------------------------------------------------
    rows = ["enrolee_id,kpm_id,kpm,target", f"/imp-ok,imp-ok@factory,{secrets.token_hex(32)},{MAF}"]
    for i, (kpm_id, _) in enumerate(BAD_KPM_IDS):
        if "\t" in kpm_id:
            continue  # the CSV reader trims it; the JSON import below carries it
        rows.append(f"/imp-{i},{kpm_id},{secrets.token_hex(32)},{MAF}")
    n_bad = len(rows) - 2
    path = os.path.join(h.dir, "bad-ids.csv")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.fsencode("\n".join(rows) + "\n"))
    rc, out, err = h.mef(["enrolee", "import", "--file", path])
    h.check(rc == 2, "import CSV with bad KpmIDs: exit 2", f"exit {rc}: {err!r}")
    for r in range(2, 2 + n_bad):
        h.check(f"row {r} " in err and "kpm_id" in err, f"import CSV: row {r} reported", err)
    h.check("row 1 " not in err and "nothing was imported" in err, "import CSV: good row not reported, none imported",
            err)
    doc = [{"enrolee_id": "/j-ok", "kpm_id": "j-ok@factory", "kpm": secrets.token_hex(32), "target": MAF},
           {"enrolee_id": "/j-1", "kpm_id": "j\t1@factory", "kpm": secrets.token_hex(32), "target": MAF},
           {"enrolee_id": "/j-2", "kpm_id": "j\u00012@factory", "kpm": secrets.token_hex(32), "target": MAF},
           {"enrolee_id": "/j-3", "kpm_id": LONG_BAD, "kpm": secrets.token_hex(32), "target": MAF},
           {"enrolee_id": "j-4", "kpm_id": "j-4@factory", "kpm": secrets.token_hex(32), "target": MAF}]
    path = h.secret_file("bad-ids.json", json.dumps(doc))
    rc, out, err = h.mef(["enrolee", "import", "--file", path, "--json"])
    j = json.loads(out) if out.strip() else {}
    errs = j.get("errors", [])
    h.check(rc == 2 and j.get("imported") == 0 and len(errs) == 4, "import JSON: exit 2, 4 errors, none imported",
            out + err)
    h.check([e.split(" ")[1] for e in errs] == ["2", "3", "4", "5"], "import JSON: rows 2-5 reported", str(errs))
    h.check(count(h) == 2, "refused imports wrote nothing")

    # -- a stored row from before the rules --------------------------------------------------
    db = sqlite3.connect(os.path.join(h.data_dir, "mef.db"))
    db.execute("UPDATE enrolees SET kpm_id = CAST(X'6b706d2dff2d1b5b324a' AS TEXT) WHERE enrolee_id = '/ok-1'")
    db.commit()
    db.close()
    rc, out, err = h.mef(["enrolee", "list", "--json"])
    h.check(rc == 0, "list --json with a non-UTF-8 KpmID stored: exit 0", f"exit {rc}: {err[-500:]}")
    try:
        rows = {e["enrolee_id"]: e for e in json.loads(out)["enrolees"]}
    except (ValueError, KeyError) as e:
        rows = {}
        h.check(False, "list --json prints JSON", f"{e}: {out[:300]!r}")
    h.check(rows.get("/ok-1", {}).get("kpm_id") == "kpm-\ufffd-\u001b[2J",
            "list --json: invalid UTF-8 shown as U+FFFD (JSON escapes the control)", repr(rows.get("/ok-1")))
    rc, out, err = h.mef(["enrolee", "show", "--enrolee-id", "/ok-1", "--json"])
    h.check(rc == 0 and json.loads(out)["kpm_id"].startswith("kpm-\ufffd"), "show --json: exit 0, U+FFFD", out + err)
    rc, out, err = h.mef(["enrolee", "list"])
    h.check(rc == 0 and "kpm-\ufffd-\ufffd[2J" in out and "\x1b" not in out,
            "list (table): invalid byte and ESC shown as U+FFFD", repr(out[:400]))


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_identifiers").main(body)
