#!/usr/bin/env python3
"""interop_test.py CASE TLS_PEER MAKE_CERTS: m2msec vs openssl/gnutls CLIs.

Each case runs real processes on loopback and checks that both ends
exported the same RFC 5705 keying material (label EXPORTER-oneM2M-Bootstrap,
48 bytes). tls_peer prints only a SHA-256 of its export, so the CLI's hex
output is hashed here before comparing. Exit status 0 = pass. A
sanitizer report in tls_peer's output, or a tls_peer exit other than 0,
fails the case (proc_watch.py in tests/integration).
"""
import hashlib
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import proc_watch  # noqa: E402

LABEL = "EXPORTER-oneM2M-Bootstrap"
PSK_ID = "dev1@mef.example.com"
PSK_HEX = "8f1c2b3a4d5e6f708192a3b4c5d6e7f80112233445566778899aabbccddeeff0"
SNI = "mef.example.com"
TIMEOUT = 20


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha(hexstr):
    return hashlib.sha256(bytes.fromhex(hexstr)).hexdigest()


class Peer:
    """A tls_peer server process."""

    def __init__(self, exe, args):
        self.p = subprocess.Popen([exe, "server"] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.p.stdout.readline()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            raise SystemExit("tls_peer server did not start: " + line + self.p.stdout.read())
        self.port = int(m.group(1))

    def finish(self):
        out, _ = self.p.communicate(timeout=TIMEOUT)
        ours_ok("tls_peer server", self.p.returncode, out)
        return out


def ours_ok(what, rc, out):
    """ours_ok fails the case if one of our processes printed a sanitizer report or did not exit 0."""
    reports = proc_watch.sanitizer_reports(out)
    if reports:
        raise SystemExit(f"{what}: sanitizer report: " + "; ".join(reports))
    problem = proc_watch.exit_problem(what, rc, None)
    if problem:
        raise SystemExit(problem + ":\n" + out[-2000:])


def session_hash(out, want_kind=None):
    m = re.search(r"SESSION (\S+) (\S+) EXPORT-SHA256 ([0-9a-f]{64})", out)
    if not m:
        raise SystemExit("no SESSION line in:\n" + out)
    if want_kind and m.group(1) != want_kind:
        raise SystemExit(f"peer kind {m.group(1)}, want {want_kind}")
    return m.group(3), m.group(2)


def cli_keymat(out):
    m = re.search(r"Key(?:ing)? material: ([0-9A-Fa-f]+)", out)
    if not m:
        raise SystemExit("CLI printed no keying material:\n" + out)
    return sha(m.group(1))


def run(cmd):
    r = subprocess.run(cmd, input="", capture_output=True, text=True, timeout=TIMEOUT)
    return r.stdout + r.stderr


def check(name, ours, theirs):
    if ours != theirs:
        raise SystemExit(f"{name}: export mismatch {ours} != {theirs}")
    print(f"{name}: both sides exported the same 48 bytes (sha256 {ours[:16]}...)")


def s_client(port, extra, dtls=False):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", SNI,
           "-keymatexport", LABEL, "-keymatexportlen", "48"]
    cmd += ["-dtls1_2"] if dtls else ["-tls1_2"]
    return run(cmd + extra)


def s_server(extra, dtls=False):
    """Starts openssl s_server for one connection; returns (proc, port) once it listens.

    s_server prints ACCEPT when its socket is bound. A port that another
    process took meanwhile makes it exit at once: then another port.
    """
    for _ in range(3):
        port = free_port(socket.SOCK_DGRAM if dtls else socket.SOCK_STREAM)
        cmd = ["openssl", "s_server", "-accept", str(port), "-naccept", "1",
               "-keymatexport", LABEL, "-keymatexportlen", "48"]
        cmd += ["-dtls1_2"] if dtls else ["-tls1_2"]
        p = subprocess.Popen(cmd + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        # Read the raw descriptor, not p.stdout: what a buffered read took
        # would be missing from communicate() later.
        early = b""
        deadline = time.time() + TIMEOUT
        while b"ACCEPT\n" not in early and time.time() < deadline:
            ready, _, _ = select.select([p.stdout.fileno()], [], [], max(0.0, deadline - time.time()))
            chunk = os.read(p.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                break
            early += chunk
        p.early = early.decode(errors="replace")
        if b"ACCEPT\n" in early or p.poll() is None:
            return p, port
        p.wait()
    return p, port


def our_client(exe, transport, port, extra):
    r = subprocess.run([exe, "client", "--transport", transport, "--port", str(port), "--sni", SNI] + extra,
                       input="", capture_output=True, text=True, timeout=TIMEOUT)
    out = r.stdout + r.stderr
    ours_ok("tls_peer client", r.returncode, out)
    return out


def finish_s_server(p):
    try:
        out, _ = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.early + out


def case_openssl_psk(exe, pki):
    # openssl s_client -> m2msec server (asynchronous PSK lookup)
    srv = Peer(exe, ["--transport", "tls", "--fqdn", SNI, "--psk-identity", PSK_ID, "--psk-hex", PSK_HEX])
    cli = s_client(srv.port, ["-psk_identity", PSK_ID, "-psk", PSK_HEX, "-cipher", "PSK-AES128-CBC-SHA256"])
    ours, cipher = session_hash(srv.finish(), "psk")
    assert cipher == "PSK-AES128-CBC-SHA256", cipher
    assert "Extended master secret: yes" in cli, cli
    check("s_client->server TLS-PSK", ours, cli_keymat(cli))
    # m2msec client -> openssl s_server
    p, port = s_server(["-nocert", "-psk", PSK_HEX, "-psk_identity", PSK_ID, "-cipher", "PSK-AES128-CBC-SHA256"])
    out = our_client(exe, "tls", port, ["--psk-identity", PSK_ID, "--psk-hex", PSK_HEX])
    theirs = finish_s_server(p)
    ours, _ = session_hash(out, "psk")
    assert "EXTMS 1" in out, out
    check("client->s_server TLS-PSK", ours, cli_keymat(theirs))


def case_openssl_cert(exe, pki):
    ca = os.path.join(pki, "ca.pem")
    cert = ["--cert", os.path.join(pki, "mef.pem"), "--key", os.path.join(pki, "mef.key")]
    srv = Peer(exe, ["--transport", "tls", "--fqdn", SNI] + cert)
    cli = s_client(srv.port, ["-CAfile", ca, "-verify_return_error", "-verify_hostname", SNI,
                              "-cipher", "ECDHE-ECDSA-AES128-SHA256"])
    ours, cipher = session_hash(srv.finish(), "none")
    assert cipher == "ECDHE-ECDSA-AES128-SHA256", cipher
    assert "Verify return code: 0 (ok)" in cli, cli
    check("s_client->server TLS-cert", ours, cli_keymat(cli))
    # Mutual authentication with an AE-ID certificate.
    srv = Peer(exe, ["--transport", "tls", "--fqdn", SNI, "--client-ca", ca] + cert)
    cli = s_client(srv.port, ["-CAfile", ca, "-cert", os.path.join(pki, "ae.pem"), "-key", os.path.join(pki, "ae.key"),
                              "-cipher", "ECDHE-ECDSA-AES128-SHA256"])
    ours, _ = session_hash(srv.finish(), "certificate")
    check("s_client(AE cert)->server TLS-cert mutual", ours, cli_keymat(cli))
    # m2msec client -> openssl s_server with the MEF certificate.
    p, port = s_server(["-cert", os.path.join(pki, "mef.pem"), "-key", os.path.join(pki, "mef.key"),
                        "-cipher", "ECDHE-ECDSA-AES128-SHA256"])
    out = our_client(exe, "tls", port, ["--ca", ca])
    theirs = finish_s_server(p)
    ours, _ = session_hash(out, "certificate")
    check("client->s_server TLS-cert", ours, cli_keymat(theirs))


def case_openssl_dtls(exe, pki):
    ca = os.path.join(pki, "ca.pem")
    srv = Peer(exe, ["--transport", "dtls", "--fqdn", SNI, "--psk-identity", PSK_ID, "--psk-hex", PSK_HEX])
    cli = s_client(srv.port, ["-psk_identity", PSK_ID, "-psk", PSK_HEX, "-cipher", "PSK-AES128-CCM8"], dtls=True)
    ours, cipher = session_hash(srv.finish(), "psk")
    assert cipher == "PSK-AES128-CCM8", cipher
    check("s_client->server DTLS-PSK", ours, cli_keymat(cli))
    cert = ["--cert", os.path.join(pki, "mef.pem"), "--key", os.path.join(pki, "mef.key")]
    srv = Peer(exe, ["--transport", "dtls", "--fqdn", SNI] + cert)
    cli = s_client(srv.port, ["-CAfile", ca, "-verify_return_error", "-cipher", "ECDHE-ECDSA-AES128-CCM8"], dtls=True)
    ours, cipher = session_hash(srv.finish(), "none")
    assert cipher == "ECDHE-ECDSA-AES128-CCM8", cipher
    check("s_client->server DTLS-cert", ours, cli_keymat(cli))
    p, port = s_server(["-nocert", "-psk", PSK_HEX, "-psk_identity", PSK_ID, "-cipher", "PSK-AES128-CCM8"], dtls=True)
    out = our_client(exe, "dtls", port, ["--psk-identity", PSK_ID, "--psk-hex", PSK_HEX])
    theirs = finish_s_server(p)
    ours, _ = session_hash(out, "psk")
    check("client->s_server DTLS-PSK", ours, cli_keymat(theirs))


def case_gnutls_psk(exe, pki):
    srv = Peer(exe, ["--transport", "tls", "--fqdn", SNI, "--psk-identity", PSK_ID, "--psk-hex", PSK_HEX])
    cli = run(["gnutls-cli", "127.0.0.1", "-p", str(srv.port), "--sni-hostname", SNI,
               "--pskusername", PSK_ID, "--pskkey", PSK_HEX,
               "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+AES-128-CBC:+SHA256",
               "--keymatexport", LABEL, "--keymatexportsize", "48"])
    ours, cipher = session_hash(srv.finish(), "psk")
    assert cipher == "PSK-AES128-CBC-SHA256", cipher
    check("gnutls-cli->server TLS-PSK", ours, cli_keymat(cli))


def main():
    case, exe, make_certs = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp:
        pki = os.path.join(tmp, "pki")
        subprocess.run([make_certs, pki], check=True, timeout=60)
        globals()["case_" + case](exe, pki)
    print("PASS", case)


if __name__ == "__main__":
    main()
