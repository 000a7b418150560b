#!/usr/bin/env python3
"""gba_test.py M2MSEC: the GBA-based frameworks end to end (TS-0003 8.3.2.3;
3GPP TS 33.220, TS 24.109), real processes on loopback.

The MEF plays the BSF ([mef.bsf], Ub over TLS and DTLS with the MEF's
certificate only), the MAF and Entity B the NAF; devices are "m2msec enrol
--gba" with a simulated UICC (K and OPc in 0600 files, SQN_MS in the state
directory) and "m2msec associate":

  * a subscriber whose target is the MAF bootstraps on Ub and associates
    through the MAF (Km = the MAF's Ks_NAF, fetched by the MAF on Zn), over
    TLS and over DTLS (a device per transport: a B-TID's Km at a MAF is the
    one of the transport it first came over, which the device then uses
    over the other transport too);
  * a subscriber whose target is Entity B (/in-cse) uses the GBA-based SAEF
    straight to Entity B, over TLS and DTLS;
  * the independent check: Ks_NAF computed here by the openssl command line
    (HMAC-SHA-256 over the TS 33.220 Annex B string built field by field from
    the device's Ks, RAND and IMPI, NAF_Id = Entity B's FQDN and the Ua
    security protocol identifier) opens a PSK session at Entity B with
    openssl s_client under the B-TID, over TLS and DTLS; with the other
    transport's identifier it does not;
  * refusals: an unknown IMPI (403), a UICC with the wrong K (the device
    refuses the network: AUTN does not verify), a MAF-target subscriber at
    Entity B, an unknown B-TID at the MAF; a USIM ahead of the BSF
    resynchronises with AUTS and then bootstraps;
  * revocation: removing a subscriber (m2msec mef subscriber remove) ends
    its Km at the MAF and its Kpsa at Entity B;
  * a UE written here (python ssl, osmo-auc-gen for MILENAGE, hashlib for
    the Digest) bootstraps at the real MEF exactly as docs/protocol.md 2.3
    shows, checks the AUTN and the rspauth the MEF sends, and opens a PSK
    session at Entity B with the Ks_NAF the openssl CLI derives from its own
    CK || IK: no m2msec client code on the device side at all;
  * no key (Ks, K, OPc, any key file) in any log or command output.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import base64
import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_FQDN, CSE_ID, MAF, MEF_FQDN, Saef, wait_until  # noqa: E402
from gba_device_test import md5hex, osmo_auc_gen, parse_digest, quote, request_digest  # noqa: E402

IMS = "ims.mnc001.mcc001.3gppnetwork.org"
UA = {"tls": bytes.fromhex("01000100ae"), "dtls": bytes.fromhex("010001c0a8")}
SUITE = {"tls": "PSK-AES128-CBC-SHA256", "dtls": "PSK-AES128-CCM8"}


class Subscriber:
    def __init__(self, h, name, target):
        self.name = name
        self.impi = f"{name}@{IMS}"
        self.k_file, self.k = h.secret_file(name + ".k.hex", secrets.token_hex(16))
        self.opc_file, self.opc = h.secret_file(name + ".opc.hex", secrets.token_hex(16))
        rc, out, err = h.run(["mef", "subscriber", "add", "--config", h.config, "--impi", self.impi, "--k-file",
                              self.k_file, "--opc-file", self.opc_file, "--enrolee-id", "/" + name, "--target",
                              target, "--json"])
        h.check(rc == 0, f"subscriber {name} added (target {target})", err.strip())
        self.state = os.path.join(h.dir, "state-" + name)


def enrol(h, sub, transport="tls", maf=True, k_file=None):
    args = ["enrol", "--gba", "--mef", f"127.0.0.1:{h.ports['mef']}", "--mef-fqdn", MEF_FQDN, "--ca",
            os.path.join(h.pki, "ca.crt"), "--impi", sub.impi, "--k-file", k_file or sub.k_file, "--opc-file",
            sub.opc_file, "--entity-id", "/" + sub.name, "--state", sub.state, "--json", "--timeout-ms", "8000"]
    if maf:
        args += ["--maf", MAF, "--maf-address", f"127.0.0.1:{h.ports['maf']}"]
    if transport == "dtls":
        args.append("--dtls")
    rc, out, err = h.run(args)
    j = json.loads(out) if rc == 0 and out.strip() else None
    return rc, j, err


def associate(h, sub, framework="maf", transport="tls"):
    extra = ["--cse-fqdn", CSE_FQDN]
    if transport == "dtls":
        extra.append("--dtls")
    return h.associate(sub.state, framework=framework, extra=extra)


def annex_b_ks_naf(h, ks_hex, rand, impi, naf_fqdn, ua):
    """annex_b_ks_naf builds S = FC || P0 || L0 || P1 || L1 || ... (TS 33.220 B.2.0) here and has the openssl
    CLI compute HMAC-SHA-256(Ks, S): Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id) (B.3, FC 0x01)."""
    s = b"\x01"
    for p in (b"gba-me", rand, impi.encode(), naf_fqdn.lower().encode() + ua):
        s += p + len(p).to_bytes(2, "big")
    with tempfile.NamedTemporaryFile(dir=h.dir, delete=False) as f:
        f.write(s)
        path = f.name
    p = subprocess.run(["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + ks_hex, "-r", path],
                       capture_output=True, text=True, timeout=30)
    os.unlink(path)
    return p.stdout.split(" ")[0].strip()


def openssl_psk(h, identity, psk_hex, transport):
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{h.ports['cse']}", "-psk_identity", identity, "-psk",
            psk_hex, "-cipher", SUITE[transport], "-servername", CSE_FQDN]
    args += ["-dtls1_2"] if transport == "dtls" else ["-tls1_2"]
    try:
        p = subprocess.run(args, input="", capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired as e:
        # Over DTLS a Finished that does not verify is dropped, not
        # answered with an alert: s_client waits until it is killed.
        return False, f"no handshake within 10 s: {e.stdout!r} {e.stderr!r}"
    out = p.stdout + p.stderr
    return p.returncode == 0 and f"Cipher is {SUITE[transport]}" in out, out


class HttpOverTls:
    """HttpOverTls is one server-authenticated TLS connection to the MEF (the device has no credential), with
    just enough HTTP/1.1 for Ub: a request out, a response (status, headers, Content-Length body) in."""

    def __init__(self, h):
        ctx = ssl.create_default_context(cafile=os.path.join(h.pki, "ca.crt"))
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", h.ports["mef"]), timeout=10),
                                    server_hostname=MEF_FQDN)
        self.buf = b""

    def exchange(self, authorization):
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: {MEF_FQDN}\r\nAuthorization: {authorization}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def close(self):
        self.sock.close()


def python_ue(h, sub, k, opc):
    """python_ue runs Ub against the real MEF as docs/protocol.md 2.3 shows, with MILENAGE from osmo-auc-gen
    (the subscriber was added with SQN 0, so the first challenge carries SQN 1) and RFC 2617 digests from hashlib.
    Returns (B-TID, RAND, CK || IK hex) or None, counting checks on the way."""
    conn = HttpOverTls(h)
    try:
        status, headers, _ = conn.exchange(f'Digest username={quote(sub.impi)}, realm="{MEF_FQDN}", nonce="", '
                                           'uri="/", response=""')
        h.check(status == 401, "python UE: the initial GET gets 401", status)
        c = parse_digest(headers.get("www-authenticate", ""))
        h.check(c.get("realm") == MEF_FQDN and c.get("algorithm") == "AKAv1-MD5" and c.get("qop") == "auth-int",
                "python UE: an AKAv1-MD5 challenge with qop auth-int for realm MEF-FQDN", c)
        raw = base64.b64decode(c["nonce"])
        rand, autn = raw[:16], raw[16:32]
        rc, v, text = osmo_auc_gen(["-k", k, "-o", opc, "-r", rand.hex(), "-s", "1", "-f", "0000"])
        h.check(rc == 0 and v.get("AUTN") == autn.hex(), "python UE: the MEF's AUTN is osmo-auc-gen's for SQN 1", text)
        res = bytes.fromhex(v["RES"])
        cred = {"username": sub.impi, "realm": MEF_FQDN, "nonce": c["nonce"], "uri": "/", "qop": "auth-int",
                "nc": "00000001", "cnonce": secrets.token_hex(8)}
        response = request_digest(cred, res, "GET", b"")
        status, headers, body = conn.exchange(
            f'Digest username={quote(sub.impi)}, realm="{MEF_FQDN}", nonce="{c["nonce"]}", uri="/", '
            f'response="{response}", algorithm=AKAv1-MD5, qop=auth-int, nc=00000001, cnonce="{cred["cnonce"]}"')
        h.check(status == 200 and headers.get("content-type") == "application/vnd.3gpp.bsf+xml",
                "python UE: 200 with a BootstrappingInfo", (status, headers))
        info = parse_digest("Digest " + headers.get("authentication-info", ""))
        ha1 = md5hex(f"{sub.impi}:{MEF_FQDN}:".encode() + res)
        ha2 = md5hex(f":/:{md5hex(body)}".encode())
        rspauth = md5hex(f"{ha1}:{c['nonce']}:00000001:{cred['cnonce']}:auth-int:{ha2}".encode())
        h.check(info.get("rspauth") == rspauth, "python UE: the MEF's rspauth verifies", info)
        text_body = body.decode()
        b_tid = text_body.split("<btid>")[1].split("</btid>")[0]
        h.check(b_tid == base64.b64encode(rand).decode() + "@" + MEF_FQDN, "python UE: B-TID = base64(RAND)@MEF-FQDN",
                text_body)
        return b_tid, rand, v["CK"] + v["IK"]
    except (OSError, KeyError, IndexError, ValueError) as e:
        h.check(False, "python UE: Ub exchange", repr(e))
        return None
    finally:
        conn.close()


def body(h):
    h.start_all()
    extra_secrets = {}
    devices = {}

    # -- GBA-based SBF, then the MAF-based SAEF (Km = the MAF's Ks_NAF) --------
    for transport in ("tls", "dtls"):
        sub = Subscriber(h, f"dev-g-{transport}", MAF)
        devices[("maf", transport)] = sub
        extra_secrets[sub.name + " K"] = sub.k
        extra_secrets[sub.name + " OPc"] = sub.opc
        rc, j, err = enrol(h, sub, transport)
        h.check(rc == 0 and j is not None, f"{transport}: Ub bootstrap at the MEF", err.strip())
        if j is None:
            continue
        b_tid = j["b_tid"]
        rel, _, domain = b_tid.partition("@")
        h.check(domain == MEF_FQDN and len(base64.b64decode(rel, validate=True)) == 16,
                f"{transport}: B-TID is base64(RAND)@MEF-FQDN", b_tid)
        st = h.state(sub.state)
        h.check(st["ke_id"] == b_tid and st["key_id"] == b_tid and st["impi"] == sub.impi and st["sqn_ms"] >= 1,
                f"{transport}: state keeps the B-TID as KeID, the IMPI and SQN_MS", st)
        # The B-TID is a valid KmID and KeID (whatever the KeID encoding),
        # never a KpsaID.
        for kind, enc in (("kmid", "base64"), ("keid", "hex")):
            rc, out, err = h.run(["id", "check", "--kind", kind, "--id-encoding", enc, b_tid, "--json"])
            h.check(rc == 0 and json.loads(out)["canonical"] == b_tid, f"{transport}: id check --kind {kind} "
                    "accepts the B-TID", (rc, out, err))
        rc, _, _ = h.run(["id", "check", "--kind", "kpsaid", b_tid])
        h.check(rc == 2, f"{transport}: id check --kind kpsaid refuses the B-TID", rc)
        r = h.expect_ok(f"{transport}: GBA device associates through the MAF", associate(h, sub, "maf", transport))
        h.check(r is not None and r.get("entity_id") == "/" + sub.name, f"{transport}: Entity B knows the device "
                "by the subscriber's entity ID", r)
        h.expect_ok(f"{transport}: second association (registered KmID)", associate(h, sub, "maf", transport))
        # The MAF keeps the Km of the first session's transport; the device
        # keeps using it over the other transport.
        other = "dtls" if transport == "tls" else "tls"
        h.check(h.state(sub.state).get("gba_maf_ua") == transport, f"{transport}: state records the Ua transport of "
                "the MAF's Km", h.state(sub.state))
        h.expect_ok(f"{transport}: then associates over {other} with the same Km", associate(h, sub, "maf", other))

    # -- GBA-based SAEF straight to Entity B (Kpsa = Entity B's Ks_NAF) ---------
    for transport in ("tls", "dtls"):
        sub = Subscriber(h, f"dev-s-{transport}", CSE_ID)
        devices[("gba", transport)] = sub
        extra_secrets[sub.name + " K"] = sub.k
        extra_secrets[sub.name + " OPc"] = sub.opc
        rc, j, err = enrol(h, sub, transport, maf=False)
        h.check(rc == 0 and j is not None, f"{transport}: Ub bootstrap for the SAEF", err.strip())
        if j is None:
            continue
        r = h.expect_ok(f"{transport}: GBA-based SAEF with Entity B", associate(h, sub, "gba", transport))
        h.check(r is not None and r.get("key_id") == j["b_tid"], f"{transport}: presented the B-TID", r)
        # The independent derivation opens a session at Entity B.
        st = h.state(sub.state)
        ks = h.read(os.path.join(sub.state, "ke.key"))
        mine = annex_b_ks_naf(h, ks, bytes.fromhex(st["gba_rand"]), sub.impi, CSE_FQDN, UA[transport])
        h.check(len(mine) == 64, f"{transport}: openssl computed Ks_NAF", mine)
        extra_secrets[sub.name + " Ks_NAF"] = mine
        ok, out = openssl_psk(h, j["b_tid"], mine, transport)
        h.check(ok, f"{transport}: openssl s_client with the B-TID and the openssl-derived Ks_NAF", out[-600:])
        other = "dtls" if transport == "tls" else "tls"
        wrong = annex_b_ks_naf(h, ks, bytes.fromhex(st["gba_rand"]), sub.impi, CSE_FQDN, UA[other])
        ok, out = openssl_psk(h, j["b_tid"], wrong, transport)
        h.check(not ok, f"{transport}: the other transport's Ua identifier gives another key", out[-300:])

    # -- a UE with no m2msec code: python, osmo-auc-gen, hashlib, openssl -----
    sub = Subscriber(h, "dev-py", CSE_ID)
    extra_secrets[sub.name + " K"] = sub.k
    extra_secrets[sub.name + " OPc"] = sub.opc
    got = python_ue(h, sub, sub.k, sub.opc)
    if got:
        b_tid, rand, ks = got
        extra_secrets["python UE Ks"] = ks
        for transport in ("tls", "dtls"):
            mine = annex_b_ks_naf(h, ks, rand, sub.impi, CSE_FQDN, UA[transport])
            extra_secrets[f"python UE Ks_NAF {transport}"] = mine
            ok, out = openssl_psk(h, b_tid, mine, transport)
            h.check(ok, f"python UE: openssl s_client at Entity B over {transport} with its own Ks_NAF", out[-600:])

    # -- refusals --------------------------------------------------------------
    ghost = Subscriber.__new__(Subscriber)
    ghost.name, ghost.impi = "dev-ghost", f"dev-ghost@{IMS}"
    ghost.k_file, _ = h.secret_file("ghost.k.hex", secrets.token_hex(16))
    ghost.opc_file, _ = h.secret_file("ghost.opc.hex", secrets.token_hex(16))
    ghost.state = os.path.join(h.dir, "state-ghost")
    h.expect_refusal("unknown IMPI", enrol(h, ghost), "403")

    wrong_k = Subscriber(h, "dev-wrong-k", MAF)
    bad_k_file, _ = h.secret_file("wrong.k.hex", secrets.token_hex(16))
    h.expect_refusal("a UICC with another K refuses the network", enrol(h, wrong_k, k_file=bad_k_file),
                     "authentication failed")

    lost = Subscriber(h, "dev-resync", MAF)
    rc, j, err = enrol(h, lost)
    h.check(rc == 0, "resync device: first bootstrap", err.strip())
    if rc == 0:
        st = h.state(lost.state)
        ahead = 1_000_000
        st["sqn_ms"] = ahead
        h.secret_file(os.path.join(lost.state, "state.json"), json.dumps(st, indent=2))
        rc, j, err = enrol(h, lost)
        h.check(rc == 0 and j is not None and j["sqn_ms"] == ahead + 1,
                "a USIM ahead of the BSF resynchronises (AUTS) and bootstraps with SQN_MS + 1", (rc, j, err))

    maf_sub = Subscriber(h, "dev-maf-only", MAF)
    rc, j, err = enrol(h, maf_sub, maf=False)
    h.check(rc == 0, "MAF-target subscriber bootstraps", err.strip())
    h.expect_refusal("a MAF-target subscriber gets no Kpsa at Entity B", associate(h, maf_sub, "gba"))

    forged = h.write_state("forged", {
        "enrolee_id": "/forged", "mef_fqdn": MEF_FQDN, "ke_id": base64.b64encode(secrets.token_bytes(16)).decode() +
        "@" + MEF_FQDN, "expiry": 0, "target_kind": "maf", "target": MAF,
        "maf_address": f"127.0.0.1:{h.ports['maf']}", "key_id": "", "km_id": "", "sp_domain": "",
        "key_lifetime": 0, "impi": f"forged@{IMS}", "gba_rand": secrets.token_hex(16), "sqn_ms": 1},
        {"ke": secrets.token_hex(32)})
    st = h.state(forged)
    st["key_id"] = st["ke_id"]
    h.secret_file(os.path.join(forged, "state.json"), json.dumps(st, indent=2))
    fake = Subscriber.__new__(Subscriber)
    fake.name, fake.state = "forged", forged
    h.expect_refusal("an unknown B-TID at the MAF", associate(h, fake, "maf"))

    # -- the operator removes a subscriber: its keys are revoked everywhere ----
    # The MEF logs its live B-TIDs as revoked for their holder; the MAF
    # drops that Km and Entity B that Kpsa (revocation feeds, polled every
    # 250 ms), and the MEF gives no Ks_NAF for them any more.
    for framework in ("maf", "gba"):
        sub = devices.get((framework, "tls"))
        if sub is None:
            continue
        h.expect_ok(f"{framework}: associates before the subscriber is removed", associate(h, sub, framework))
        rc, _, err = h.run(["mef", "subscriber", "remove", "--config", h.config, "--impi", sub.impi])
        h.check(rc == 0, f"{framework}: subscriber {sub.name} removed", err.strip())
        refused = wait_until(lambda: associate(h, sub, framework)[0] != 0, 15, step=0.5)
        h.check(refused, f"{framework}: after the removal the device no longer associates (key revoked)")

    h.scan_secrets(expect_at_least=8, extra=extra_secrets)
    h.stop_all()


if __name__ == "__main__":
    Saef(sys.argv[1], "gba", bsf=True).main(body)
