#!/usr/bin/env python3
"""mef_import_test.py M2MSEC: "m2msec mef enrolee import".

A 0600 CSV of 1000 devices imports; a file with bad rows reports every bad
row and imports nothing; a world-readable file is refused. One imported
device then enrols against a real MEF.
"""
import json
import secrets
import sys

from mef_harness import MAF, Harness


def csv_rows(n, prefix="dev"):
    rows = ["enrolee_id,kpm_id,kpm,target,expiry"]
    keys = {}
    for i in range(n):
        k = secrets.token_hex(32)
        keys[i] = k
        rows.append(f"/{prefix}-{i:04d},{prefix}-{i:04d}@mef.example.com,{k},{MAF},30d")
    return "\n".join(rows) + "\n", keys


def body(h):
    rc, out, err = h.mef(["status"])
    h.check(rc == 1 and err.count("\n") == 1 and "no MEF database" in err, "status before any data: exit 1, one line",
            f"exit {rc}: {err}")
    text, keys = csv_rows(1000)
    path = h.secret_file("devices.csv", text)
    rc, out, err = h.mef(["enrolee", "import", "--file", path, "--json"])
    h.check(rc == 0, "import of 1000 rows exits 0", err.strip()[:300])
    j = json.loads(out) if out.strip() else {}
    h.check(j.get("imported") == 1000 and j.get("errors") == [], "1000 imported, no errors", out[:300])
    h.check(all(k not in out + err for k in list(keys.values())[:50]), "import output holds no Kpm")
    st = h.mef_json(["status"])
    h.check(st["active_enrolees"] == 1000, "status counts 1000 active enrolees", str(st))
    j = h.mef_json(["enrolee", "list", "--limit", "5000"])
    h.check(j["count"] == 1000 and j["next_after"] is None, "list --limit 5000 returns all 1000", str(j["count"]))
    h.check(j["enrolees"][17]["kpm_id"] == "dev-0017@mef.example.com" and j["enrolees"][17]["expires"],
            "list rows carry KpmID and expiry")

    # Bad rows: each reported by row and line, nothing written.
    bad = ["enrolee_id,kpm_id,kpm,target",
           "/new-0001,new-0001@mef.example.com," + secrets.token_hex(32) + "," + MAF,
           "/new-0002,new-0002@mef.example.com,not-hex," + MAF,                           # row 2
           "new-0003,new-0003@mef.example.com," + secrets.token_hex(32) + "," + MAF,      # row 3: bad ID
           "/new-0004,new-0004@mef.example.com," + secrets.token_hex(32) + ",not a fqdn",  # row 4
           "/new-0005,new-0005@mef.example.com," + secrets.token_hex(32) + "," + MAF]
    path = h.secret_file("bad.csv", "\n".join(bad) + "\n")
    rc, out, err = h.mef(["enrolee", "import", "--file", path])
    h.check(rc == 2, "bad rows: exit 2", f"exit {rc}")
    for row in (2, 3, 4):
        h.check(f"row {row} " in err, f"bad rows: row {row} reported", err)
    h.check("row 1 " not in err and "row 5 " not in err, "bad rows: good rows not reported", err)
    h.check("nothing was imported" in err, "bad rows: says nothing was imported", err)
    h.check(all(ln.startswith("m2msec: error: ") for ln in err.splitlines()), "bad rows: every line is an error line")
    # Rows that collide with the database are refused by the store, also per row.
    dup = ["enrolee_id,kpm_id,kpm,target",
           "/new-0001,new-0001@mef.example.com," + secrets.token_hex(32) + "," + MAF,
           "/dev-0005,x-0005@mef.example.com," + secrets.token_hex(32) + "," + MAF,  # row 2: enrolee ID taken
           "/new-0003,dev-0009@mef.example.com," + secrets.token_hex(32) + "," + MAF]  # row 3: KpmID taken
    path = h.secret_file("dup.csv", "\n".join(dup) + "\n")
    rc, out, err = h.mef(["enrolee", "import", "--file", path, "--json"])
    j = json.loads(out) if out.strip() else {}
    h.check(rc == 2 and j.get("imported") == 0 and len(j.get("errors", [])) == 2,
            "colliding rows: exit 2, 2 errors, none imported", out + err)
    st = h.mef_json(["status"])
    h.check(st["active_enrolees"] == 1000, "still exactly 1000 enrolees after refused imports", str(st))

    # A world-readable import file (it holds Kpm values) is refused.
    ok = "enrolee_id,kpm_id,kpm,target\n/new-0009,new-0009@mef.example.com," + secrets.token_hex(32) + "," + MAF + "\n"
    path = h.secret_file("open.csv", ok, mode=0o644)
    rc, out, err = h.mef(["enrolee", "import", "--file", path])
    h.check(rc == 2 and err.count("\n") == 1 and "open.csv" in err, "world-readable file refused, one line, exit 2",
            f"exit {rc}: {err}")
    h.check(h.mef_json(["status"])["active_enrolees"] == 1000, "world-readable file imported nothing")

    # An imported device enrols.
    mef = h.start_mef()
    kfile = h.secret_file("dev-0999.kpm", keys[999] + "\n")
    rc, out, err = h.enrol(mef.tls_port, "dev999", "dev-0999@mef.example.com", kfile)
    h.check(rc == 0 and json.loads(out)["enrolee_id"] == "/dev-0999", "imported device enrols", err)
    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM")


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_import").main(body)
