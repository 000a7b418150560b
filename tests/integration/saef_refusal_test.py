#!/usr/bin/env python3
"""saef_refusal_test.py M2MSEC OPENSSL: security association refusals, real processes on loopback.

Each refusal must be a clear error (one "m2msec: error:" line, exit 1;
for a 7.2.1 originator mismatch the RSC 4103 answer and exit 1), and the
servers must keep serving a good device afterwards:

  * Entity B is not a target of the Kc (associate --cse-id /other-cse);
  * Kc expired (--kc-lifetime 1, --hold-ms 2500);
  * a KcID replayed from another TLS session with a wrong key
    (openssl s_client) while a real association holds it, and afterwards;
  * a KcID of a MAF Entity B does not know (a device served by maf2, and a
    made-up KcID), and the MAF down (before key registration, and between
    key registration and Entity B's retrieval), then restarted;
  * Km lifetime passed (enrolees with --expiry 3: at the MAF's store, and
    at the MEF when the MAF first fetches Km);
  * originator spoofed (--from /dev-2 -> RSC 4103);
  * Km requested by a MAF that is not the enrolee's target (maf2): the
    MEF refuses and logs it.

Also: no key in any log or command output. Prints "N passed, N failed".
"""
import json
import os
import secrets
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_FQDN, MAF2, PROBE_KPSA_ID, Saef, wait_until  # noqa: E402


# The error line names the server that refused (the MAF or Entity B).
ENTITY_B = "unknown PSK identity: Entity B"
AT_MAF = "unknown PSK identity: MAF"


def body(h):
    h.start_all()
    h.start("maf2")
    t_short = time.time()
    # Enrolments that expire in 8 s: one associates at once (Km stored at the MAF), one never did.
    # (8 s, not less: under a loaded sanitizer build two enrolments and an association can take
    # several seconds, and the association must come before the expiry.)
    st_e = h.enrol("dev-e", expiry="8")
    st_f = h.enrol("dev-f", expiry="8")
    h.expect_ok("dev-e associates before its Km expires", h.associate(st_e))
    st1 = h.enrol("dev-1")

    def good(after):
        h.expect_ok(f"good device still served after: {after}", h.associate(st1))

    good("start")

    # -- not a target -----------------------------------------------------------------
    h.expect_refusal("Entity B not a target of the Kc",
                     h.associate(st1, cse_id="/other-cse", extra=["--cse-fqdn", CSE_FQDN]), ENTITY_B)
    h.check("/in-cse is not a target of" in h.maf.log_text(), "MAF log: /in-cse is not a target")
    good("not a target")

    # -- Kc expired ---------------------------------------------------------------------
    h.expect_refusal("Kc expired (1 s lifetime, 2.5 s hold)",
                     h.associate(st1, extra=["--kc-lifetime", "1", "--hold-ms", "2500"]), ENTITY_B)
    h.check("MAF refused" in h.cse.log_text(), "Entity B log: the MAF refused the expired KcID")
    good("Kc expired")

    # -- KcID replayed with the wrong key ----------------------------------------------
    ok, out = h.openssl_psk(PROBE_KPSA_ID, h.probe_kpsa_hex)
    h.check(ok, "control: openssl s_client completes a PSK handshake with the right key", out[-1500:])
    ok, _ = h.openssl_psk(PROBE_KPSA_ID, secrets.token_hex(32))
    h.check(not ok, "control: openssl s_client with a wrong key fails")
    before = {k["kc_id"] for k in h.maf_keys()}
    p = h.spawn(h.associate_args(st1, extra=["--hold-ms", "3000"]))
    fresh = wait_until(lambda: [k["kc_id"] for k in h.maf_keys() if k["kc_id"] not in before], 20, step=0.1)
    if h.check(bool(fresh), "the real association's KcID is registered"):
        kc_id = fresh[0]
        ok, out = h.openssl_psk(kc_id, secrets.token_hex(32))
        h.check(not ok, "KcID replayed from another TLS session with a wrong key: handshake fails", out[-1500:])
        rc, out, err = h.wait(p)
        h.check(rc == 0 and json.loads(out).get("rsc") == 2000 and json.loads(out).get("key_id", "").lower() ==
                kc_id.lower(), "the real device with that KcID is still served", err)
        h.check(wait_until(lambda: kc_id not in {k["kc_id"] for k in h.maf_keys()}, 10, step=0.2),
                "KcID de-registered after the real connection ended")
        ok, _ = h.openssl_psk(kc_id, secrets.token_hex(32))
        h.check(not ok, "KcID replayed after the association: handshake fails")
    else:
        h.wait(p)
    good("KcID replay")

    # -- MAF unknown --------------------------------------------------------------------
    ok, _ = h.openssl_psk("ESIzRFVmd4iZqrvM3e7/AA==@maf9.example.com", secrets.token_hex(32))
    h.check(not ok, "made-up KcID of an unknown MAF: handshake fails")
    st_u = h.enrol("dev-u", target=MAF2)
    h.expect_refusal("KcID of a MAF not in [[cse.maf]] (device served by maf2)", h.associate(st_u), ENTITY_B)
    h.check(any(c["entity_id"] == "/dev-u" for c in h.maf_clients(h.config2)), "maf2 did serve dev-u's MAF phase")
    good("MAF unknown")

    # -- MAF down -----------------------------------------------------------------------
    h.maf.kill()
    h.expect_refusal("MAF down: associate fails cleanly", h.associate(st1), "could not connect: MAF")
    h.start("maf")
    good("MAF restarted")
    before = {k["kc_id"] for k in h.maf_keys()}
    p = h.spawn(h.associate_args(st1, extra=["--hold-ms", "2500"]))
    fresh = wait_until(lambda: [k["kc_id"] for k in h.maf_keys() if k["kc_id"] not in before], 20, step=0.1)
    h.check(bool(fresh), "Kc registered before the MAF goes down")
    h.maf.kill()
    rc, out, err = h.wait(p)
    h.expect_refusal("MAF down between key registration and Entity B's retrieval",
                     (rc, json.loads(out) if out.strip() else None, err), ENTITY_B)
    h.check("unreachable" in h.cse.log_text(), "Entity B log: MAF unreachable")
    h.start("maf")
    good("MAF restarted again")

    # -- Km lifetime passed -------------------------------------------------------------
    time.sleep(max(0.0, t_short + 9.5 - time.time()))
    h.expect_refusal("Km lifetime passed (stored at the MAF)", h.associate(st_e), AT_MAF)
    h.check("refused KmID" in h.maf.log_text(), "MAF log: expired KmID refused")
    h.expect_refusal("Km lifetime passed (MAF fetches it from the MEF)", h.associate(st_f), AT_MAF)
    h.check("refused" in h.maf.log_text() and "mef.example.com refused" in h.maf.log_text(),
            "MAF log: MEF refused the expired KeID")
    good("Km expired")

    # -- originator spoofed -------------------------------------------------------------
    rc, j, err = h.associate(st1, extra=["--from", "/dev-2"])
    h.check(rc == 1 and j is not None and j.get("rsc") == 4103, "X-M2M-Origin /dev-2 on /dev-1's session: RSC 4103,"
            " exit 1", (rc, j, err))
    h.check("refused request from '/dev-2'" in h.cse.log_text(), "Entity B log: spoofed originator refused")
    good("spoofed originator")

    # -- Km requested by a MAF that is not the enrolee's target --------------------------
    st_m = h.enrol("dev-m")
    # The device is sent to maf2 (a tampered state: target and address of maf2).
    evil = st_m + "-evil"
    shutil.copytree(st_m, evil)
    s = h.state(evil)
    s["target"], s["maf_address"] = MAF2, f"127.0.0.1:{h.ports['maf2']}"
    h.secret_file(os.path.join(evil, "state.json"), json.dumps(s))
    h.expect_refusal("Km requested by maf2, not the enrolee's MAF", h.associate(evil), AT_MAF)
    h.check("MAF maf2.example.com asked for" in h.mef.log_text(), "MEF log: refused maf2's Km request")
    h.check(not any(c["entity_id"] == "/dev-m" for c in h.maf_clients(h.config2)), "maf2 stored no Km for dev-m")
    h.expect_refusal("associate --maf pointed at maf2", h.associate(
        st_m, extra=["--maf", f"127.0.0.1:{h.ports['maf2']}"]), "MAF 127.0.0.1")
    h.expect_ok("dev-m itself associates through its own MAF", h.associate(st_m))
    good("maf2")

    h.stop_all()
    h.scan_secrets(expect_at_least=15)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: saef_refusal_test.py M2MSEC")
    Saef(sys.argv[1], "saef-refusal").main(body)
