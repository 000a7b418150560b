#!/usr/bin/env python3
"""acp_test.py M2MSEC: access control after association (TS-0003 clause 7), end to end.

Real processes on loopback ("m2msec {mef,maf,cse} serve", "m2msec enrol",
"m2msec associate"), once over TLS and once over DTLS, with two AEs of
different identities:

  * AE 1 enrols at the MEF for Entity B (Enrolee-B = /in-cse): its M2M
    Application Key is the remotely provisioned Kpsa (docs/derivations.md),
    which it derives from Ke and Entity B fetches from the MEF; it
    authenticates to its registrar CSE with it and registers. Its requests
    are then decided under its AE-ID.
  * AE 2 enrols for the MAF and associates MAF-based (a new Kc each time).
  * AE 1 makes an ACP granting AE 2 CREATE and RETRIEVE on one container,
    "shared", and keeps "private" (no acpi: creator only); AE 2 keeps its
    own "mine". Each AE gets exactly what the policies say: every grant and
    every refusal below is a separate "m2msec associate" run, checked on its
    RSC (2001/2000 or 4103).
  * A second AE cannot use AE 1's Application Key: a handshake with AE 1's
    KpsaID and any other key fails (openssl s_client), and AE 2 claiming
    AE 1's ID on its own session is refused (4103).
  * The tree is persistent: after Entity B restarts, the same decisions.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_ID, MAF, MEF_FQDN, Saef  # noqa: E402

CSEBASE = "in-name"


class Device:
    """Device is one AE: its state and framework; each request is one "m2msec associate" run."""

    def __init__(self, h, ae_id, target, framework, dtls):
        self.h, self.id, self.framework, self.dtls = h, ae_id, framework, dtls
        self.state = h.enrol(ae_id, target, entity_id=ae_id)

    def expect(self, what, rsc, request, **kw):
        return self.h.expect_rsc(what, rsc, self.h.request(self.state, self.framework, request, dtls=self.dtls, **kw))


def acr(acor, acop):
    return {"acor": acor, "acop": acop}


def scenario(h, tag, dtls):
    t = "DTLS" if dtls else "TLS"
    a1_id, a2_id = f"C{tag}one", f"C{tag}two"
    a1 = Device(h, a1_id, CSE_ID, "kpsa", dtls)
    a2 = Device(h, a2_id, MAF, "maf", dtls)
    s1 = h.state(a1.state)
    h.check(s1["target_kind"] == "kpsa" and s1["target"] == CSE_ID and s1["key_id"].endswith("@" + MEF_FQDN),
            f"{t}: AE 1's Application Key is a Kpsa for its registrar CSE /in-cse", s1)

    # -- registration binds each AE to its authenticated AE-ID -------------------------------------
    r = a1.expect(f"{t}: AE 1 registers with its Application Key", 2001, "create-ae")
    ae = r.get("m2m:ae", {})
    h.check(ae.get("ri") == a1_id and ae.get("aei") == a1_id, f"{t}: AE 1's ri is its AE-ID-Stem, aei its AE-ID", r)
    r = a2.expect(f"{t}: AE 2 registers (MAF-based)", 2001, "create-ae")
    h.check(r.get("m2m:ae", {}).get("aei") == a2_id, f"{t}: AE 2 bound to its AE-ID", r)
    a1.expect(f"{t}: AE 1 cannot register twice", 4105, "create-ae", to="/" + CSEBASE)

    base1, base2 = f"/{CSEBASE}/{a1_id}", f"/{CSEBASE}/{a2_id}"
    # -- AE 1's policy: itself everything, AE 2 CREATE and RETRIEVE ---------------------------------
    acp = a1.expect(f"{t}: AE 1 creates an ACP", 2001, "create", to=base1, ty=1, content={"m2m:acp": {
        "rn": "share", "pv": {"acr": [acr([a1_id], 63), acr([a2_id], 3)]}, "pvs": {"acr": [acr([a1_id], 63)]}}})
    acp_ri = acp.get("m2m:acp", {}).get("ri", "")
    a1.expect(f"{t}: AE 1 creates 'shared' governed by it", 2001, "create", to=base1, ty=3,
              content={"m2m:cnt": {"rn": "shared", "acpi": [f"{CSE_ID}/{acp_ri}"]}})
    a1.expect(f"{t}: AE 1 creates 'private' (no acpi)", 2001, "create", to=base1, ty=3,
              content={"m2m:cnt": {"rn": "private"}})
    a1.expect(f"{t}: AE 1 writes to 'private'", 2001, "create", to=base1 + "/private", ty=4,
              content={"m2m:cin": {"con": "secret reading"}})
    a2.expect(f"{t}: AE 2 creates its own 'mine'", 2001, "create", to=base2, ty=3,
              content={"m2m:cnt": {"rn": "mine"}})

    # -- exactly what the policies say -------------------------------------------------------------
    cin = a2.expect(f"{t}: AE 2 writes to the shared container", 2001, "create", to=base1 + "/shared", ty=4,
                    content={"m2m:cin": {"con": "from two", "cnf": "text/plain:0"}})
    cin_rn = cin.get("m2m:cin", {}).get("rn", "missing")
    h.check(cin.get("m2m:cin", {}).get("cr") == a2_id, f"{t}: the contentInstance's creator is AE 2", cin)
    got = a2.expect(f"{t}: AE 2 reads the shared container", 2000, "retrieve", to=base1 + "/shared")
    h.check(got.get("m2m:cnt", {}).get("cni") == 1, f"{t}: it holds one instance", got)
    a1.expect(f"{t}: AE 1 reads AE 2's instance in 'shared'", 2000, "retrieve", to=f"{base1}/shared/{cin_rn}")
    a2.expect(f"{t}: AE 2 reads its instance by SP-relative ID", 2000, "retrieve",
              to=f"{CSE_ID}/{cin.get('m2m:cin', {}).get('ri', 'x')}")
    a2.expect(f"{t}: AE 2 may not delete 'shared'", 4103, "delete", to=base1 + "/shared")
    a2.expect(f"{t}: AE 2 may not update 'shared'", 4103, "update", to=base1 + "/shared",
              content={"m2m:cnt": {"lbl": ["mine now"]}})
    a2.expect(f"{t}: AE 2 may not change its acpi", 4103, "update", to=base1 + "/shared",
              content={"m2m:cnt": {"acpi": []}})
    a2.expect(f"{t}: AE 2 may not read 'private'", 4103, "retrieve", to=base1 + "/private")
    a2.expect(f"{t}: AE 2 may not write to 'private'", 4103, "create", to=base1 + "/private", ty=4,
              content={"m2m:cin": {"con": "x"}})
    a2.expect(f"{t}: AE 2 may not read AE 1's AE", 4103, "retrieve", to=base1)
    a2.expect(f"{t}: AE 2 may not create under AE 1", 4103, "create", to=base1, ty=3,
              content={"m2m:cnt": {"rn": "intruder"}})
    a2.expect(f"{t}: AE 2 may not read AE 1's ACP (selfPrivileges)", 4103, "retrieve", to=base1 + "/share")
    a1.expect(f"{t}: AE 1 reads 'private'", 2000, "retrieve", to=base1 + "/private")
    a1.expect(f"{t}: AE 1 may not read AE 2's 'mine'", 4103, "retrieve", to=base2 + "/mine")
    a1.expect(f"{t}: AE 1 may not read AE 2's AE", 4103, "retrieve", to=base2)
    a2.expect(f"{t}: AE 2 reads 'mine'", 2000, "retrieve", to=base2 + "/mine")
    a1.expect(f"{t}: nobody creates a container under the CSEBase", 4103, "create", to="/" + CSEBASE, ty=3,
              content={"m2m:cnt": {"rn": "top"}})

    # -- a second AE cannot use AE 1's Application Key -----------------------------------------------
    ok, out = h.openssl_psk(s1["key_id"], secrets.token_hex(32), dtls=dtls)
    h.check(not ok, f"{t}: AE 1's KpsaID with another key: handshake fails", out[-1500:])
    a2.expect(f"{t}: AE 2 claiming AE 1's ID on its own session", 4103, "retrieve", to=base1 + "/private",
              origin=a1_id)
    return a1, a2, base1, base2


def body(h):
    h.start_all()
    tls = scenario(h, "t", False)
    dtls = scenario(h, "d", True)

    # -- persistent: a restarted Entity B serves the same tree with the same decisions ------------
    h.cse.kill()
    h.start("cse")
    for (a1, a2, base1, _), t in ((tls, "TLS"), (dtls, "DTLS")):
        a2.expect(f"after restart, {t}: AE 2 still reads 'shared'", 2000, "retrieve", to=base1 + "/shared")
        a2.expect(f"after restart, {t}: AE 2 still may not read 'private'", 4103, "retrieve", to=base1 + "/private")
        a1.expect(f"after restart, {t}: AE 1 deletes its AE and everything under it", 2002, "delete", to=base1)
        a2.expect(f"after restart, {t}: 'shared' went with it", 4004, "retrieve", to=base1 + "/shared")

    audit = h.read(os.path.join(h.dir, "cse-audit.jsonl"))
    h.check('"kpsa"' in audit and "Ctone" in audit, "Entity B's audit trail records AE 1's Application Key grant")
    h.scan_secrets(expect_at_least=4)
    h.stop_all()


if __name__ == "__main__":
    Saef(sys.argv[1], "acp").main(body)
