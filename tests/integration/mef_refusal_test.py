#!/usr/bin/env python3
"""mef_refusal_test.py M2MSEC: every way the MEF refuses an enrolment.

Wrong Kpm, unknown KpmID, untrusted certificate, expired certificate,
unregistered certificate, expired enrolment (--expiry 2, then 3 s), an
enrolee removed while the server runs, and a --maf the enrolee is not
configured for. Each must make "m2msec enrol" exit 1 with one clear error
line and write no state; after each, the same server still enrols a good
enrolee. Also (issue 9 item 7): a TLS client on a certificate suite without
a client certificate (openssl s_client) is refused in the handshake.
"""
import os
import subprocess
import sys
import time

from mef_harness import MAF2, Harness


def body(h):
    good_kpm, _ = h.add_psk_enrolee("/good", "good@mef.example.com")
    dev_kpm, _ = h.add_psk_enrolee("/dev-001", "dev-001@mef.example.com")
    wrong_kpm, _ = h.new_kpm("wrong")
    short_kpm, _ = h.add_psk_enrolee("/short", "short@mef.example.com", expiry="2")
    gone_kpm, _ = h.add_psk_enrolee("/gone", "gone@mef.example.com")
    for name, ca, expired in (("dev-rogue", "rogue-ca", False), ("dev-old", "device-ca", True)):
        subject = h.pki_cse(name, ca=ca, expired=expired)
        rc, _, err = h.mef(["enrolee", "add", "--enrolee-id", "/" + name, "--cert-subject", subject, "--cert-ca",
                            os.path.join(h.pki, "device-ca.crt"),
                            "--target", "maf.example.com"])
        h.check(rc == 0, f"cert enrolee /{name} added", err)
    h.pki_cse("dev-stranger")  # trusted, but never registered
    # Trusted chain, but registered under another root of trust (seed 002:
    # the MEF checks the Enrolee Certificate Name and Enrolee Root of Trust).
    subject = h.pki_cse("dev-otherroot")
    rc, _, err = h.mef(["enrolee", "add", "--enrolee-id", "/dev-otherroot", "--cert-subject", subject,
                        "--cert-ca", os.path.join(h.pki, "device-ca2.crt"), "--target", "maf.example.com"])
    h.check(rc == 0, "cert enrolee /dev-otherroot added", err)
    added = time.time()

    mef = h.start_mef()
    n = [0]

    def still_serves(after):
        n[0] += 1
        rc, out, err = h.enrol(mef.tls_port, f"good{n[0]}", "good@mef.example.com", good_kpm)
        h.check(rc == 0, f"after {after}: a good enrolee still enrols", err.strip())

    def refused(what, result, needle, state):
        h.expect_refusal(what, result, needle)
        h.check(not os.path.exists(os.path.join(h.dir, state)), f"{what}: no state written")
        still_serves(what)

    refused("wrong Kpm", h.enrol(mef.tls_port, "s1", "dev-001@mef.example.com", wrong_kpm), "handshake", "s1")
    refused("wrong Kpm (dtls)", h.enrol(mef.dtls_port, "s1d", "dev-001@mef.example.com", wrong_kpm, dtls=True),
            "timed out", "s1d")
    refused("unknown KpmID", h.enrol(mef.tls_port, "s2", "nobody@mef.example.com", dev_kpm), "psk", "s2")
    refused("untrusted certificate", h.enrol(mef.tls_port, "s3", cert="dev-rogue"), "certificate", "s3")
    refused("expired certificate", h.enrol(mef.tls_port, "s4", cert="dev-old"), "certificate", "s4")
    refused("unregistered certificate", h.enrol(mef.tls_port, "s5", cert="dev-stranger"), "not found", "s5")
    refused("certificate from another root of trust", h.enrol(mef.tls_port, "s5r", cert="dev-otherroot"),
            "root of trust", "s5r")

    # Expired enrolment: the enrolee's expiry (2 s after add) has passed.
    time.sleep(max(0.0, added + 3.0 - time.time()))
    refused("expired enrolment", h.enrol(mef.tls_port, "s6", "short@mef.example.com", short_kpm), "psk", "s6")

    # Removed while the server runs: enrols first, then is removed.
    rc, _, err = h.enrol(mef.tls_port, "gone-ok", "gone@mef.example.com", gone_kpm)
    h.check(rc == 0, "/gone enrols before removal", err)
    rc, out, err = h.mef(["enrolee", "remove", "--enrolee-id", "/gone"])
    h.check(rc == 0, "mef enrolee remove while serving", err)
    refused("removed enrolee", h.enrol(mef.tls_port, "s7", "gone@mef.example.com", gone_kpm), "psk", "s7")
    j = h.mef_json(["enrolee", "show", "--enrolee-id", "/gone"])
    h.check(j["state"] == "removed" and j["enrolment"] is None, "removed enrolee: no enrolment left", str(j))

    # Certificate suite, no client certificate: refused with an alert (before,
    # the session completed and s_client read until stdin ended).
    for cipher, flag, port in (("ECDHE-ECDSA-AES128-SHA256", "-tls1_2", mef.tls_port),
                               ("ECDHE-ECDSA-AES128-CCM8", "-dtls1_2", mef.dtls_port)):
        p = subprocess.run(["openssl", "s_client", flag, "-connect", f"127.0.0.1:{port}", "-servername",
                            "mef.example.com", "-cipher", cipher, "-CAfile", os.path.join(h.pki, "ca.crt"),
                            "-verify_return_error"], input="", capture_output=True, text=True, timeout=30)
        h.check("alert" in p.stderr.lower(), f"{flag}: certificate-less client refused with an alert",
                p.stdout[-400:] + p.stderr[-400:])
        log = open(mef.log.name).read()
        h.check("needs a verified client certificate" in log or "did not return a certificate" in log.lower(),
                f"{flag}: the MEF logged why", log[-600:])
    still_serves("certificate-less clients")

    refused("wrong --maf", h.enrol(mef.tls_port, "s8", "dev-001@mef.example.com", dev_kpm, maf=MAF2),
            "not configured for MAF", "s8")

    st = h.mef_json(["status"])
    h.check(st["integrity"] == "ok" and st["removed_enrolees"] == 1, "status after refusals", str(st))
    h.check(mef.stop() == 0, "mef serve exits 0 on SIGTERM")


if __name__ == "__main__":
    Harness(sys.argv[1], "mef_refusal").main(body)
