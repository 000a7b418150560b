#!/usr/bin/env python3
"""mef_subscriber_test.py M2MSEC: "m2msec mef subscriber add|import|list|remove".

The GBA subscribers of the MEF as a BSF (TS 33.220), through the real
binary: add with OPc and with OP (OPc computed, checked against TS 35.208
test set 1: K 465b5ce8b199b49faa5f0a2ee238a6bc, OP
cdc202d5123e20f62b6d676ac72cb318 give OPc cd63cb71954a9f4e48a5994e37a02baf;
the stored OPc itself is never shown, so the check is that a second add of
the same subscriber with that OPc is refused as a duplicate of the IMPI,
and that the key bytes appear nowhere in the output or the database file),
list --json (no key material), CSV and JSON import (all or nothing, every
bad row reported), refusal of a world-readable key file and of a
duplicate, remove. Each subscriber names its GUSS as TS-0003 8.3.2.3
uses it: the enrolee it is (--enrolee-id, one IMPI each) and its
Enrolment Target (--target, kind guessed or --target-kind), the only NAF
that may get its Ks_NAF; bad ones and a second IMPI for one enrolee are
refused.
"""
import json
import os
import secrets
import sys

from mef_harness import Harness

IMPI = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OP = "cdc202d5123e20f62b6d676ac72cb318"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"  # TS 35.208 test set 1
MAF = "maf.example.com"


def guss(enrolee, target=MAF):
    """guss is the --enrolee-id and --target of a subscriber."""
    return ["--enrolee-id", enrolee, "--target", target]


def body(h):
    kfile = h.secret_file("k.hex", K + "\n")
    opfile = h.secret_file("op.hex", OP + "\n")
    opcfile = h.secret_file("opc.hex", OPC + "\n")

    j = h.mef_json(["subscriber", "add", "--impi", IMPI, "--k-file", kfile, "--op-file", opfile,
                    "--sqn", "31", "--amf", "8000"] + guss("/dev-1"))
    h.check(j == {"impi": IMPI, "sqn": 31, "amf": "8000", "enrolee_id": "/dev-1", "target_kind": "maf",
                  "target": MAF, "created_at": j.get("created_at")} and j["created_at"] > 0,
            "add with --op-file: impi, sqn, amf, enrolee and target echoed, no key", str(j))
    rc, out, err = h.mef(["subscriber", "add", "--impi", "2@ims.example.org", "--k-file", kfile,
                          "--opc-file", opcfile] + guss("/dev-2", "/cse-b"))
    h.check(rc == 0 and "added GBA subscriber 2@ims.example.org (SQN 0, AMF 0000) for enrolee /dev-2, Ks_NAF for "
            "kpsa target /cse-b only" in out,
            "add with --opc-file, default SQN 0 and AMF 0000, a CSE-ID target taken as kpsa", f"exit {rc}: {out}{err}")

    # Refusals: duplicate IMPI, world-readable key file, bad lengths, both or neither of OP/OPc.
    rc, out, err = h.mef(["subscriber", "add", "--impi", IMPI, "--k-file", kfile, "--opc-file", opcfile]
                         + guss("/dev-9"))
    h.check(rc == 2 and err.count("\n") == 1 and "already" in err and IMPI in err, "duplicate IMPI refused, exit 2",
            f"exit {rc}: {err}")

    # The GUSS: enrolee ID and target required and checked, one IMPI per enrolee.
    for what, args, needle in (
            ("no --enrolee-id", ["--target", MAF], "--enrolee-id"),
            ("no --target", ["--enrolee-id", "/dev-3"], "--target"),
            ("an enrolee ID that is no CSE-ID/AE-ID", guss("dev-3"), "enrolee_id"),
            ("a target that is neither an FQDN nor a CSE-ID", guss("/dev-3", "not a host"), "--target"),
            ("a maf target that is no FQDN", guss("/dev-3", "/cse-b") + ["--target-kind", "maf"], "target"),
            ("a kpsa target that is no CSE-ID/AE-ID", guss("/dev-3") + ["--target-kind", "kpsa"], "target"),
            ("an unknown --target-kind", guss("/dev-3") + ["--target-kind", "naf"], "--target-kind"),
            ("a second IMPI for enrolee /dev-1", guss("/dev-1"), "/dev-1")):
        rc, out, err = h.mef(["subscriber", "add", "--impi", "3@ims.example.org", "--k-file", kfile,
                              "--opc-file", opcfile] + args)
        h.check(rc == 2 and needle in err and out == "", f"{what} refused, exit 2", f"exit {rc}: {out}{err}")
    open_k = h.secret_file("open-k.hex", K + "\n", mode=0o644)
    rc, out, err = h.mef(["subscriber", "add", "--impi", "3@ims.example.org", "--k-file", open_k,
                          "--opc-file", opcfile] + guss("/dev-3"))
    h.check(rc == 2 and err.count("\n") == 1 and "open-k.hex" in err and K not in err,
            "world-readable K file refused, one line, exit 2", f"exit {rc}: {err}")
    long_k = h.secret_file("long-k.hex", secrets.token_hex(32) + "\n")
    rc, out, err = h.mef(["subscriber", "add", "--impi", "3@ims.example.org", "--k-file", long_k,
                          "--opc-file", opcfile] + guss("/dev-3"))
    h.check(rc == 2, "a 32-byte K is refused (MILENAGE K is 16 bytes)", f"exit {rc}: {err}")
    rc, out, err = h.mef(["subscriber", "add", "--impi", "3@ims.example.org", "--k-file", kfile,
                          "--opc-file", opcfile, "--op-file", opfile] + guss("/dev-3"))
    h.check(rc == 2 and "exactly one of --opc-file and --op-file" in err, "OP and OPc together refused", err)
    rc, out, err = h.mef(["subscriber", "add", "--impi", "has space@x", "--k-file", kfile, "--opc-file", opcfile]
                         + guss("/dev-3"))
    h.check(rc == 2, "an IMPI with a space is refused", f"exit {rc}: {err}")
    for bad in (["--sqn", "281474976710656"], ["--amf", "80000"], ["--amf", "zz00"], ["--sqn", "-1"]):
        rc, out, err = h.mef(["subscriber", "add", "--impi", "4@ims.example.org", "--k-file", kfile,
                              "--opc-file", opcfile] + guss("/dev-4") + bad)
        h.check(rc == 2, f"{' '.join(bad)} refused", f"exit {rc}: {err}")

    # K from stdin.
    p = h.run(["mef", "subscriber", "add", "--config", h.config, "--impi", "5@ims.example.org", "--k-file", "-",
               "--opc-file", opcfile, "--json"] + guss("//sp.example.com/dev-5/ae"), stdin=K + "\n")
    h.check(p[0] == 0 and json.loads(p[1])["impi"] == "5@ims.example.org", "K from stdin ('-')", p[2])

    j = h.mef_json(["subscriber", "list"])
    h.check([s["impi"] for s in j["subscribers"]] == [IMPI, "2@ims.example.org", "5@ims.example.org"]
            and j["count"] == 3 and j["next_after"] is None, "list --json: the three subscribers in IMPI order", str(j))
    first = j["subscribers"][0]
    h.check(first["sqn"] == 31 and first["amf"] == "8000"
            and set(first) == {"impi", "sqn", "amf", "enrolee_id", "target_kind", "target", "created_at", "created"},
            "list rows: impi, sqn, amf, enrolee, target, created only", str(first))
    h.check([(s["enrolee_id"], s["target_kind"], s["target"]) for s in j["subscribers"]] ==
            [("/dev-1", "maf", MAF), ("/dev-2", "kpsa", "/cse-b"), ("//sp.example.com/dev-5/ae", "maf", MAF)],
            "list --json: each subscriber's enrolee and Enrolment Target", str(j))
    j = h.mef_json(["subscriber", "list", "--limit", "2"])
    h.check(j["count"] == 2 and j["next_after"] == "2@ims.example.org", "list --limit 2 says where to continue", str(j))
    j = h.mef_json(["subscriber", "list", "--after", "2@ims.example.org"])
    h.check([s["impi"] for s in j["subscribers"]] == ["5@ims.example.org"], "list --after pages on", str(j))
    rc, out, err = h.mef(["subscriber", "list"])
    h.check(rc == 0 and out.splitlines()[0].split() == ["IMPI", "SQN", "AMF", "ENROLEE", "TARGET", "CREATED"]
            and IMPI in out and "/dev-2" in out and "kpsa /cse-b" in out, "list as a table", out)

    # Import: CSV with opc and op rows; bad rows all reported, nothing imported.
    # Every tenth row names an Enrolee B (kpsa, guessed), the rest a MAF.
    rows = ["impi,k,opc,op,sqn,amf,enrolee_id,target,target_kind"]
    for i in range(100):
        target = "/cse-b" if i % 10 == 0 else MAF
        rows.append(f"imsi{i:03d}@ims.example.org,{secrets.token_hex(16)},{secrets.token_hex(16)},,{i},8000,"
                    f"/imsi{i:03d},{target},")
    rows.append(f"op-row@ims.example.org,{K},,{OP},,,/op-row,{MAF},maf")
    good_csv = "\n".join(rows) + "\n"
    bad = list(rows)
    bad[3] = f"imsi002@ims.example.org,{secrets.token_hex(8)},{secrets.token_hex(16)},,,,/imsi002,{MAF},"  # short K
    bad[5] = f"{IMPI},{K},{OPC},,,,/imsi004,{MAF},"                                  # row 5: IMPI taken
    bad[7] = f"imsi006@ims.example.org,{K},{OPC},{OP},,,/imsi006,{MAF},"             # row 7: opc and op
    bad[9] = f"imsi008@ims.example.org,{K},{OPC},,281474976710656,,/imsi008,{MAF},"  # row 9: SQN too big
    bad[11] = f"imsi001@ims.example.org,{K},{OPC},,,,/imsi010,{MAF},"                # row 11: dup of row 2
    bad[13] = f"imsi012@ims.example.org,{K},{OPC},,,,/imsi012,not a host,"           # row 13: bad target
    bad[15] = f"imsi014@ims.example.org,{K},{OPC},,,,/imsi014,{MAF},kpsa"            # row 15: MAF-FQDN as kpsa
    bad[17] = f"imsi016@ims.example.org,{K},{OPC},,,,,{MAF},"                        # row 17: no enrolee_id
    bad[19] = f"imsi018@ims.example.org,{K},{OPC},,,,/imsi018,,"                     # row 19: no target
    path = h.secret_file("bad.csv", "\n".join(bad) + "\n")
    rc, out, err = h.mef(["subscriber", "import", path])
    h.check(rc == 2 and "nothing was imported" in err, "bad rows: exit 2, nothing imported", f"exit {rc}: {err}")
    for row in (3, 7, 9, 13, 15, 17, 19):
        h.check(f"row {row} " in err, f"bad rows: row {row} reported", err)
    h.check("row 13 (line 14): " in err and "target" in err.split("row 13 (line 14): ")[1].splitlines()[0],
            "bad rows: the bad target is named", err)
    # Rows that collide are found by the store only once the file itself is clean.
    dup = list(rows)
    dup[5] = f"{IMPI},{K},{OPC},,,,/imsi004,{MAF},"
    dup[11] = f"imsi001@ims.example.org,{K},{OPC},,,,/imsi010,{MAF},"
    dup[13] = f"imsi012@ims.example.org,{K},{OPC},,,,/dev-1,{MAF},"   # enrolee /dev-1 already has an IMPI
    dup[15] = f"imsi014@ims.example.org,{K},{OPC},,,,/imsi001,{MAF},"  # enrolee of row 2
    path = h.secret_file("dup.csv", "\n".join(dup) + "\n")
    rc, out, err = h.mef(["subscriber", "import", "--file", path, "--json"])
    j = json.loads(out) if out.strip() else {}
    errs = j.get("errors", [])
    h.check(rc == 2 and j.get("imported") == 0 and len(errs) == 4
            and errs[0].startswith("row 5 (line 6)") and errs[1].startswith("row 11 (line 12)")
            and errs[2].startswith("row 13 (line 14)") and "/dev-1" in errs[2]
            and errs[3].startswith("row 15 (line 16)") and "/imsi001" in errs[3],
            "colliding rows (IMPI or enrolee ID): all reported with row and line, none imported", out + err)
    h.check(h.mef_json(["subscriber", "list"])["count"] == 3, "still 3 subscribers after refused imports")
    path = h.secret_file("open.csv", good_csv, mode=0o644)
    rc, out, err = h.mef(["subscriber", "import", path])
    h.check(rc == 2 and err.count("\n") == 1 and "open.csv" in err, "world-readable import file refused",
            f"exit {rc}: {err}")
    path = h.secret_file("subs.csv", good_csv)
    rc, out, err = h.mef(["subscriber", "import", path, "--json"])
    j = json.loads(out) if out.strip() else {}
    h.check(rc == 0 and j.get("imported") == 101 and j.get("errors") == [], "CSV import of 101 rows", out + err)
    h.check(K not in out + err and OP not in out + err, "import output holds no key")
    j = h.mef_json(["subscriber", "list", "--limit", "1000"])
    h.check(j["count"] == 104, "104 subscribers listed", str(j["count"]))
    by_impi = {s["impi"]: s for s in j["subscribers"]}
    h.check(by_impi["imsi042@ims.example.org"]["sqn"] == 42 and by_impi["op-row@ims.example.org"]["amf"] == "0000",
            "imported SQN and AMF kept, AMF defaults to 0000")
    h.check([(s["enrolee_id"], s["target_kind"], s["target"]) for s in
             (by_impi["imsi042@ims.example.org"], by_impi["imsi050@ims.example.org"], by_impi["op-row@ims.example.org"])]
            == [("/imsi042", "maf", MAF), ("/imsi050", "kpsa", "/cse-b"), ("/op-row", "maf", MAF)],
            "imported enrolee IDs and targets kept, the kind guessed when not given")
    # JSON import.
    doc = [{"impi": "json1@ims.example.org", "k": secrets.token_hex(16), "opc": secrets.token_hex(16), "sqn": "7",
            "enrolee_id": "Cjson1", "target": MAF},
           {"impi": "json2@ims.example.org", "k": K, "op": OP, "amf": "FFFF", "enrolee_id": "/json2",
            "target": "Cae-b", "target_kind": "kpsa"}]
    path = h.secret_file("subs.json", json.dumps(doc))
    rc, out, err = h.mef(["subscriber", "import", path])
    h.check(rc == 0 and "imported 2 GBA subscribers" in out, "JSON import", f"exit {rc}: {out}{err}")
    j = h.mef_json(["subscriber", "list", "--after", "json", "--limit", "2"])
    h.check([(s["impi"], s["sqn"], s["amf"], s["enrolee_id"], s["target_kind"], s["target"])
             for s in j["subscribers"]] ==
            [("json1@ims.example.org", 7, "0000", "Cjson1", "maf", MAF),
             ("json2@ims.example.org", 0, "ffff", "/json2", "kpsa", "Cae-b")], "JSON rows stored", str(j))

    # No key in the clear in the SQLite database (PostgreSQL: the same
    # sealing, checked by the store's unit tests on both engines).
    db = os.path.join(h.data_dir, "mef.db")
    if os.path.exists(db):
        blob = b""
        for f in (db, db + "-wal"):
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    blob += fh.read()
        h.check(all(bytes.fromhex(x) not in blob for x in (K, OP, OPC)), "K, OP and OPc not in the database files")

    # Remove.
    j = h.mef_json(["subscriber", "remove", "--impi", IMPI])
    h.check(j == {"removed": IMPI}, "remove --json", str(j))
    rc, out, err = h.mef(["subscriber", "remove", "--impi", IMPI])
    h.check(rc == 2 and err.count("\n") == 1, "removing it again: exit 2, one line", f"exit {rc}: {err}")
    h.check(IMPI not in [s["impi"] for s in h.mef_json(["subscriber", "list", "--limit", "1000"])["subscribers"]],
            "removed subscriber no longer listed")
    rc, out, err = h.mef(["subscriber", "add", "--impi", IMPI, "--k-file", kfile, "--opc-file", opcfile]
                         + guss("/dev-1"))
    h.check(rc == 0, "a removed IMPI can be added again, and its enrolee with it", f"exit {rc}: {err}")


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_subscriber").main(body)
