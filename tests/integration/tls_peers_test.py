#!/usr/bin/env python3
"""tls_peers_test.py M2MSEC: PSK preference and the extended master secret, with real peers.

Issue 11: "PSK preferred when offered on every listener (server cipher
order), and extended master secret required by default for sessions whose
exporter output becomes a key (an option may relax it for old peers)."

The servers are "m2msec {mef,maf,cse} serve" (saef_harness.py); every
listener has a PSK lookup, a certificate and trust anchors (client
certificates required on certificate suites). The peers are the openssl and
gnutls-cli tools, and m2msec's own device client:

  * PSK preferred. openssl s_client -psk with its default cipher list (which
    offers the ECDHE-ECDSA suites too), and gnutls-cli with PSK_PRIORITY
    (which offers ECDHE-ECDSA-AES128-SHA256: CERT_PRIORITY, the same without
    PSK, gets that suite below), get a PSK session from the MEF (KpmID), the
    MAF (KeID and Km of an enrolled device) and Entity B (a provisioned
    KpsaID), over TLS, and over DTLS where the role listens on it (MAF,
    Entity B). Neither tool's defaults offer the clause 10.2 DTLS suites
    (CCM8), so over DTLS s_client gets "-cipher DTLS_BOTH" (the certificate
    suite first) and gnutls-cli "+AES-128-CCM-8". Each session is shown to be
    served: an HTTP request over it gets an HTTP response. "m2msec enrol --kpm-file ... --ca ..." (a device
    offering both) enrols over PSK.
  * Certificate clients are unaffected: s_client and gnutls-cli with a
    CSE-ID certificate and no PSK get ECDHE-ECDSA sessions.
  * Extended master secret (RFC 7627): s_client with "Options =
    -ExtendedMasterSecret" (an OPENSSL_CONF file) and gnutls-cli with
    %NO_SESSION_HASH are refused by every listener (handshake_failure
    alert; the role logs why). After a restart with
    require_extended_master_secret = false in every role table they get PSK
    sessions without it, and every role warned at start.

The PSKs (random per run) are given to openssl and gnutls-cli on their
command lines, as those tools take them no other way.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import os
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import (CSE_FQDN, MAF, MEF_FQDN, PROBE_KPSA_ID, Saef, Server,  # noqa: E402
                          wait_until)

TIMEOUT = 20
# gnutls-cli NORMAL has no CBC-SHA256 suite; +SHA256 adds ECDHE-ECDSA-AES128-SHA256 (and PSK-AES128-CBC-SHA256).
CERT_PRIORITY = "NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-DTLS1.2:+SHA256"
PSK_PRIORITY = CERT_PRIORITY + ":+PSK:+ECDHE-PSK"
DTLS_BOTH = "ECDHE-ECDSA-AES128-CCM8:PSK-AES128-CCM8"
DTLS_PRIORITY = ":+AES-128-CCM-8"
NO_EMS = ":%NO_SESSION_HASH"
EMS_REFUSED = "client did not offer the extended master secret"
RELAXED_WARNING = "require_extended_master_secret = false"
NO_EMS_CONF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
"""


class Role:
    """Role is one listener under test and a PSK it accepts."""

    def __init__(self, name, sni, port, identity, key_hex, dtls):
        self.name, self.sni, self.port, self.identity, self.key_hex, self.dtls = name, sni, port, identity, key_hex, dtls

    def server(self, h):
        return getattr(h, self.name)


def talk(cmd, ready, request, env=None):
    """talk runs a TLS client tool: waits for |ready| in its output, sends |request| and waits for an HTTP
    status line. Returns (output, ready seen, HTTP response seen)."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    buf = b""
    seen_ready = served = False
    end = time.time() + TIMEOUT
    try:
        while time.time() < end:
            if not seen_ready and re.search(ready, buf):
                seen_ready = True
                p.stdin.write(request)
                p.stdin.flush()
            if seen_ready and re.search(rb"HTTP/1\.1 \d{3} ", buf):
                served = True
                break
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
    except BrokenPipeError:
        pass
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(10)
    return buf.decode(errors="replace"), seen_ready, served


def request_for(sni):
    return (f"GET /probe HTTP/1.1\r\nHost: {sni}\r\nX-M2M-Origin: /probe\r\nX-M2M-RI: tls-peers\r\n"
            "X-M2M-RVI: 3\r\n\r\n").encode()


def s_client(role, dtls=False, psk=True, cert=None, env=None):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{role.port}", "-servername", role.sni,
           "-dtls1_2" if dtls else "-tls1_2"]
    if dtls:
        cmd += ["-cipher", DTLS_BOTH]
    if psk:
        cmd += ["-psk_identity", role.identity, "-psk", role.key_hex]
    if cert:
        cmd += ["-cert", cert[0], "-key", cert[1], "-CAfile", cert[2], "-verify_return_error"]
    # s_client prints the session block (with "Cipher is (NONE)") after a failed handshake too.
    return talk(cmd, rb"Cipher is (?!\(NONE\))[\s\S]*Extended master secret: (yes|no)\n", request_for(role.sni), env)


def gnutls(role, priority, dtls=False, psk=True, cert=None):
    if dtls:
        priority += DTLS_PRIORITY
    cmd = ["gnutls-cli", "127.0.0.1", "-p", str(role.port), "--sni-hostname", role.sni, "--priority", priority]
    if dtls:
        cmd.append("--udp")
    if psk:
        cmd += ["--pskusername", role.identity, "--pskkey", role.key_hex]
    if cert:
        cmd += ["--x509certfile", cert[0], "--x509keyfile", cert[1], "--x509cafile", cert[2],
                "--verify-hostname", role.sni]
    else:
        cmd.append("--insecure")
    return talk(cmd, rb"- Simple Client Mode", request_for(role.sni))


def s_client_cipher(out):
    m = re.search(r"Cipher is (\S+)", out)
    return m.group(1) if m else None


def gnutls_description(out):
    m = re.search(r"- Description: (\S+)", out)
    return m.group(1) if m else None


def gnutls_ems(out):
    m = re.search(r"- Options: (.*)", out)
    return bool(m and "extended master secret" in m.group(1))


def transports(role):
    return [False, True] if role.dtls else [False]


def tname(dtls):
    return "DTLS" if dtls else "TLS"


def expect_psk_sessions(h, roles, no_ems_env=None):
    """expect_psk_sessions: every role gives s_client and gnutls-cli (offering PSK and certificate suites) a
    served PSK session; with |no_ems_env| the clients leave the extended master secret out."""
    label = " without EMS" if no_ems_env else ""
    for role in roles:
        for dtls in transports(role):
            what = f"{role.name} {tname(dtls)}: s_client -psk, {'-cipher ' + DTLS_BOTH if dtls else 'default cipher list'}{label}"
            out, ready, served = s_client(role, dtls, env=no_ems_env)
            cipher = s_client_cipher(out)
            h.check(ready and cipher and cipher.startswith("PSK-"), f"{what}: PSK session ({cipher})", out[-1500:])
            h.check(served, f"{what}: served (HTTP response)", out[-1500:])
            ems = "Extended master secret: no" if no_ems_env else "Extended master secret: yes"
            h.check(ems in out, f"{what}: '{ems}'", out[-1500:])

            what = (f"{role.name} {tname(dtls)}: gnutls-cli {PSK_PRIORITY}{DTLS_PRIORITY if dtls else ''}"
                    f"{NO_EMS if no_ems_env else ''}")
            out, ready, served = gnutls(role, PSK_PRIORITY + (NO_EMS if no_ems_env else ""), dtls)
            desc = gnutls_description(out)
            h.check(ready and desc and "(PSK)" in desc, f"{what}: PSK session ({desc})", out[-1500:])
            h.check(served, f"{what}: served (HTTP response)", out[-1500:])
            h.check(gnutls_ems(out) != bool(no_ems_env), f"{what}: extended master secret "
                    f"{'not ' if no_ems_env else ''}in use", out[-1500:])


def body(h):
    h.start_all()
    no_ems_conf, _ = h.secret_file("no-ems.cnf", NO_EMS_CONF)
    no_ems_env = dict(os.environ, OPENSSL_CONF=no_ems_conf)
    cert = (os.path.join(h.pki, "dev-c.crt"), os.path.join(h.pki, "dev-c.key"), os.path.join(h.pki, "ca.crt"))

    kpm_id, kpm_file = h.add_enrolee("dev-psk")
    st = h.enrol("dev-maf")
    roles = [
        Role("mef", MEF_FQDN, h.ports["mef"], kpm_id, h.read(kpm_file), False),
        Role("maf", MAF, h.ports["maf"], h.state(st)["key_id"], h.read(os.path.join(st, "km.key")), True),
        Role("cse", CSE_FQDN, h.ports["cse"], PROBE_KPSA_ID, h.probe_kpsa_hex, True),
    ]

    # -- PSK preferred -------------------------------------------------------------------------------
    expect_psk_sessions(h, roles)
    rc, out, err = h.run(["enrol", "--mef", f"127.0.0.1:{h.ports['mef']}", "--mef-fqdn", MEF_FQDN, "--kpm-id",
                          kpm_id, "--kpm-file", kpm_file, "--ca", os.path.join(h.pki, "ca.crt"), "--maf", MAF,
                          "--state", os.path.join(h.dir, "state-dev-psk"), "--json"])
    h.check(rc == 0, "m2msec enrol --kpm-file --ca (offers PSK and certificate suites) enrols", err.strip())
    h.check(wait_until(lambda: "enrolled dev-psk@factory.example.com" in h.mef.log_text(), 5),
            "MEF log: dev-psk enrolled over PSK")

    # -- certificate clients still get certificate sessions ---------------------------------------------
    for role in roles:
        for dtls in transports(role):
            what = f"{role.name} {tname(dtls)}: s_client with a certificate, no PSK"
            out, ready, served = s_client(role, dtls, psk=False, cert=cert)
            cipher = s_client_cipher(out)
            h.check(ready and cipher and cipher.startswith("ECDHE-ECDSA-"), f"{what}: certificate session ({cipher})",
                    out[-1500:])
            h.check(served, f"{what}: served", out[-1500:])
            what = f"{role.name} {tname(dtls)}: gnutls-cli {CERT_PRIORITY} with a certificate"
            out, ready, served = gnutls(role, CERT_PRIORITY, dtls, psk=False, cert=cert)
            desc = gnutls_description(out)
            h.check(ready and desc and "(ECDHE-SECP256R1)-(ECDSA-SHA256)" in desc, f"{what}: certificate session "
                    f"({desc})", out[-1500:])
            h.check(served, f"{what}: served", out[-1500:])

    # -- extended master secret required ------------------------------------------------------------------
    for role in roles:
        for dtls in transports(role):
            srv = role.server(h)
            before = srv.log_text().count(EMS_REFUSED)
            what = f"{role.name} {tname(dtls)}: s_client -psk without EMS"
            out, ready, served = s_client(role, dtls, env=no_ems_env)
            h.check(not ready and not served and "alert handshake failure" in out, f"{what}: refused "
                    "(handshake_failure alert)", out[-1500:])
            h.check(wait_until(lambda: srv.log_text().count(EMS_REFUSED) > before, 10), f"{what}: the role logs why",
                    srv.log_text()[-1500:])
            before = srv.log_text().count(EMS_REFUSED)
            what = f"{role.name} {tname(dtls)}: gnutls-cli {NO_EMS}"
            out, ready, served = gnutls(role, PSK_PRIORITY + NO_EMS, dtls)
            h.check(not ready and not served and "Handshake failed" in out, f"{what}: refused", out[-1500:])
            h.check(wait_until(lambda: srv.log_text().count(EMS_REFUSED) > before, 10), f"{what}: the role logs why",
                    srv.log_text()[-1500:])
            h.check(srv.alive(), f"{role.name}: still running after the refusals")

    # -- relaxed: require_extended_master_secret = false admits legacy peers ------------------------------
    relaxed = os.path.join(h.dir, "relaxed.toml")
    with open(h.config) as f:
        text = f.read()
    for table in ("[mef]", "[maf]", "[cse]"):
        text = text.replace(table + "\n", table + "\nrequire_extended_master_secret = false\n", 1)
    with open(relaxed, "w") as f:
        f.write(text)
    for s in list(h.servers):
        s.kill()
    for role in ("mef", "maf", "cse"):
        setattr(h, role, Server(h, role, relaxed, role + "-relaxed"))
        h.check(RELAXED_WARNING in getattr(h, role).log_text(), f"{role}: warns at start that legacy peers are admitted")
    expect_psk_sessions(h, roles, no_ems_env)
    for role in roles:
        h.check(EMS_REFUSED not in role.server(h).log_text(), f"{role.name} (relaxed): refused no client for EMS")

    h.scan_secrets(expect_at_least=4)


if __name__ == "__main__":
    Saef(sys.argv[1], "tls-peers").main(body)
