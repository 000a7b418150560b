#!/usr/bin/env python3
"""coap_test.py M2MSEC: the CoAP binding (oneM2M TS-0008 over DTLS) end to end, real processes on loopback.

MEF, MAF and Entity B ("m2msec {mef,maf,cse} serve", saef_harness.py; the
MEF also on DTLS, and its [[mef.maf]] address for maf.example.com given as
coaps://) with DTLS listeners at their default dtls_binding = "auto", and
these peers:

  A. A device driven by external tools only. openssl s_client (DTLS 1.2,
     PSK-AES128-CCM8, the KpmID, -keymatexport EXPORTER-oneM2M-Bootstrap
     48) carries a CoAP POST /mef enrolment request that this script frames
     by hand (RFC 7252: CON, token, Uri-Path, Content-Format 50, oneM2M-TY
     10001, -FR = the KpmID, -RQI, -RVI); the ACK is decoded here (2.01,
     oneM2M-RSC 2001, RQI echoed, sec:enr). The enrolee's target is Entity
     B, so this script derives Ke, KeID, Kpsa and KpsaID from the exporter
     output itself (docs/derivations.md, TS-0003 10.3.1, 10.3.3, 10.3.4)
     and checks them against the MEF's answer; then libcoap's
     coap-client-openssl and coap-client-gnutls, with that KpsaID and Kpsa,
     retrieve the CSEBase, create an AE and retrieve it at Entity B.
  B. m2msec's own device side over coaps://: enrol at the MEF, MAF-based
     association (MAF client and key registration at the MAF, then Entity
     B), create-ae, a container, a contentInstance larger than one block
     (Block1 up, Block2 down), retrieves; a device that follows the coaps://
     MAF address of its enrolment instruction with no --maf; and the same
     chain with --dtls --binding http (legacy HTTP in DTLS) on the same
     listeners. The roles' /metrics show the sessions were DTLS ones.
  C. Refusals: at the MEF over s_client (CoAP ping -> Reset; a datagram
     that is not CoAP -> no answer, and one whose header reads -> Reset;
     wrong method and resource -> the documented 4.05/4005 and 4.04/4004;
     a method with no oneM2M operation; an unknown critical option -> 4.02;
     no oneM2M-RQI -> 4.00/4000; a non-JSON Content-Format -> 4.15; From
     other than the KpmID -> 4.03/4103; a retransmission -> the same answer
     again, not a second enrolment; a session whose first datagram is
     garbage stays a CoAP session that serves the next request); at Entity
     B over coap-client (unknown critical option, no RQI, a forged
     oneM2M-FR -> 4103, a wrong PSK -> no handshake); "m2msec enrol --gba
     --mef coaps://" is a usage error (Ub is HTTP). Every server is still
     running at the end and stops cleanly.
  D. m2msec's CoAP client against libcoap's coap-server-openssl (PSK, an
     ASCII key in a hand-written kpsa state): the DTLS handshake and the
     CoAP exchange complete (the server logs our request with its oneM2M
     options), and m2msec reports one clear error line, because libcoap's
     answer carries no oneM2M-RSC.

libcoap 4.3.1's client drops a response that carries critical options it
does not know (every oneM2M option is odd, so critical): it is run with
"-v 7 -B 3" and the response is read from its debug dump of the PDU. Its
-k takes the key bytes from argv, so a Kpsa with a 0x00 byte cannot be
passed: the tool-driven device then enrols again (a fresh Ke each time, at
most 12 times). The PSKs given to openssl and libcoap on their command
lines are a necessity of those tools, never printed here; the secret scan
looks for them (and Ke) in every server log and m2msec command output.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import secrets
import select
import shutil
import socket
import string
import struct
import subprocess
import sys
import time
import unicodedata
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_ID, MAF, MEF_FQDN, Saef, free_port, wait_until  # noqa: E402

TOOL_TIMEOUT = 20           # bound on one s_client wait or one libcoap run (never a measurement)
NUL_RETRIES = 12
EXPORTER_LABEL = "EXPORTER-oneM2M-Bootstrap"
DTLS_SUITE = "PSK-AES128-CCM8"
CCM8_OVERHEAD = 16          # DTLS 1.2 AES-CCM-8 record: 8-byte explicit nonce + 8-byte tag
CSEBASE = "in-name"
KPSA_LABEL = b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation"

# -- a small CoAP codec (RFC 7252) -------------------------------------------------------------------------
CON, NON, ACK, RST = 0, 1, 2, 3
TYPE_NAMES = {"CON": CON, "NON": NON, "ACK": ACK, "RST": RST}
GET, POST, PUT, DELETE, FETCH = 1, 2, 3, 4, 5
URI_PATH, CONTENT_FORMAT = 11, 12
M2M_TY, M2M_RVI, M2M_FR, M2M_RQI, M2M_RSC = 267, 271, 279, 283, 307
FORMAT_JSON = 50
TY_ENROLMENT = 10001      # proto::kTyEnrolment (include/m2msec/proto/messages.h)


def code(cls, detail):
    return cls << 5 | detail


def code_text(c):
    return f"{c >> 5}.{c & 31:02d}"


def uint(v):
    return v.to_bytes(4, "big").lstrip(b"\0")


def _nibble(x):
    if x < 13:
        return x, b""
    if x < 269:
        return 13, bytes([x - 13])
    return 14, struct.pack(">H", x - 269)


def coap_encode(mtype, mcode, mid, token=b"", options=(), payload=b""):
    """coap_encode frames one message; options are (number, bytes), emitted in number order (stable)."""
    out = bytes([0x40 | mtype << 4 | len(token), mcode]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        dn, de = _nibble(num - last)
        ln, le = _nibble(len(val))
        out += bytes([dn << 4 | ln]) + de + le + val
        last = num
    return out + (b"\xff" + payload if payload else b"")


class Msg:
    def __init__(self, mtype, mcode, mid, token, options, payload):
        self.type, self.code, self.mid, self.token, self.options, self.payload = \
            mtype, mcode, mid, token, options, payload

    def opt(self, num):
        for n, v in self.options:
            if n == num:
                return v
        return None

    def rsc(self):
        v = self.opt(M2M_RSC)
        return int.from_bytes(v, "big") if v is not None else None

    def json(self):
        try:
            return json.loads(self.payload)
        except ValueError:
            return None

    def __repr__(self):
        names = {v: k for k, v in TYPE_NAMES.items()}
        return (f"{names.get(self.type)} {code_text(self.code)} mid={self.mid:#06x} token={self.token.hex()} "
                f"options={[(n, v) for n, v in self.options]} payload={self.payload[:300]!r}")


def coap_decode(data):
    """coap_decode reads one message; ValueError if it is not well-formed CoAP."""
    if len(data) < 4 or data[0] >> 6 != 1:
        raise ValueError("not CoAP version 1")
    tkl = data[0] & 15
    if tkl > 8 or len(data) < 4 + tkl:
        raise ValueError("bad token length")
    mtype, mcode, mid = (data[0] >> 4) & 3, data[1], struct.unpack(">H", data[2:4])[0]
    token, i, num, options, payload = data[4:4 + tkl], 4 + tkl, 0, [], b""

    def ext(nib, i):
        if nib < 13:
            return nib, i
        if nib == 13:
            return data[i] + 13, i + 1
        if nib == 14:
            return struct.unpack(">H", data[i:i + 2])[0] + 269, i + 2
        raise ValueError("reserved option nibble")

    while i < len(data):
        if data[i] == 0xFF:
            payload = data[i + 1:]
            if not payload:
                raise ValueError("payload marker without payload")
            break
        delta, length = data[i] >> 4, data[i] & 15
        delta, i = ext(delta, i + 1)
        length, i = ext(length, i)
        num += delta
        if i + length > len(data):
            raise ValueError("option past the end")
        options.append((num, data[i:i + length]))
        i += length
    return Msg(mtype, mcode, mid, token, options, payload)


def m2m_request(mcode, path, origin, rqi=None, ty=None, body=None, extra=(), mtype=CON):
    """m2m_request frames a oneM2M request (TS-0008): returns (bytes, mid, token)."""
    mid, token = secrets.randbelow(0x10000), secrets.token_bytes(4)
    opts = [(URI_PATH, seg.encode()) for seg in path.strip("/").split("/") if seg]
    if ty is not None:
        opts.append((M2M_TY, uint(ty)))
    if origin is not None:
        opts.append((M2M_FR, origin.encode()))
    if rqi is not None:
        opts.append((M2M_RQI, rqi.encode()))
    opts.append((M2M_RVI, b"4"))
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        opts.append((CONTENT_FORMAT, uint(FORMAT_JSON)))
    opts += list(extra)
    return coap_encode(mtype, mcode, mid, token, opts, payload), mid, token


def enrol_body():
    return {"sec:enr": {"cei": False, "mei": True, "rmi": False}}


# -- derivations (docs/derivations.md) ----------------------------------------------------------------------
def split_exported(km):
    """10.3.1: relative ID = the 16 most significant bytes (first), key = the 32 least significant (last)."""
    return km[:16], km[16:]


def derive_kpsa(ke, enrolee_b_id):
    """10.3.3: Kpsa = HMAC-SHA-256(Ke, label || NFKC(Enrolee-B-ID))."""
    return hmac.new(ke, KPSA_LABEL + unicodedata.normalize("NFKC", enrolee_b_id).encode("utf-8"),
                    hashlib.sha256).digest()


def ke_id(rel):
    return base64.b64encode(rel).decode() + "@" + MEF_FQDN


def kpsa_id(rel):
    return rel.hex() + "@" + MEF_FQDN


# -- openssl s_client as a DTLS datagram pipe ----------------------------------------------------------------
class DtlsSession:
    """DtlsSession is one "openssl s_client -dtls1_2" PSK session: each write to its stdin is one datagram
    (s_client sends what one read() of stdin returns as one record; each datagram is written only after
    s_client reported the previous record sent), the datagrams received are its stdout after the session
    block, cut at the record lengths -msg reports (to a file: -msgfile)."""
    count = 0

    def __init__(self, h, port, identity, psk_hex, sni, export=False):
        DtlsSession.count += 1
        self.msgfile = os.path.join(h.dir, f"s_client-{DtlsSession.count}.msg")
        self.errfile = open(os.path.join(h.dir, f"s_client-{DtlsSession.count}.err"), "w")
        cmd = ["openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-psk_identity", identity,
               "-psk", psk_hex, "-servername", sni, "-cipher", DTLS_SUITE, "-nocommands", "-msg", "-msgfile",
               self.msgfile]
        if export:
            cmd += ["-keymatexport", EXPORTER_LABEL, "-keymatexportlen", "48"]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errfile)
        self.out = b""
        self.data_start = None
        self.taken = 0          # received records already returned
        self.failed = False
        self.last_raw = None
        try:
            self._pump_until(self._handshake_done)
        except BaseException:
            self.close()
            raise
        self.ready = self.data_start is not None

    def _handshake_done(self):
        m = re.search(rb"Extended master secret: (?:yes|no)\n(?:Keying material exporter:\n(?:    .*\n){3})?---\n",
                      self.out)
        if m and b"Cipher is " + DTLS_SUITE.encode() in self.out:
            self.data_start = m.end()
            return True
        if b"Cipher is (NONE)" in self.out or self.p.poll() is not None:
            self.failed = True
            return True
        return False

    def _pump_until(self, cond, timeout=TOOL_TIMEOUT):
        end = time.time() + timeout
        while not cond():
            if time.time() > end:
                return False
            r, _, _ = select.select([self.p.stdout], [], [], 0.05)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    return cond()
                self.out += chunk
        return True

    def _records(self, direction):
        """_records returns the plaintext lengths of the application-data records -msg saw, in order."""
        try:
            with open(self.msgfile, errors="replace") as f:
                text = f.read()
        except OSError:
            return []
        lens = []
        for d, hdr in re.findall(r"^(<<<|>>>) [^\n]*\[length 000d\]\n\s+17 fe fd((?: [0-9a-f]{2}){10})\n", text,
                                 re.M):
            if d == direction:
                b = bytes.fromhex(hdr.replace(" ", ""))
                lens.append(int.from_bytes(b[-2:], "big") - CCM8_OVERHEAD)
        return lens

    def keying_material(self):
        m = re.search(rb"Keying material: ([0-9A-F]{96})\n", self.out[:self.data_start or 0])
        return bytes.fromhex(m.group(1).decode()) if m else None

    def send(self, datagram):
        """send writes one datagram and waits until s_client has sent it as one record."""
        before = len(self._records(">>>"))
        self.p.stdin.write(datagram)
        self.p.stdin.flush()
        return wait_until(lambda: len(self._records(">>>")) > before, TOOL_TIMEOUT, step=0.01)

    def recv(self, n=1):
        """recv returns the next |n| datagrams received (fewer if they do not come within TOOL_TIMEOUT)."""
        def have():
            lens = self._records("<<<")
            return len(lens) >= self.taken + n and len(self.out) - self.data_start >= sum(lens[:self.taken + n])
        self._pump_until(have)
        lens = self._records("<<<")
        out = []
        while len(out) < n and self.taken < len(lens):
            start = self.data_start + sum(lens[:self.taken])
            end = start + lens[self.taken]
            if len(self.out) < end:
                break
            out.append(self.out[start:end])
            self.taken += 1
        return out

    def exchange(self, datagram):
        """exchange sends one datagram and returns the next one received, decoded (None if none came)."""
        if not self.send(datagram):
            return None
        got = self.recv(1)
        self.last_raw = got[0] if got else None
        if not got:
            return None
        try:
            return coap_decode(got[0])
        except ValueError as e:
            return Msg(None, 0, 0, b"", [], f"undecodable {got[0]!r}: {e}".encode())

    def diag(self):
        with open(self.errfile.name, errors="replace") as f:
            err = f.read()
        # s_client's output before the data holds no key but the keying material and the master secret: cut them.
        head = re.sub(rb"(Keying material|Master-Key): [0-9A-F]+", rb"\1: <cut>", self.out[:self.data_start or None])
        return (head.decode(errors="replace")[-1500:] + "\n" + err[-1500:])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        for f in (self.p.stdin, self.p.stdout, self.errfile):
            try:
                f.close()
            except OSError:
                pass


# -- libcoap's client ------------------------------------------------------------------------------------------
LIBCOAP_PDU = re.compile(r"^v:1 t:(CON|NON|ACK|RST) c:(\S+) i:([0-9a-f]{4}) \{([0-9a-f]*)\} \[ ?(.*?) ?\]"
                         r"(?: :: '(.*)')?$", re.M)


def parse_libcoap(text):
    """parse_libcoap returns the responses in libcoap's -v 7 PDU dumps, as Msg (options by number; known
    options other than Content-Format are left out)."""
    out = []
    for t, c, mid, tok, opts, payload in LIBCOAP_PDU.findall(text):
        m = re.fullmatch(r"(\d)\.(\d\d)", c)
        if not m:
            continue  # a request (GET, POST, ...) or an empty message
        options = []
        for part in opts.split(", ") if opts else []:
            num, _, val = part.partition(":")
            if num.isdigit():
                raw = bytes(int(x, 16) for x in re.findall(r"\\x([0-9A-Fa-f]{2})", val))
                options.append((int(num), raw))
            elif num == "Content-Format":
                options.append((CONTENT_FORMAT, val.encode()))
        out.append(Msg(TYPE_NAMES[t], code(int(m.group(1)), int(m.group(2))), int(mid, 16), bytes.fromhex(tok),
                       options, payload.encode()))
    return out


class Libcoap:
    """Libcoap runs libcoap's coap-client (openssl or gnutls build) with one PSK against one port."""

    def __init__(self, tool, port, identity, key):
        self.tool, self.port, self.identity, self.key = tool, port, identity, key

    def call(self, method, path, options=(), payload=None):
        """call returns (the first response libcoap dumped or None, its output with the key cut)."""
        cmd = [self.tool, "-v", "7", "-B", "3", "-u", self.identity, "-k", self.key, "-m", method]
        for num, val in options:
            cmd += ["-O", f"{num},{val}"]
        if payload is not None:
            cmd += ["-t", str(FORMAT_JSON), "-e", payload]
        cmd.append(f"coaps://127.0.0.1:{self.port}/{path}")
        p = subprocess.run([c if isinstance(c, bytes) else c.encode() for c in cmd], capture_output=True,
                           timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
        raw = p.stdout + p.stderr
        for form in (self.key, self.key.hex().encode(), self.key.hex().upper().encode()):
            raw = raw.replace(form, b"<key>")
        text = raw.decode(errors="replace")
        rsps = parse_libcoap(text)
        return (rsps[0] if rsps else None), text


def m2m_options(origin, rqi, ty=None):
    opts = []
    if ty is not None:
        opts.append((M2M_TY, f"0x{ty:02x}"))
    if origin is not None:
        opts.append((M2M_FR, origin))
    if rqi is not None:
        opts.append((M2M_RQI, rqi))
    return opts


# -- helpers ---------------------------------------------------------------------------------------------------
def metric(server, name, labels):
    """metric sums the samples of |name| whose labels include every one of |labels| in the role's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0
    for lbl, v in re.findall(r"^" + re.escape(name) + r"\{([^}]*)\} (\d+)$", text, re.M):
        if all(f'{k}="{val}"' in lbl for k, val in labels.items()):
            total += int(v)
    return total


def dtls_sessions(server):
    return metric(server, "m2msec_sessions_total", {"transport": "dtls"})


def ke_grants(h):
    return metric(h.mef, "m2msec_key_grants_total", {"kind": "ke"})


def expect_answer(h, what, m, mid, token, want_code, want_rsc, rqi=None):
    """expect_answer checks a piggybacked answer: ACK with the request's mid and token, the CoAP code,
    oneM2M-RSC and (when |rqi|) the echoed oneM2M-RQI."""
    ok = (m is not None and m.type == ACK and m.mid == mid and m.token == token and m.code == want_code and
          m.rsc() == want_rsc and (rqi is None or m.opt(M2M_RQI) == rqi.encode()))
    return h.check(ok, f"{what}: {code_text(want_code)}, oneM2M-RSC {want_rsc}" + (", RQI echoed" if rqi else ""), m)


def expect_libcoap(h, what, result, want_code, want_rsc, rqi):
    m, text = result
    ok = (m is not None and m.type == ACK and m.code == want_code and m.rsc() == want_rsc and
          (rqi is None or m.opt(M2M_RQI) == rqi.encode()) and
          (m.payload == b"" or m.opt(CONTENT_FORMAT) == b"application/json"))
    h.check(ok, f"{what}: {code_text(want_code)}, oneM2M-RSC {want_rsc}" + (", RQI echoed" if rqi else ""),
            m if m else text[-2500:])
    return (m.json() or {}) if ok else {}


def udp_bound(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# -- the test ----------------------------------------------------------------------------------------------------
def setup(h):
    """setup gives the MEF a DTLS listener and advertises the MAF maf.example.com as coaps://."""
    with open(h.config) as f:
        text = f.read()
    mef_tls = f'tls_listen = "127.0.0.1:{h.ports["mef"]}"\n'
    mef_maf = f'[[mef.maf]]\nfqdn = "{MAF}"\naddress = "127.0.0.1:{h.ports["maf"]}"\n'
    if text.count(mef_tls) != 1 or text.count(mef_maf) != 1:
        raise RuntimeError("saef_harness config changed: cannot add the MEF's DTLS listener / coaps MAF address")
    text = text.replace(mef_tls, mef_tls + f'dtls_listen = "127.0.0.1:{h.ports["mef"]}"\n')
    text = text.replace(mef_maf, f'[[mef.maf]]\nfqdn = "{MAF}"\naddress = "coaps://127.0.0.1:{h.ports["maf"]}"\n')
    with open(h.config, "w") as f:
        f.write(text)


def tool_enrolment(h, secrets_seen):
    """A1 + A2: enrol over s_client (CoAP framed here) until the Kpsa has no NUL byte; returns (entity, KpsaID,
    Kpsa) or None."""
    entity = "/dev-a"
    kpm_id, kpm_file = h.add_enrolee("dev-a", target=CSE_ID)
    kpm_hex = h.read(kpm_file)
    mismatches = []
    for attempt in range(1, NUL_RETRIES + 1):
        s = DtlsSession(h, h.ports["mef"], kpm_id, kpm_hex, MEF_FQDN, export=True)
        try:
            km = s.keying_material() if s.ready else None
            if not s.ready or km is None or len(km) != 48:
                h.check(False, f"A1 s_client: DTLS 1.2 {DTLS_SUITE} session with the MEF (KpmID), 48 bytes of "
                        f"{EXPORTER_LABEL} exported (enrolment #{attempt})", s.diag())
                return None
            rqi = f"coap-enrol-{attempt}"
            req, mid, token = m2m_request(POST, "/mef", kpm_id, rqi, ty=TY_ENROLMENT, body=enrol_body())
            m = s.exchange(req)
        finally:
            s.close()
        rel, ke = split_exported(km)
        kpsa = derive_kpsa(ke, CSE_ID)
        secrets_seen[f"s_client Ke #{attempt}"] = ke.hex()
        secrets_seen[f"s_client Kpsa #{attempt}"] = kpsa.hex()
        body = ((m.json() if m else None) or {}).get("sec:enr", {})
        ins = (body.get("ins") or [{}])[0]
        if b"\0" in kpsa and attempt < NUL_RETRIES:
            if body.get("kei") != ke_id(rel) or ins.get("kid") != kpsa_id(rel):
                mismatches.append((attempt, body.get("kei"), ins.get("kid")))
            print(f"note: the Kpsa of enrolment #{attempt} holds a 0x00 byte, which libcoap's -k cannot take: "
                  "enrolling again (a fresh Ke)")
            continue
        h.check(True, f"A1 s_client: DTLS 1.2 {DTLS_SUITE} session with the MEF (KpmID), 48 bytes of "
                f"{EXPORTER_LABEL} exported")
        expect_answer(h, "A1 CoAP enrolment POST /mef over s_client", m, mid, token, code(2, 1), 2001, rqi)
        h.check(m is not None and m.opt(CONTENT_FORMAT) == uint(FORMAT_JSON) and "sec:enr" in (m.json() or {}),
                "A1 answer: Content-Format 50, a sec:enr JSON payload", m)
        h.check(body.get("ide") == entity, f"A1 assigned Enrolee-ID {entity}", body)
        h.check(ins.get("typ") == "kpsa" and ins.get("tgt") == CSE_ID, "A1 instruction: Kpsa for Enrolee B /in-cse",
                ins)
        h.check(body.get("kei") == ke_id(rel), "A2 KeID computed here (base64(exported bytes 0..15)@MEF) = the "
                "MEF's kei", (body.get("kei"), ke_id(rel)))
        h.check(ins.get("kid") == kpsa_id(rel), "A2 KpsaID computed here (hex(exported bytes 0..15)@MEF) = the "
                "MEF's kid", (ins.get("kid"), kpsa_id(rel)))
        h.check(not mismatches, f"A2 the earlier enrolments ({attempt - 1}, retried for a 0x00 byte in Kpsa) "
                "matched too", mismatches)
        if not h.check(b"\0" not in kpsa, f"A2 a Kpsa without a 0x00 byte within {NUL_RETRIES} enrolments"):
            return None
        return entity, kpsa_id(rel), kpsa
    return None


def part_a_and_c_entity_b(h, device):
    """A3 and the Entity B refusals of C: libcoap's clients with the Kpsa derived here."""
    entity, kid, kpsa = device
    port = h.ports["cse"]
    clients = {"openssl": Libcoap("coap-client-openssl", port, kid, kpsa),
               "gnutls": Libcoap("coap-client-gnutls", port, kid, kpsa)}
    wrong = bytearray(kpsa)
    wrong[0] = wrong[0] ^ 0x01 or 0x02
    wrong_client = Libcoap("coap-client-openssl", port, kid, bytes(wrong))
    ae = {name: f"ae-coap-{name}" for name in clients}

    def ae_body(name):
        return json.dumps({"m2m:ae": {"rn": ae[name], "api": "Ncoaptest", "rr": False}})

    failed_before = h.cse.log_text().count("handshake failed")
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        # Phase 1: independent requests (CSEBase retrieves, refusals).
        f_cb = {n: pool.submit(c.call, "get", CSEBASE, m2m_options(entity, f"cb-{n}")) for n, c in clients.items()}
        f_unknown = pool.submit(clients["openssl"].call, "get", CSEBASE,
                                m2m_options(entity, "unknown-opt") + [(2049, "x")])
        f_no_rqi = pool.submit(clients["openssl"].call, "get", CSEBASE, m2m_options(entity, None))
        f_forged = pool.submit(clients["openssl"].call, "get", CSEBASE, m2m_options("/dev-someone-else", "forged"))
        cb = {n: f.result() for n, f in f_cb.items()}
        unknown, no_rqi, forged = f_unknown.result(), f_no_rqi.result(), f_forged.result()
        # Phase 2: AE creates; phase 3: their retrieves, and a wrong PSK.
        f_create = {n: pool.submit(c.call, "post", CSEBASE, m2m_options(entity, f"create-{n}", ty=2), ae_body(n))
                    for n, c in clients.items()}
        create = {n: f.result() for n, f in f_create.items()}
        f_get = {n: pool.submit(c.call, "get", f"{CSEBASE}/{ae[n]}", m2m_options(entity, f"get-{n}"))
                 for n, c in clients.items()}
        f_wrong = pool.submit(wrong_client.call, "get", CSEBASE, m2m_options(entity, "wrong-psk"))
        get = {n: f.result() for n, f in f_get.items()}
        wrong_psk = f_wrong.result()

    for n in clients:
        tool = f"coap-client-{n}"
        j = expect_libcoap(h, f"A3 {tool}: RETRIEVE the CSEBase (GET /{CSEBASE})", cb[n], code(2, 5), 2000, f"cb-{n}")
        h.check(j.get("m2m:cb", {}).get("csi") == CSE_ID and j.get("m2m:cb", {}).get("ty") == 5,
                f"A3 {tool}: m2m:cb of {CSE_ID}", j)
        j = expect_libcoap(h, f"A3 {tool}: CREATE AE (POST, oneM2M-TY 2, Content-Format 50)", create[n], code(2, 1),
                           2001, f"create-{n}")
        a = j.get("m2m:ae", {})
        h.check(a.get("rn") == ae[n] and a.get("aei") == entity and a.get("cr") == entity,
                f"A3 {tool}: AE {ae[n]} bound to the Kpsa's entity {entity}", j)
        j = expect_libcoap(h, f"A3 {tool}: RETRIEVE the AE", get[n], code(2, 5), 2000, f"get-{n}")
        h.check(j.get("m2m:ae", {}).get("rn") == ae[n] and j.get("m2m:ae", {}).get("aei") == entity,
                f"A3 {tool}: the AE as created", j)

    j = expect_libcoap(h, "C Entity B: unknown critical option 2049", unknown, code(4, 2), 4000, "unknown-opt")
    h.check("2049" in str(j.get("m2m:dbg")), "C Entity B: the 4.02's m2m:dbg names option 2049", j)
    j = expect_libcoap(h, "C Entity B: no oneM2M-RQI", no_rqi, code(4, 0), 4000, None)
    h.check("rqi" in str(j.get("m2m:dbg")).lower(), "C Entity B: m2m:dbg says the RQI is missing", j)
    j = expect_libcoap(h, "C Entity B: oneM2M-FR other than the Kpsa's entity", forged, code(4, 3), 4103, "forged")
    h.check("authenticated" in str(j.get("m2m:dbg")), "C Entity B: m2m:dbg says From is not the authenticated "
            "identity", j)
    m, text = wrong_psk
    h.check(m is None and "session connected" not in text and "SSL_connect" in text,
            "C Entity B: coap-client-openssl with a wrong PSK gets no DTLS session and no answer", text[-2500:])
    # DTLS drops the client's Finished, which fails its MAC, silently (RFC 6347 4.1.2.7): Entity B ends the
    # handshake when no further flight comes.
    h.check(wait_until(lambda: h.cse.log_text().count("handshake failed") > failed_before, 10),
            "C Entity B: logs the failed handshake", h.cse.log_text()[-1500:])
    return ae


def part_c_mef(h):
    """C at the MEF, over s_client with hand-framed datagrams."""
    kpm_id, kpm_file = h.add_enrolee("dev-r")
    kpm_hex = h.read(kpm_file)
    s = DtlsSession(h, h.ports["mef"], kpm_id, kpm_hex, MEF_FQDN, export=True)
    try:
        if not h.check(s.ready, "C MEF: s_client DTLS session (dev-r)", s.diag()):
            return
        mid = secrets.randbelow(0x10000)
        m = s.exchange(coap_encode(CON, 0, mid))
        h.check(m is not None and m.type == RST and m.mid == mid and m.code == 0, "C MEF: CoAP ping (empty CON) -> "
                "Reset", m)
        req, mid, token = m2m_request(GET, "/mef", kpm_id, "non", mtype=NON)
        m = s.exchange(req)
        h.check(m is not None and m.type == NON and m.token == token and m.code == code(4, 5) and m.rsc() == 4005 and
                m.opt(M2M_RQI) == b"non", "C MEF: a NON request is answered NON (4.05, 4005, its token)", m)
        # Not CoAP (version 0): no answer. The next request's answer is the next datagram received.
        h.check(s.send(b"\x00\x01 this is not CoAP"), "C MEF: a datagram that is not CoAP sent")
        req, mid, token = m2m_request(GET, "/mef", kpm_id, "wrong-method")
        m = s.exchange(req)
        expect_answer(h, "C MEF: no answer to the non-CoAP datagram; RETRIEVE /mef", m, mid, token, code(4, 5), 4005,
                      "wrong-method")
        bad_mid = secrets.randbelow(0x10000)
        m = s.exchange(bytes([0x40, GET]) + struct.pack(">H", bad_mid) + b"\xff")
        h.check(m is not None and m.type == RST and m.mid == bad_mid, "C MEF: a CON that does not decode (payload "
                "marker, no payload) -> Reset with its message ID", m)
        req, mid, token = m2m_request(DELETE, "/mef", kpm_id, "delete-mef")
        expect_answer(h, "C MEF: DELETE /mef", s.exchange(req), mid, token, code(4, 5), 4005, "delete-mef")
        req, mid, token = m2m_request(GET, "/nothing/here", kpm_id, "no-such")
        expect_answer(h, "C MEF: RETRIEVE /nothing/here", s.exchange(req), mid, token, code(4, 4), 4004, "no-such")
        req, mid, token = m2m_request(FETCH, "/mef", kpm_id, "fetch")
        expect_answer(h, "C MEF: FETCH (no oneM2M operation)", s.exchange(req), mid, token, code(4, 5), 4005, "fetch")
        req, mid, token = m2m_request(POST, "/mef", kpm_id, "unknown-opt", ty=TY_ENROLMENT, body=enrol_body(),
                                      extra=[(2049, b"x")])
        expect_answer(h, "C MEF: unknown critical option 2049", s.exchange(req), mid, token, code(4, 2), 4000,
                      "unknown-opt")
        req, mid, token = m2m_request(POST, "/mef", kpm_id, None, ty=TY_ENROLMENT, body=enrol_body())
        m = s.exchange(req)
        expect_answer(h, "C MEF: no oneM2M-RQI", m, mid, token, code(4, 0), 4000)
        h.check(m is not None and "rqi" in str((m.json() or {}).get("m2m:dbg")).lower(),
                "C MEF: m2m:dbg says the RQI is missing", m)
        mid, token = secrets.randbelow(0x10000), secrets.token_bytes(4)
        req = coap_encode(CON, POST, mid, token, [(URI_PATH, b"mef"), (CONTENT_FORMAT, uint(0)),
                                                   (M2M_TY, uint(TY_ENROLMENT)), (M2M_FR, kpm_id.encode()),
                                                   (M2M_RQI, b"text-plain")], b"hello")
        expect_answer(h, "C MEF: Content-Format 0 (text/plain)", s.exchange(req), mid, token, code(4, 15), 4000,
                      "text-plain")
        req, mid, token = m2m_request(POST, "/mef", "someone@factory.example.com", "forged", ty=TY_ENROLMENT,
                                      body=enrol_body())
        expect_answer(h, "C MEF: oneM2M-FR other than the KpmID", s.exchange(req), mid, token, code(4, 3), 4103,
                      "forged")
        # After all that, the session still serves: a good enrolment, and its retransmission.
        req, mid, token = m2m_request(POST, "/mef", kpm_id, "good", ty=TY_ENROLMENT, body=enrol_body())
        before = ke_grants(h)
        first = s.exchange(req)
        first_raw = s.last_raw
        expect_answer(h, "C MEF: then a good enrolment on the same session", first, mid, token, code(2, 1), 2001,
                      "good")
        rel, _ = split_exported(s.keying_material())
        h.check(first is not None and (first.json() or {}).get("sec:enr", {}).get("kei") == ke_id(rel),
                "C MEF: its KeID is this session's exporter's", first)
        s.send(req)
        again = s.recv(1)
        h.check(first_raw is not None and again == [first_raw],
                "C MEF: a retransmission (same message ID) gets the identical answer", again)
        h.check(ke_grants(h) == before + 1, "C MEF: ... and is not processed again (one Ke grant in /metrics)",
                (before, ke_grants(h)))
    finally:
        s.close()

    # A session whose first datagram is garbage (neither CoAP nor HTTP) is a CoAP session that serves the next.
    s = DtlsSession(h, h.ports["mef"], kpm_id, kpm_hex, MEF_FQDN)
    try:
        if h.check(s.ready, "C MEF: second s_client session", s.diag()):
            h.check(s.send(b"\x00garbage first"), "C MEF: garbage as a session's first datagram")
            req, mid, token = m2m_request(POST, "/mef", kpm_id, "after-garbage", ty=TY_ENROLMENT, body=enrol_body())
            expect_answer(h, "C MEF: no answer to it; the next datagram, an enrolment, is served", s.exchange(req),
                          mid, token, code(2, 1), 2001, "after-garbage")
    finally:
        s.close()
    # And other clients are served as before.
    s = DtlsSession(h, h.ports["mef"], kpm_id, kpm_hex, MEF_FQDN)
    try:
        mid = secrets.randbelow(0x10000)
        m = s.exchange(coap_encode(CON, 0, mid)) if s.ready else None
        h.check(m is not None and m.type == RST and m.mid == mid, "C MEF: a new session afterwards is served (ping)", m)
    finally:
        s.close()


def m2m_enrol(h, name, target, mef, extra=()):
    """m2m_enrol adds enrolee /<name> and runs m2msec enrol at |mef|; returns (rc, json, stderr, state dir)."""
    kpm_id, kpm_file = h.add_enrolee(name, target=target)
    state = os.path.join(h.dir, "state-" + name)
    args = ["enrol", "--mef", mef, "--mef-fqdn", MEF_FQDN, "--kpm-id", kpm_id, "--kpm-file", kpm_file, "--state",
            state, "--json", "--timeout-ms", "10000"] + (["--maf", target] if target == MAF else []) + list(extra)
    rc, out, err = h.run(args)
    try:
        j = json.loads(out) if out.strip() else None
    except ValueError:
        j = None
    return rc, j, err, state


def rsp(j):
    """rsp is the response body of an "m2msec associate --json" result ({} if none)."""
    return (j or {}).get("response") or {}


def assoc(h, state, cse, maf=None, framework=None, extra=()):
    args = ["associate", "--cse", cse, "--cse-id", CSE_ID, "--json", "--timeout-ms", "8000"]
    if state:
        args += ["--state", state]
    if maf:
        args += ["--maf", maf]
    if framework:
        args += ["--framework", framework]
    rc, out, err = h.run(args + list(extra))
    try:
        j = json.loads(out) if out.strip() else None
    except ValueError:
        j = None
    return rc, j, err


def part_b(h):
    mef_c, maf_c, cse_c = (f"coaps://127.0.0.1:{h.ports[r]}" for r in ("mef", "maf", "cse"))

    def sessions():
        return {r: dtls_sessions(getattr(h, r)) for r in ("mef", "maf", "cse")}

    def grew(before, roles):
        return wait_until(lambda: all(dtls_sessions(getattr(h, r)) > before[r] for r in roles), 5)

    # -- CoAP: enrol, MAF-based association, requests -------------------------------------------------------
    before = sessions()
    rc, j, err, st = m2m_enrol(h, "dev-b1", MAF, mef_c)
    h.check(rc == 0 and j and j.get("target") == MAF, f"B m2msec enrol --mef {mef_c}", (rc, j, err.strip()))
    h.check(grew(before, ["mef"]), "B ... over DTLS at the MEF (its /metrics)")
    h.check(h.state(st).get("maf_address") == maf_c, "B the enrolment instruction's MAF address is the coaps:// one "
            "of [[mef.maf]]", h.state(st))
    before = sessions()
    j = h.expect_ok(f"B m2msec associate --maf {maf_c} --cse {cse_c}: client registration, key registration, "
                    "CSEBase retrieve", assoc(h, st, cse_c, maf=maf_c))
    if j:
        h.check(j.get("km_id", "").endswith("@" + MAF) and j.get("key_id", "").endswith("@" + MAF) and
                j.get("entity_id") == "/dev-b1", "B KmID assigned and a KcID of the MAF, acting as /dev-b1", j)
        h.check(rsp(j).get("m2m:cb", {}).get("csi") == CSE_ID, "B m2m:cb of /in-cse", j)
    h.check(grew(before, ["maf", "cse"]), "B ... over DTLS at the MAF and Entity B (their /metrics)")
    j = h.expect_ok("B coaps: create-ae lamp", assoc(h, st, cse_c, maf=maf_c, extra=[
        "--request", "create-ae", "--ae-name", "lamp"]), rsc=2001)
    h.check(j and rsp(j).get("m2m:ae", {}).get("aei") == "/dev-b1", "B coaps: AE lamp of /dev-b1", j)
    j = h.expect_ok("B coaps: retrieve /in-name/lamp", assoc(h, st, cse_c, maf=maf_c, extra=[
        "--to", f"/{CSEBASE}/lamp"]))
    h.check(j and rsp(j).get("m2m:ae", {}).get("rn") == "lamp", "B coaps: the AE retrieved", j)
    h.expect_ok("B coaps: create a container", assoc(h, st, cse_c, maf=maf_c, extra=[
        "--request", "create", "--to", f"/{CSEBASE}/lamp", "--ty", "3", "--content",
        json.dumps({"m2m:cnt": {"rn": "data"}})]), rsc=2001)
    big = "".join(secrets.choice(string.ascii_letters) for _ in range(3000))  # six 512-byte blocks and more
    h.expect_ok("B coaps: create a 3000-character contentInstance (Block1)", assoc(h, st, cse_c, maf=maf_c, extra=[
        "--request", "create", "--to", f"/{CSEBASE}/lamp/data", "--ty", "4", "--content",
        json.dumps({"m2m:cin": {"rn": "big", "cnf": "text/plain:0", "con": big}})]), rsc=2001)
    j = h.expect_ok("B coaps: retrieve it (Block2)", assoc(h, st, cse_c, maf=maf_c, extra=[
        "--to", f"/{CSEBASE}/lamp/data/big"]))
    h.check(j and rsp(j).get("m2m:cin", {}).get("con") == big, "B coaps: the contentInstance came back whole",
            rsp(j).get("m2m:cin", {}).get("cs"))

    # -- a device that follows the instruction's coaps:// MAF address (no --maf, no --dtls) -------------------------
    rc, j, err, st2 = m2m_enrol(h, "dev-b2", MAF, mef_c)
    h.check(rc == 0, "B second device enrolled over coaps", (rc, err.strip()))
    before = sessions()
    j = h.expect_ok("B m2msec associate without --maf (follows the instruction's coaps:// MAF address)",
                    assoc(h, st2, cse_c))
    h.check(j and j.get("km_id", "").endswith("@" + MAF), "B ... MAF client registration done there", j)
    h.check(grew(before, ["maf"]), "B ... and that MAF session was DTLS (MAF /metrics)")

    # -- legacy HTTP in DTLS on the same (auto) listeners ------------------------------------------------------------
    mef_p, maf_p, cse_p = (f"127.0.0.1:{h.ports[r]}" for r in ("mef", "maf", "cse"))
    legacy = ["--dtls", "--binding", "http"]
    before = sessions()
    rc, j, err, st3 = m2m_enrol(h, "dev-b3", MAF, mef_p, extra=legacy)
    h.check(rc == 0 and j and j.get("target") == MAF, "B m2msec enrol --dtls --binding http (HTTP in DTLS)",
            (rc, j, err.strip()))
    h.check(grew(before, ["mef"]), "B ... over DTLS at the MEF")
    before = sessions()
    j = h.expect_ok("B m2msec associate --dtls --binding http: registrations and CSEBase retrieve",
                    assoc(h, st3, cse_p, maf=maf_p, extra=legacy))
    h.check(j and j.get("km_id", "").endswith("@" + MAF), "B HTTP in DTLS: KmID assigned", j)
    h.check(grew(before, ["maf", "cse"]), "B ... over DTLS at the MAF and Entity B")
    j = h.expect_ok("B HTTP in DTLS: create-ae lamp3", assoc(h, st3, cse_p, maf=maf_p, extra=legacy + [
        "--request", "create-ae", "--ae-name", "lamp3"]), rsc=2001)
    j = h.expect_ok("B HTTP in DTLS: retrieve /in-name/lamp3", assoc(h, st3, cse_p, maf=maf_p, extra=legacy + [
        "--to", f"/{CSEBASE}/lamp3"]))
    h.check(j and rsp(j).get("m2m:ae", {}).get("aei") == "/dev-b3", "B HTTP in DTLS: AE lamp3 of /dev-b3", j)

    # -- --gba with a coaps:// MEF is a usage error --------------------------------------------------------------
    k_file, _ = h.secret_file("gba.k.hex", secrets.token_hex(16))
    opc_file, _ = h.secret_file("gba.opc.hex", secrets.token_hex(16))
    rc, out, err = h.run(["enrol", "--gba", "--mef", mef_c, "--mef-fqdn", MEF_FQDN, "--impi",
                          "001010000000001@ims.example.com", "--k-file", k_file, "--opc-file", opc_file,
                          "--entity-id", "/dev-g", "--state", os.path.join(h.dir, "state-gba"), "--json"])
    lines = [ln for ln in err.splitlines() if ln.strip()]
    h.check(rc == 2 and out.strip() == "" and len(lines) == 1 and lines[0].startswith("m2msec: error: ") and
            "Ub is HTTP" in err, "C m2msec enrol --gba --mef coaps://...: usage error (exit 2, 'Ub is HTTP')",
            (rc, out, err))


def part_d(h):
    """m2msec's CoAP client against libcoap's coap-server-openssl."""
    key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    identity = "libcoap-probe@sp.example.com"
    state = h.write_state("lc", {
        "enrolee_id": "/dev-lc", "mef_fqdn": "", "ke_id": "", "expiry": 0, "target_kind": "kpsa", "target": CSE_ID,
        "maf_address": "", "key_id": identity, "km_id": "", "sp_domain": "sp.example.com", "key_lifetime": 0},
        {"kpsa": key.encode().hex()})
    base = free_port(pair=True)  # coap-server takes base + 1 for DTLS
    log_path = os.path.join(h.dir, "coap-server.log")
    with open(log_path, "w") as log:
        p = subprocess.Popen(["coap-server-openssl", "-A", "127.0.0.1", "-p", str(base), "-k", key, "-h",
                              "m2msec-test", "-v", "7"], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    try:
        if not h.check(wait_until(lambda: udp_bound(base + 1) or p.poll() is not None, 10) and p.poll() is None,
                       "D coap-server-openssl listens (coaps on port + 1)"):
            return
        rc, j, err = assoc(h, state, f"coaps://127.0.0.1:{base + 1}", framework="kpsa")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        m = re.search(r"CoAP response (\d\.\d\d) without oneM2M-RSC", err)
        h.check(rc == 1 and j is None and len(lines) == 1 and lines[0].startswith("m2msec: error: ") and m,
                "D m2msec associate --framework kpsa against libcoap: exit 1, one error line: CoAP response "
                f"{m.group(1) if m else '?'} without oneM2M-RSC", (rc, j, err))
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    with open(log_path, errors="replace") as f:
        text = f.read().replace(key, "<key>")
    h.check(f"got psk_identity: '{identity}'" in text and "session connected" in text,
            "D libcoap: DTLS-PSK session with m2msec's client (our KpsaID)", text[-2500:])
    fr = "".join(f"\\x{b:02X}" for b in b"/dev-lc")
    h.check(re.search(r"t:CON c:GET i:[0-9a-f]{4} \{[0-9a-f]{16}\} \[ Uri-Path:in-cse, 271:\\x34, 279:"
                      + re.escape(fr) + r", 283:(\\x[0-9A-F]{2})+ \]", text) is not None,
            "D libcoap parsed m2msec's request: CON GET, 8-byte token, Uri-Path in-cse, oneM2M-RVI 4, -FR /dev-lc, "
            "-RQI", text[-2500:])


def body(h):
    tools = ["openssl", "coap-client-openssl", "coap-client-gnutls", "coap-server-openssl"]
    missing = [t for t in tools if shutil.which(t) is None]
    if not h.check(not missing, "tools present: " + ", ".join(tools), f"missing {missing} (scripts/install-deps.sh: "
                   "openssl, libcoap3-bin)"):
        return
    setup(h)
    h.start_all()
    secrets_seen = {}

    device = tool_enrolment(h, secrets_seen)
    if device:
        part_a_and_c_entity_b(h, device)
    part_c_mef(h)
    part_b(h)
    part_d(h)

    for r in ("mef", "maf", "cse"):
        h.check(getattr(h, r).alive(), f"{r} still running at the end")
    h.stop_all()
    h.scan_secrets(expect_at_least=10, extra=secrets_seen)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: coap_test.py M2MSEC")
    Saef(sys.argv[1], "coap").main(body)
