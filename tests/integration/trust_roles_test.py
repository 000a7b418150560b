#!/usr/bin/env python3
"""trust_roles_test.py M2MSEC PROTOCOL_MD: role-separated trust anchors (issue 11 item 3; TS-0003 8.1.2, 10.1).

"Trust is per role: a CA trusted to vouch for devices must not be able to
vouch for a MAF." Real "m2msec {mef,maf,cse} serve" processes
(saef_harness.py) whose listeners have trust_anchors = the infrastructure
CA (pki/ca.crt) and device_trust_anchors = two device CAs
(pki/device-anchors.crt). openssl s_client sessions (as in
protocol_examples_test.py) present:

  * a DEVICE-CA certificate naming the MAF (dNSName maf.example.com):
    refused by the MEF's Km fetch (4103) and by Entity B's MAF Key Push
    acceptance (4103), where the MAF's own (infrastructure) certificate is
    served (2000) and accepted (2001);
  * a DEVICE-CA certificate naming Entity B (dNSName in-cse.sp.example.com
    and SAN URI /in-cse): refused by the MAF's Key Retrieval (4103) of a
    Kc that names /in-cse as target, which Entity B's own certificate gets
    (2000), and by the MEF's Kpsa fetch (4103);
  * an INFRASTRUCTURE-CA certificate naming a device: refused as an
    enrolee by the MEF and bound to nobody by Entity B (certificate SAEF).

Also the enrolee's root of trust by fingerprint: "mef enrolee add
--cert-ca <PEM>" stores sha256:<hex>, checked against "openssl x509
-noout -fingerprint -sha256" (pki.fingerprint), and "mef enrolee show
--json"; --cert-ca with a file of two certificates, with a CN, or an
import row with a CN is refused; an enrolee bound to device CA A that
presents a chain from device CA B is refused, the same one bound to B
enrols. And a config whose two anchor sets share a CA does not load.
Prints "N passed, N failed".
"""
import json
import os
import re
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
from protocol_examples_test import (CONNECTION, BOOTSTRAP, DOC_KV, DOC_RKI, FUTURE, Session, b64,  # noqa: E402
                                    parse_examples, pct, wire_request)
from saef_harness import CSE_FQDN, MAF, MEF_FQDN, Saef, wait_until  # noqa: E402


def body(h, doc_path):
    with open(doc_path) as f:
        ex = {name: (req, rsp) for name, req, rsp in parse_examples(f.read())[0]}
    ca = os.path.join(h.pki, "ca.crt")

    def cert(n):
        return os.path.join(h.pki, n + ".crt"), os.path.join(h.pki, n + ".key")

    def leaf(name, san, issuer):
        old = os.umask(0o077)
        try:
            pki.make_leaf(h.pki, name, san, ca=issuer)
        finally:
            os.umask(old)

    # Forged infrastructure names from the device CA; a device name from the infrastructure CA.
    leaf("forged-maf", "DNS:" + MAF, "device-ca")
    leaf("forged-cse", f"DNS:{CSE_FQDN},URI:/in-cse", "device-ca")
    leaf("infra-dev", "DNS:infra-dev." + pki.SP_DOMAIN, "ca")

    def rsc(port, sni, who, raw):
        s = Session(port, sni, CONNECTION, cert=cert(who), ca=ca)
        try:
            got = s.request(wire_request(raw))
        finally:
            s.close()
        return got[1].get("x-m2m-rsc"), got

    # -- config: one CA in both sets does not load ----------------------------------------------
    for name, device in (("same-file", "pki/ca.crt"), ("shared-ca", "pki/both.crt")):
        with open(os.path.join(h.pki, "both.crt"), "w") as out:
            for n in ("device-ca", "ca"):
                with open(os.path.join(h.pki, n + ".crt")) as f:
                    out.write(f.read())
        cfg = os.path.join(h.dir, name + ".toml")
        with open(cfg, "w") as f:
            f.write(f'[mef]\nfqdn = "{MEF_FQDN}"\nsp_domain = "{pki.SP_DOMAIN}"\ndata_dir = "{name}-data"\n'
                    f'certificate = "pki/mef.crt"\nprivate_key = "pki/mef.key"\ntrust_anchors = "pki/ca.crt"\n'
                    f'device_trust_anchors = "{device}"\n')
        rc, _, err = h.run(["mef", "enrolee", "list", "--config", cfg])
        h.check(rc == 2 and "device_trust_anchors" in err and "must not vouch" in err,
                f"config with a CA in both anchor sets ({name}) is refused", err.strip())

    # A third device CA with the SAME CN as device-ca ("device-ca test CA"): a CN names no CA.
    old = os.umask(0o077)
    try:
        pki.make_ca(h.pki, "device-twin-ca", cn="device-ca test CA")
        with open(os.path.join(h.pki, "device-anchors.crt"), "a") as out, \
                open(os.path.join(h.pki, "device-twin-ca.crt")) as f:
            out.write(f.read())
    finally:
        os.umask(old)

    h.start_all()
    mef, maf, cse = h.ports["mef"], h.ports["maf"], h.ports["cse"]

    # -- the MEF: Km fetch -----------------------------------------------------------------------
    st = h.enrol("dev-1")
    ke_id = h.state(st)["ke_id"]
    km_req, _ = ex["mef-fetch-km"]
    km_req = km_req.replace(pct("q83vASNFZ4mrze8BI0VniQ==@mef.example.com"), pct(ke_id))
    got, full = rsc(mef, MEF_FQDN, "forged-maf", km_req)
    h.check(got == "4103", "MEF: Km fetch with a device-CA certificate naming the MAF: 4103", full)
    h.check("key retrieval needs a certificate from an infrastructure trust anchor" in full[2],
            "MEF: the refusal says why", full)
    got, full = rsc(mef, MEF_FQDN, "maf", km_req)
    h.check(got == "2000", "MEF: Km fetch with the MAF's infrastructure certificate: 2000", full)

    # -- the MEF: Kpsa fetch ---------------------------------------------------------------------
    stk = h.enrol("dev-k", target="/in-cse")
    kpsa_id = h.state(stk)["key_id"]
    kpsa_req = (f"GET /mef/fetchCredentials/{pct(kpsa_id)}/{22} HTTP/1.1\nHost: {MEF_FQDN}\n"
                "X-M2M-Origin: /in-cse\nX-M2M-RI: t-1\nX-M2M-RVI: 4\nAccept: application/json\n\n")
    got, full = rsc(mef, MEF_FQDN, "forged-cse", kpsa_req)
    h.check(got == "4103", "MEF: Kpsa fetch with a device-CA certificate naming /in-cse: 4103", full)
    got, full = rsc(mef, MEF_FQDN, "in-cse", kpsa_req)
    h.check(got == "2000", "MEF: Kpsa fetch with Entity B's infrastructure certificate: 2000", full)

    # -- the MAF: Key Retrieval of a Kc whose target is /in-cse ----------------------------------
    st2 = h.enrol("dev-2")
    p = h.spawn(h.associate_args(st2, extra=["--hold-ms", "6000"]))
    keys = wait_until(lambda: [k for k in h.maf_keys() if k["entity_a_id"] == "/dev-2"], 20, step=0.2)
    h.check(bool(keys), "a Kc for /dev-2 -> /in-cse is registered at the MAF", keys)
    if keys:
        rel = keys[0]["kc_id"].split("@")[0]
        get_req, _ = ex["maf-key-retrieve"]
        get_req = get_req.replace(pct(DOC_RKI), pct(rel))
        got, full = rsc(maf, MAF, "forged-cse", get_req)
        h.check(got == "4103", "MAF: Kc retrieval with a device-CA certificate naming /in-cse: 4103", full)
        h.check("X-M2M-Origin is not the authenticated Entity B" in full[2], "MAF: the refusal says why", full)
        got, full = rsc(maf, MAF, "in-cse", get_req)
        h.check(got == "2000", "MAF: Kc retrieval with Entity B's infrastructure certificate: 2000", full)
    h.expect_ok("the held association itself", (lambda r: (r[0], json.loads(r[1]) if r[1].strip() else None,
                                                          r[2]))(h.wait(p)))
    h.check("certificate chains to a device trust anchor" in h.maf.log_text(),
            "MAF log: the refusal names the device anchor")

    # -- Entity B: MAF Key Push ------------------------------------------------------------------
    push_req, _ = ex["cse-maf-key-push"]
    push_req = re.sub(r'"et":"\d{8}T\d{6}"', '"et":"%s"' % FUTURE, push_req)
    push_req = push_req.replace(DOC_RKI, b64(secrets.token_bytes(16))).replace(DOC_KV, b64(secrets.token_bytes(32)))
    got, full = rsc(cse, CSE_FQDN, "forged-maf", push_req)
    h.check(got == "4103", "Entity B: key push with a device-CA certificate naming the MAF: 4103", full)
    h.check("key push needs a certificate from an infrastructure trust anchor" in full[2],
            "Entity B: the refusal says why", full)
    got, full = rsc(cse, CSE_FQDN, "maf", push_req)
    h.check(got == "2001", "Entity B: the same key push with the MAF's infrastructure certificate: 2001", full)

    # -- Entity B: certificate SAEF binds only device-CA certificates ----------------------------
    def cert_assoc(who):
        return h.associate(framework="cert", extra=[
            "--cert", cert(who)[0], "--key", cert(who)[1], "--ca", ca, "--entity-id", "/" + who,
            "--cse-fqdn", CSE_FQDN])
    h.expect_ok("Entity B: certificate SAEF with a device-CA certificate (/dev-c)", cert_assoc("dev-c"))
    rc, j, err = cert_assoc("infra-dev")
    h.check(rc != 0 and (j is None or j.get("rsc") != 2000),
            "Entity B: certificate SAEF with an infrastructure-CA certificate binds nobody", (rc, j, err))

    # -- the MEF: enrolee roots of trust by fingerprint ------------------------------------------
    device_fp = pki.fingerprint(os.path.join(h.pki, "device-ca.crt"))
    device2_fp = pki.fingerprint(os.path.join(h.pki, "device-ca2.crt"))
    h.check(device_fp != device2_fp and len(device_fp) == 71, "two distinct device CA fingerprints", device_fp)

    def add_cert_enrolee(name, cert_ca, enrolee_id=None):
        subject = f"{name}.{pki.SP_DOMAIN}"
        return h.run(["mef", "enrolee", "add", "--config", h.config, "--enrolee-id", enrolee_id or "/" + name,
                      "--cert-subject", subject, "--cert-ca", cert_ca, "--target", MAF])

    for name, ca_name in (("dev-a", "device-ca"), ("dev-b", "device-ca"), ("dev-i", "ca"),
                          ("dev-t", "device-twin-ca")):
        old = os.umask(0o077)
        try:
            pki.make_cse(h.pki, name, ca=ca_name)
        finally:
            os.umask(old)
    rc, _, err = add_cert_enrolee("dev-a", os.path.join(h.pki, "device-ca.crt"))
    h.check(rc == 0, "enrolee add --cert-ca <PEM file>", err)
    rc, out, err = h.run(["mef", "enrolee", "show", "--config", h.config, "--enrolee-id", "/dev-a", "--json"])
    shown = json.loads(out) if rc == 0 else {}
    h.check(shown.get("cert_trust_anchor") == device_fp,
            "enrolee show: cert_trust_anchor is the CA's sha256 fingerprint (as openssl computes it)",
            (shown.get("cert_trust_anchor"), device_fp))
    # /dev-b is bound to device CA 2 (literal fingerprint, upper case) but its chain ends at device CA 1.
    rc, _, err = add_cert_enrolee("dev-b", device2_fp.upper().replace("SHA256:", "sha256:"))
    h.check(rc == 0, "enrolee add --cert-ca sha256:<HEX>", err)
    rc, out, _ = h.run(["mef", "enrolee", "show", "--config", h.config, "--enrolee-id", "/dev-b", "--json"])
    h.check(rc == 0 and json.loads(out).get("cert_trust_anchor") == device2_fp, "stored in lower case", out)
    rc, _, err = add_cert_enrolee("dev-i", os.path.join(h.pki, "ca.crt"))
    h.check(rc == 0, "an enrolee bound to the infrastructure CA can be added (and will never enrol)", err)
    for what, arg, needle in (("a file with three certificates", os.path.join(h.pki, "device-anchors.crt"),
                               "holds 3 certificates"),
                              ("a CN", "device-ca test CA", "device-ca test CA"),
                              ("a short fingerprint", "sha256:abcd", "sha256:<64 hex digits>")):
        rc, _, err = add_cert_enrolee("dev-x", arg)
        h.check(rc == 2 and needle in err, f"enrolee add --cert-ca refuses {what}", err.strip())
    csv, _ = h.secret_file("roots.csv", "enrolee_id,target,cert_subject,cert_ca\n"
                           f"/dev-y,{MAF},dev-y.{pki.SP_DOMAIN},device-ca test CA\n")
    rc, _, err = h.run(["mef", "enrolee", "import", "--config", h.config, "--file", csv])
    h.check(rc == 2 and "cert_ca" in err, "enrolee import refuses a CN in cert_ca", err.strip())
    csv, _ = h.secret_file("roots2.csv", "enrolee_id,target,cert_subject,cert_ca\n"
                           f"/dev-z,{MAF},dev-z.{pki.SP_DOMAIN},{device_fp}\n")
    rc, _, err = h.run(["mef", "enrolee", "import", "--config", h.config, "--file", csv])
    h.check(rc == 0, "enrolee import takes cert_ca = sha256:<hex>", err.strip())

    def cert_enrol(name):
        return h.run(["enrol", "--mef", f"127.0.0.1:{mef}", "--mef-fqdn", MEF_FQDN, "--cert", cert(name)[0],
                      "--key", cert(name)[1], "--ca", ca, "--maf", MAF, "--state",
                      os.path.join(h.dir, "state-" + name), "--json"])

    rc, _, err = cert_enrol("dev-a")
    h.check(rc == 0, "enrolee bound to device CA 1 with a chain from device CA 1 enrols", err)
    rc, out, err = cert_enrol("dev-b")
    h.check(rc == 1 and "root of trust" in err, "enrolee bound to device CA 2 with a chain from device CA 1: refused",
            (rc, out, err))
    # /dev-t's chain ends at device-twin-ca, whose CN is device-ca's: bound to device-ca, it is refused
    # (a CN-matching MEF would have enrolled it).
    rc, _, err = add_cert_enrolee("dev-t", os.path.join(h.pki, "device-ca.crt"))
    h.check(rc == 0, "enrolee /dev-t bound to device-ca", err)
    rc, out, err = cert_enrol("dev-t")
    h.check(rc == 1 and "root of trust" in err,
            "a chain from another device CA with the same CN as the enrolee's root: refused", (rc, out, err))
    rc, out, err = cert_enrol("dev-i")
    h.check(rc == 1 and "device trust anchor" in err,
            "enrolee certificate from the infrastructure CA: refused", (rc, out, err))
    # Registered again under its real root (a removed ID is not reused), the same certificate
    # enrols: the refusal was the root of trust, nothing else.
    rc, _, err = h.run(["mef", "enrolee", "remove", "--config", h.config, "--enrolee-id", "/dev-b"])
    h.check(rc == 0, "enrolee /dev-b removed", err)
    rc, _, err = add_cert_enrolee("dev-b", os.path.join(h.pki, "device-ca.crt"), enrolee_id="/dev-b2")
    h.check(rc == 0, "the dev-b certificate registered again, as /dev-b2, with its real root", err)
    rc, out, err = cert_enrol("dev-b")
    h.check(rc == 0 and json.loads(out).get("enrolee_id") == "/dev-b2", "the dev-b certificate now enrols", err)

    h.scan_secrets()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: trust_roles_test.py M2MSEC PROTOCOL_MD")
    Saef(sys.argv[1], "trust-roles").main(lambda h: body(h, sys.argv[2]))
