#!/usr/bin/env python3
"""preprovision_test.py M2MSEC: root keys by pre-provisioning, end to end, with no MEF.

TS-0003 5.3.x.2 option 1 (seed 000): "M2M Root Key may be securely provisioned
during manufacturing or deployment". A MAF and an Entity B run (the MEF is
never started, and its port is checked to be closed); the operator loads Km,
KmID, the entity and an AE's App-ID into the MAF's key store, the MAS (seed
004), with "m2msec maf client add" and "m2msec maf client import"; the
factory side is "m2msec state init"; then "m2msec associate" must reach
Entity B's CSEBase (RSC 2000). Every refusal of the three commands is run
once and must give exit 2 and one error line naming the problem, and
nothing may be written by a refused import. The Km values are random
(python secrets), so the secret scan can look for them in every log and
command output.
"""
import json
import os
import secrets
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
from saef_harness import MAF, Saef  # noqa: E402


def body(h):
    km = {}  # label -> hex, for the secret scan

    def km_file(name, hex_text=None, mode=0o600):
        hx = hex_text if hex_text is not None else secrets.token_hex(32)
        path, _ = h.secret_file(name + ".km.hex", hx)
        os.chmod(path, mode)
        if len(hx) == 64 and all(c in "0123456789abcdef" for c in hx):
            km[name] = hx
        return path

    def refused(what, args, needle):
        rc, out, err = h.run(args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        h.check(rc == 2, f"{what}: exit 2", f"exit {rc}, stderr {err.strip()!r}")
        h.check(len(lines) >= 1 and all(ln.startswith("m2msec: error: ") for ln in lines),
                f"{what}: error lines only", repr(err))
        h.check(needle.lower() in err.lower(), f"{what}: error says '{needle}'", repr(err.strip()))
        h.check(out.strip() == "", f"{what}: nothing on stdout", repr(out))
        return err

    h.start("maf")
    h.start("cse")
    s = socket.socket()
    s.settimeout(1)
    h.check(s.connect_ex(("127.0.0.1", h.ports["mef"])) != 0, "no MEF is listening")
    s.close()

    add = ["maf", "client", "add", "--config", h.config]
    # 1. One client by "maf client add": an AE with its App-ID; the KmID is
    # given in upper case and stored canonical.
    f1 = km_file("pre1")
    j = h.json_cmd(add + ["--entity", "/in-cse/Cpre1", "--km-id", "PRE1@MAF.Example.com", "--km-file", f1,
                          "--lifetime", "30d", "--app-id", "Npre1"])
    h.check(j.get("km_id") == "pre1@maf.example.com", "KmID canonicalised", j)
    h.check(j.get("source") == "preprovisioned" and j.get("app_id") == "Npre1", "added as preprovisioned", j)
    h.check(j.get("mas_id") == MAF, "add names the MAS-ID", j)

    # 2. Refusals of "maf client add", one each.
    refused("duplicate KmID", add + ["--entity", "/pre-x", "--km-id", "pre1@maf.example.com", "--km-file",
                                     km_file("dupkm")], "km_id pre1@maf.example.com is taken (by /in-cse/Cpre1)")
    refused("duplicate entity", add + ["--entity", "/in-cse/Cpre1", "--km-id", "other@maf.example.com",
                                       "--km-file", km_file("dupent")], "entity_id /in-cse/Cpre1 already has")
    refused("bad entity ID", add + ["--entity", "no slash!", "--km-id", "x1@maf.example.com", "--km-file",
                                    km_file("badent")], "entity")
    refused("KmID of another MAF", add + ["--entity", "/pre-x", "--km-id", "x1@maf2.example.com", "--km-file",
                                          km_file("dom")], "must end in @maf.example.com")
    refused("not a KmID", add + ["--entity", "/pre-x", "--km-id", "no-at-sign", "--km-file", km_file("nokm")],
            "missing '@'")
    refused("short key", add + ["--entity", "/pre-x", "--km-id", "x1@maf.example.com", "--km-file",
                                km_file("short", secrets.token_hex(16))], "32 bytes")
    refused("bad hex", add + ["--entity", "/pre-x", "--km-id", "x1@maf.example.com", "--km-file",
                              km_file("badhex", "zz" * 32)], "hex")
    refused("key file not 0600", add + ["--entity", "/pre-x", "--km-id", "x1@maf.example.com", "--km-file",
                                        km_file("loose", mode=0o644)], "0600")
    refused("expiry in the past", add + ["--entity", "/pre-x", "--km-id", "x1@maf.example.com", "--km-file",
                                         km_file("past"), "--expires", "20200101T000000"], "not in the future")
    refused("bad App-ID", add + ["--entity", "/in-cse/Cx", "--km-id", "x1@maf.example.com", "--km-file",
                                 km_file("badapp"), "--app-id", "app"], "app_id must start with R")
    refused("App-ID for a CSE", add + ["--entity", "/pre-x", "--km-id", "x1@maf.example.com", "--km-file",
                                       km_file("cseapp"), "--app-id", "Napp"], "app_id is for an AE")

    # 3. "maf client import": all or nothing with per-row errors, then a good file.
    def csv(name, rows, mode=0o600):
        path, _ = h.secret_file(name + ".csv", "\n".join(rows))
        os.chmod(path, mode)
        return path

    good2, good3 = secrets.token_hex(32), secrets.token_hex(32)
    km["pre2"], km["pre3"] = good2, good3
    header = "entity_id,km_id,km_hex,lifetime,app_id"
    # Rows that fail the checks are all reported (the MAS is not consulted)...
    bad = csv("bad", [header,
                      f"/pre-2,pre2@maf.example.com,{good2},30d,",            # fine
                      f"/pre-6,pre6@maf2.example.com,{secrets.token_hex(32)},,",  # another MAF
                      "/pre-7,pre7@maf.example.com,zz,,",                     # bad hex
                      f"/pre-8,pre8@maf.example.com,{secrets.token_hex(32)},-5,",  # bad lifetime
                      f"pre-9,pre9@maf.example.com,{secrets.token_hex(32)},,"])  # bad entity
    rc, out, err = h.run(["maf", "client", "import", "--config", h.config, "--csv", bad])
    h.check(rc == 2, "bad import: exit 2", f"exit {rc} {err!r}")
    for needle in ("row 2 (line 3): invalid identifier: km_id must end in @maf.example.com",
                   "row 3 (line 4): km_hex must be hex", "row 4 (line 5): invalid argument: lifetime",
                   "row 5 (line 6): invalid identifier: entity", "nothing was imported"):
        h.check(needle in err, f"bad import reports '{needle}'", repr(err))
    h.check("row 1 " not in err, "bad import does not blame the good row", repr(err))
    h.check(len(h.maf_clients()) == 1, "bad import wrote nothing")
    # The header is checked once: an unknown column (even one whose every
    # cell is empty) and a missing required column refuse the file.
    for label, head, row, needle in (
            ("unknown column", "entity_id,km_id,km_hex,app_Id", f"/pre-7,pre7@maf.example.com,{good2},",
             "unknown column 'app_Id'"),
            ("missing column", "entity_id,km_hex", f"/pre-7,{good2}", "header lacks column km_id")):
        path = csv(label.replace(" ", "-"), [head, row])
        rc, _, err = h.run(["maf", "client", "import", "--config", h.config, "--csv", path])
        h.check(rc == 2 and needle in err, f"import with a {label}: exit 2, says '{needle}'", f"{rc} {err!r}")
    h.check(len(h.maf_clients()) == 1, "header refusals wrote nothing")
    # ... and so are collisions, with the MAS and within the file, when every row passes them.
    dup = csv("dup", [header,
                      f"/pre-2,pre2@maf.example.com,{good2},30d,",            # fine
                      f"/pre-4,pre2@maf.example.com,{secrets.token_hex(32)},,",  # KmID of row 1
                      f"/in-cse/Cpre1,pre5@maf.example.com,{secrets.token_hex(32)},,",  # entity in the MAS
                      f"/pre-2,pre6@maf.example.com,{secrets.token_hex(32)},,"])  # entity of row 1
    rc, out, err = h.run(["maf", "client", "import", "--config", h.config, "--csv", dup, "--json"])
    j = json.loads(out) if out.strip() else {}
    h.check(rc == 2 and j.get("imported") == 0, "colliding import: exit 2, nothing imported", f"{rc} {out!r}")
    errs = j.get("errors", [])
    for needle in ("row 2 (line 3): already exists: km_id pre2@maf.example.com is taken (by /pre-2)",
                   "row 3 (line 4): already exists: entity_id /in-cse/Cpre1 already has a root key",
                   "row 4 (line 5): already exists: entity_id /pre-2 already has a root key"):
        h.check(any(needle in e for e in errs), f"colliding import reports '{needle}'", errs)
    h.check(len(h.maf_clients()) == 1, "bad import wrote nothing")
    loose = csv("loose", [header, f"/pre-2,pre2@maf.example.com,{good2},30d,"], mode=0o644)
    refused("import file not 0600", ["maf", "client", "import", "--config", h.config, "--csv", loose],
            "0600")
    good = csv("good", [header, f"/pre-2,pre2@maf.example.com,{good2},30d,",
                        f"/in-cse/Cpre3,pre3@maf.example.com,{good3},,Rorg.example.pre3"])
    j = h.json_cmd(["maf", "client", "import", "--config", h.config, "--file", good])
    h.check(j.get("imported") == 2 and j.get("errors") == [] and j.get("mas_id") == MAF, "good import", j)

    clients = {c["entity_id"]: c for c in h.maf_clients()}
    h.check(set(clients) == {"/in-cse/Cpre1", "/pre-2", "/in-cse/Cpre3"}, "three clients in the MAS", clients)
    h.check(all(c["source"] == "preprovisioned" for c in clients.values()), "all listed as preprovisioned", clients)
    h.check(clients.get("/in-cse/Cpre1", {}).get("app_id") == "Npre1"
            and clients.get("/in-cse/Cpre3", {}).get("app_id") == "Rorg.example.pre3"
            and clients.get("/pre-2", {}).get("app_id") is None, "App-IDs listed beside their root keys", clients)
    rc, out, _ = h.run(["maf", "clients", "--config", h.config])
    rows = [ln.split() for ln in out.splitlines()]
    h.check(rc == 0 and rows and rows[0] == ["ENTITY", "KMID", "SOURCE", "APP-ID", "EXPIRES", "REGISTERED"],
            "text listing: a header", out)
    h.check(any(r[:1] == ["/in-cse/Cpre1"] and r[3:4] == ["Npre1"] for r in rows[1:]),
            "text listing shows the App-ID beside its entity", out)
    # Paging: entity-ID order, two at a time.
    page = h.json_cmd(["maf", "clients", "--config", h.config, "--limit", "2"])
    h.check([c["entity_id"] for c in page["clients"]] == ["/in-cse/Cpre1", "/in-cse/Cpre3"]
            and page["count"] == 2 and page["next_after"] == "/in-cse/Cpre3", "clients --limit 2: the first page", page)
    rc, out, err = h.run(["maf", "clients", "--config", h.config, "--limit", "2"])
    h.check(rc == 0 and "more clients follow; continue with --after '/in-cse/Cpre3'" in err,
            "clients --limit 2: says how to continue", err)
    page = h.json_cmd(["maf", "clients", "--config", h.config, "--after", "/in-cse/Cpre3"])
    h.check([c["entity_id"] for c in page["clients"]] == ["/pre-2"] and page["next_after"] is None,
            "clients --after: the rest", page)
    for limit, needle in (("0", "--limit: must be at least 1"), ("00", "--limit: must be at least 1"),
                          ("-1", "--limit: not a number"), ("+2", "--limit: not a number")):
        rc, out, err = h.run(["maf", "clients", "--config", h.config, "--limit", limit])
        h.check(rc == 2 and needle in err and out == "", f"clients --limit {limit}: exit 2, '{needle}'", f"{rc} {err!r}")
    # Every key the operator loaded is in the MAF's audit trail, with the MAS-ID; the refused ones are not.
    rc, out, err = h.run(["audit", "--config", h.config, "--role", "maf", "--event", "operator", "--json"])
    recs = [json.loads(ln) for ln in out.splitlines() if ln.strip()] if rc == 0 else []
    loaded = {(r.get("action"), r.get("entity")) for r in recs if r.get("mas_id") == MAF}
    h.check(loaded == {("add", "/in-cse/Cpre1"), ("import", "/pre-2"), ("import", "/in-cse/Cpre3")},
            "audit: one operator record per key loaded (add, import), with the MAS-ID", (rc, recs, err))

    # 4. MAS-ID in status (the MEF is down, so status is not healthy; the MAF part is what counts).
    rc, out, _ = h.run(["status", "--config", h.config, "--json"])
    st = json.loads(out)
    h.check(st.get("maf", {}).get("mas_id") == MAF, "status shows the MAS-ID", st.get("maf"))
    h.check(st.get("maf", {}).get("store", {}).get("clients") == 3, "status counts three clients", st.get("maf"))

    # 5. The factory: device state with the same Km, then association with no MEF.
    maf_addr = f"127.0.0.1:{h.ports['maf']}"
    dev = ["state", "init", "--maf", MAF, "--maf-address", maf_addr, "--sp-domain", pki.SP_DOMAIN]
    states = {}
    for name, entity, km_id, path in (("pre1", "/in-cse/Cpre1", "PRE1@maf.example.com", f1),
                                      ("pre2", "/pre-2", "pre2@maf.example.com", km_file("pre2", good2)),
                                      ("pre3", "/in-cse/Cpre3", "pre3@maf.example.com", km_file("pre3", good3))):
        state = os.path.join(h.dir, "state-" + name)
        j = h.json_cmd(dev + ["--state", state, "--entity", entity, "--km-id", km_id, "--km-file", path])
        h.check(j.get("km_id") == km_id.lower(), f"state init {name}", j)
        mode = os.stat(os.path.join(state, "km.key")).st_mode & 0o777
        h.check(mode == 0o600, f"{name} km.key is 0600", oct(mode))
        states[name] = state

    refused("state init over an existing state", dev + ["--state", states["pre2"], "--entity", "/pre-2",
                                                         "--km-id", "pre2@maf.example.com", "--km-file",
                                                         km_file("pre2", good2)], "already holds")
    refused("device KmID of another MAF", dev + ["--state", os.path.join(h.dir, "state-x"), "--entity", "/x",
                                                 "--km-id", "x@maf2.example.com", "--km-file", f1],
            "must end in @maf.example.com")
    refused("device key not 0600", dev + ["--state", os.path.join(h.dir, "state-x"), "--entity", "/x",
                                          "--km-id", "x@maf.example.com", "--km-file", km_file("loose2", mode=0o644)],
            "0600")
    refused("device short key", dev + ["--state", os.path.join(h.dir, "state-x"), "--entity", "/x",
                                       "--km-id", "x@maf.example.com", "--km-file",
                                       km_file("short2", secrets.token_hex(16))], "32")
    refused("device bad entity", dev + ["--state", os.path.join(h.dir, "state-x"), "--entity", "x y",
                                        "--km-id", "x@maf.example.com", "--km-file", f1], "entity")
    refused("device expiry in the past", dev + ["--state", os.path.join(h.dir, "state-x"), "--entity", "/x",
                                                "--km-id", "x@maf.example.com", "--km-file", f1,
                                                "--expires", "20200101T000000"], "not in the future")

    for name, state in states.items():
        j = h.expect_ok(f"{name} associates with no MEF", h.associate(state))
        if j:
            h.check(j.get("km_id") == h.state(state)["km_id"], f"{name} used its pre-provisioned KmID", j)
    # Each Kc was registered for its device and handed to Entity B (and is
    # de-registered when the session ends, so the log is the record).
    log = h.maf.log_text()
    for entity in ("/in-cse/Cpre1", "/pre-2", "/in-cse/Cpre3"):
        h.check(f"for {entity} -> /in-cse" in log, f"the MAF registered a Kc for {entity}")
    h.check("MEF" not in "".join(ln for ln in h.maf.log_text().splitlines() if "unreachable" in ln),
            "the MAF never tried a MEF")

    # 6. No Km in any log or command output.
    h.scan_secrets(expect_at_least=6, extra=km)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: preprovision_test.py M2MSEC")
    Saef(sys.argv[1], "preprovision").main(body)
