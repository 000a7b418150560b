#!/usr/bin/env python3
"""saef_chain_test.py M2MSEC: security association end to end, real processes on loopback.

MEF, MAF and Entity B ("m2msec {mef,maf,cse} serve", one all.toml) and
devices ("m2msec enrol", "m2msec associate"):

  * MAF-based SAEF: MEF enrolment -> MAF handshake with the KeID (the MAF
    fetches Km from the MEF) -> MAF client registration (assigned KmID
    saved to the state) -> key registration -> TLS-PSK with the KcID at
    Entity B, which retrieves Kc from the MAF -> 2000 for the CSEBase, 2001
    for an AE create (second association, now with the KmID); over DTLS too.
  * Provisioned-key SAEF: an operator-provisioned Kpsa ([[cse.kpsa]]) and a
    MEF-provisioned one (enrolee with an Enrolee-B target; Entity B fetches
    Kpsa from the MEF).
  * Certificate-based SAEF with a CSE-ID certificate.
  * Lifetimes Kc <= Km <= Ke from "maf keys", "maf clients", state.json and
    "mef enrolee show"; Entity B de-registers Kc when the connection ends.
  * No key (hex or base64) in any server log (--log-level debug) or any
    command output; every server stops cleanly on SIGTERM.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_FQDN, CSE_ID, MAF, MEF_FQDN, Saef, wait_until  # noqa: E402


def body(h):
    h.start_all()

    # -- MAF-based SAEF, first association (KeID at the MAF) --------------------
    st1 = h.enrol("dev-1")
    s = h.state(st1)
    h.check(s["target_kind"] == "maf" and s["target"] == MAF and s["km_id"] == "" and
            s["key_id"].endswith("@" + MEF_FQDN), "enrolled for the MAF; presents the KeID until registered", s)
    j = h.expect_ok("MAF-based association, CSEBase retrieve", h.associate(st1))
    kc1 = None
    if j:
        kc1 = j["key_id"]
        cb = (j.get("response") or {}).get("m2m:cb", {})
        h.check(kc1.endswith("@" + MAF) and j["entity_id"] == "/dev-1", "KcID of the MAF, acting as /dev-1", j)
        h.check(cb.get("csi") == CSE_ID and cb.get("ty") == 5, "CSEBase of /in-cse returned", j)
        h.check(j["km_id"].endswith("@" + MAF) and len(j["km_id"].split("@")[0]) == 32, "assigned KmID hex@MAF", j)
    s = h.state(st1)
    h.check(s["km_id"] != "" and j is not None and s["km_id"] == j["km_id"], "assigned KmID saved in the state", s)
    clients = {c["entity_id"]: c for c in h.maf_clients()}
    h.check("/dev-1" in clients and clients["/dev-1"]["source"] == "mef" and clients["/dev-1"]["km_id"].lower() ==
            s["km_id"].lower(), "MAF stored Km fetched from the MEF under the assigned KmID", clients)
    h.check("gave Km for" in h.mef.log_text(), "MEF log: Km given to the MAF")
    h.check(wait_until(lambda: "retrieved" in h.cse.log_text() and "from MAF" in h.cse.log_text(), 5),
            "Entity B log: Kc retrieved from the MAF")

    # -- second association: KmID at the MAF, AE create ---------------------------
    j = h.expect_ok("second association (KmID), AE create", h.associate(
        st1, extra=["--request", "create-ae", "--ae-name", "lamp"]), rsc=2001)
    if j:
        ae = (j.get("response") or {}).get("m2m:ae", {})
        h.check(ae.get("rn") == "lamp" and ae.get("aei") == "/dev-1", "AE lamp created for /dev-1", j)
        h.check(j["key_id"] != kc1, "a fresh KcID per association")
    j = h.expect_ok("AE retrieve on a third association", h.associate(st1, extra=["--to", "/in-name/lamp"]))

    # -- DTLS ---------------------------------------------------------------------
    j = h.expect_ok("MAF-based association over DTLS", h.associate(st1, extra=["--dtls"]))
    j = h.expect_ok("MAF-based association over DTLS, AE create", h.associate(
        st1, extra=["--dtls", "--request", "create-ae", "--ae-name", "lamp-dtls"]), rsc=2001)

    # -- provisioned-key SAEF -----------------------------------------------------
    j = h.expect_ok("operator-provisioned Kpsa", h.associate(h.operator_state, framework="kpsa"))
    if j:
        h.check(j["entity_id"] == "/dev-9" and j["key_id"] == "dev-9@sp.example.com", "bound to /dev-9", j)
    h.expect_ok("operator-provisioned Kpsa, AE create", h.associate(
        h.operator_state, framework="kpsa", extra=["--request", "create-ae"]), rsc=2001)
    stk = h.enrol("dev-k", target=CSE_ID)
    s = h.state(stk)
    h.check(s["target_kind"] == "kpsa" and s["key_id"].endswith("@" + MEF_FQDN) and
            os.path.exists(os.path.join(stk, "kpsa.key")), "MEF-provisioned Kpsa in the state", s)
    j = h.expect_ok("MEF-provisioned Kpsa (Entity B fetches it from the MEF)", h.associate(stk, framework="kpsa"))
    h.check("gave Kpsa" in h.mef.log_text(), "MEF log: Kpsa given to Entity B")
    h.expect_ok("MEF-provisioned Kpsa again (cached), AE create", h.associate(
        stk, framework="kpsa", extra=["--request", "create-ae"]), rsc=2001)
    h.expect_ok("MEF-provisioned Kpsa over DTLS", h.associate(stk, framework="kpsa", extra=["--dtls"]))

    # -- certificate-based SAEF -----------------------------------------------------
    cert = ["--cert", os.path.join(h.pki, "dev-c.crt"), "--key", os.path.join(h.pki, "dev-c.key"), "--ca",
            os.path.join(h.pki, "ca.crt"), "--entity-id", "/dev-c", "--cse-fqdn", CSE_FQDN]
    h.expect_ok("certificate-based association", h.associate(framework="cert", extra=cert))
    j = h.expect_ok("certificate-based association, AE create", h.associate(
        framework="cert", extra=cert + ["--request", "create-ae"]), rsc=2001)
    if j:
        h.check((j.get("response") or {}).get("m2m:ae", {}).get("aei") == "/dev-c", "AE bound to /dev-c", j)

    # -- lifetimes: Kc <= Km <= Ke ----------------------------------------------------
    # dev-3's enrolee expiry (20 min) is below the MAF's Kc lifetime (1 h): Kc is capped at Km.
    st3 = h.enrol("dev-3", expiry="20m")
    p = h.spawn(h.associate_args(st3, extra=["--hold-ms", "3000"]))
    keys = wait_until(lambda: [k for k in h.maf_keys() if k["entity_a_id"] == "/dev-3"], 20, step=0.2)
    clients = {c["entity_id"]: c for c in h.maf_clients()}
    rc, out, err = h.wait(p)
    h.check(rc == 0 and '"rsc":2000' in out.replace(" ", ""), "association held 3 s still succeeds", err)
    show = h.json_cmd(["mef", "enrolee", "show", "--config", h.config, "--enrolee-id", "/dev-3"])
    s3 = h.state(st3)
    ke_exp = s3["expiry"]
    now = int(time.time())
    h.check(show["enrolment"] and show["enrolment"]["expires_at"] == ke_exp, "state.json expiry = MEF's enrolment",
            (show, ke_exp))
    h.check(ke_exp <= now + 20 * 60 + 5, "Ke capped at the enrolee's expiry", ke_exp - now)
    km_exp = clients.get("/dev-3", {}).get("expires_at")
    kc_exp = keys[0].get("expires_at") if keys else None
    h.check(bool(keys), "Kc of /dev-3 listed by 'maf keys' while the association is held")
    # A listing without an expiry must fail the comparison, never skip it.
    h.check(isinstance(kc_exp, int), "'maf keys' lists Kc's expires_at", keys)
    h.check(isinstance(km_exp, int), "'maf clients' lists Km's expires_at", clients.get("/dev-3"))
    h.check(isinstance(ke_exp, int) and isinstance(kc_exp, int) and isinstance(km_exp, int) and
            kc_exp <= km_exp <= ke_exp, "Kc <= Km <= Ke", (kc_exp, km_exp, ke_exp, now))
    h.check(kc_exp is not None and kc_exp == km_exp, "Kc capped at Km's expiry", (kc_exp, km_exp))
    h.check(bool(keys) and keys[0].get("targets") == [CSE_ID], "Kc's target is /in-cse", keys)
    # Seed 000: the connection key expires with the connection; Entity B de-registers it.
    h.check(wait_until(lambda: not [k for k in h.maf_keys() if k["entity_a_id"] == "/dev-3"], 10, step=0.2),
            "Kc de-registered at the MAF after the connection ended")
    # A requested Kc lifetime shorter than the MAF's wins; dev-1's Km (365 d) is far above.
    p = h.spawn(h.associate_args(st1, extra=["--hold-ms", "2000", "--kc-lifetime", "60"]))
    keys = wait_until(lambda: [k for k in h.maf_keys() if k["entity_a_id"] == "/dev-1"], 20, step=0.2)
    clients = {c["entity_id"]: c for c in h.maf_clients()}
    rc, out, err = h.wait(p)
    h.check(rc == 0, "association with --kc-lifetime 60", err)
    s1 = h.state(st1)
    kc_exp = keys[0].get("expires_at") if keys else None
    km_exp = clients.get("/dev-1", {}).get("expires_at")
    ke_exp = s1.get("expiry")
    h.check(all(isinstance(t, int) for t in (kc_exp, km_exp, ke_exp)), "Kc, Km and Ke of /dev-1 listed with expiries",
            (keys, clients.get("/dev-1"), ke_exp))
    h.check(all(isinstance(t, int) for t in (kc_exp, km_exp, ke_exp)) and kc_exp <= int(time.time()) + 61 and
            kc_exp < km_exp <= ke_exp, "Kc (60 s) < Km <= Ke", (kc_exp, km_exp, ke_exp, now))

    # -- shutdown and the secret scan ------------------------------------------------------
    h.stop_all()
    h.scan_secrets(expect_at_least=10)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: saef_chain_test.py M2MSEC")
    Saef(sys.argv[1], "saef-chain").main(body)
