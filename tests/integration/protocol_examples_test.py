#!/usr/bin/env python3
"""protocol_examples_test.py M2MSEC PROTOCOL_MD: every example in docs/protocol.md, sent to the real servers.

docs/protocol.md is the contract a peer that does not run m2msec follows,
so its examples are executed. Every ```http request block there is marked
with "<!-- example: NAME -->" and followed by its ```http response block;
this test extracts them all (an unmarked request, or a name this test does
not know, is a failure, so an example cannot be added without being run),
checks that each block's Content-Length is its body's length, and sends
each request over a real (D)TLS session to "m2msec {mef,maf,cse} serve"
(saef_harness.py; the CSEBase is named "cb" and the MEF advertises the MAF
as maf.example.com:5685, as in the examples).

The sessions are openssl s_client's, not m2msec's client: PSK sessions
with the doc's KpmIDs for the MEF, the KeID and Km for the MAF, the KcID
and Kc for Entity B; certificate sessions (pki.py) for the MAF and Entity
B where the doc says so. Values only a run can know are substituted into
the examples before sending and comparing, and each is computed here
independently of m2msec:

  * Ke, RelativeKeID (the KeID) and Kc, RelativeKcID (the KcID) from
    s_client's RFC 5705 exporter (-keymatexport EXPORTER-oneM2M-Bootstrap
    / EXPORTER-oneM2M-Connection, 48 bytes: 16-byte ID, 32-byte key;
    TS-0003 10.3.1, 10.3.4, 10.3.5);
  * Km and Kpsa with python's hmac (10.3.2, 10.3.3), which the MEF must
    return from fetchCredentials, and Kc, which the MAF must return from
    key retrieval.

A response matches its example when the status line, X-M2M-RSC and
X-M2M-RI are the documented ones, Content-Type is present exactly when
documented, and the JSON body has the documented fields with the
documented values; a documented time (YYYYMMDDTHHMMSS) only needs to be a
time of the right kind (ct, and lt of a resource: about now; exp, et and
the lt of a sec: message: in the future).

Also: an expired Kc registration can be deleted by a target and by no one
else, as §3.4 says, and no key this test learnt (Kpm, Ke, Km, Kpsa and
every Kc) appears in any server log (--log-level debug) or command output.
"""
import base64
import calendar
import hashlib
import hmac
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from saef_harness import CSE_FQDN, MAF, MEF_FQDN, Saef  # noqa: E402

PSK_SUITE = "PSK-AES128-CBC-SHA256"
CERT_SUITE = "ECDHE-ECDSA-AES128-SHA256"
BOOTSTRAP = "EXPORTER-oneM2M-Bootstrap"
CONNECTION = "EXPORTER-oneM2M-Connection"
# TS-0003 clauses 10.3.2 and 10.3.3.
KM_LABEL = b"oneM2M Enrolment Key to Master Credential derivation"
KPSA_LABEL = b"oneM2M Enrolment Key to Provisioned Secure Connection Key derivation"
TIME_RE = re.compile(r"^\d{8}T\d{6}$")
IO_TIMEOUT = 30

# The doc's placeholders for values that only a run can know.
DOC_KEID_1 = "q83vASNFZ4mrze8BI0VniQ==@mef.example.com"
DOC_REL_1 = "abcdef0123456789abcdef0123456789"
DOC_KEID_2 = "ASNFZ4mrze+rze8BI0VniQ==@mef.example.com"
DOC_REL_2 = "0123456789abcdefabcdef0123456789"
DOC_RKI = "ESIzRFVmd4iZqrvM3e7/AA=="
# Requests carry this expiry instead of the documented one (which would pass one day).
FUTURE = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + 30 * 86400))
DOC_KV = "AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o="
DOC_RKI_2 = "IiMkJSYnKCkqKywtLi8wMQ=="  # the second key of cse-maf-key-push-batch
DOC_KV_2 = "BQgLDhEUFxodICMmKSwvMjU4Oz5BREdKTVBTVllcX2I="


def pct(text):
    """pct percent-encodes every byte outside RFC 3986 unreserved (§1.5)."""
    return urllib.parse.quote(text, safe="-._~")


def b64(raw):
    return base64.b64encode(raw).decode()


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


# -- the examples in the document ---------------------------------------------------------------
def parse_examples(text):
    """parse_examples returns ([(name, request, response)], [problems]) from the markdown."""
    problems = []
    blocks = [(m.start(), m.group(1)) for m in re.finditer(r"```http\n(.*?)```", text, re.S)]
    examples = []
    i = 0
    while i < len(blocks):
        pos, body = blocks[i]
        if body.startswith("HTTP/1.1 "):
            problems.append(f"a response block without a request (at offset {pos}): {body.splitlines()[0]}")
            i += 1
            continue
        before = text[:pos].rstrip().splitlines()[-1] if text[:pos].strip() else ""
        m = re.fullmatch(r"<!-- example: ([a-z0-9-]+) -->", before.strip())
        if not m:
            problems.append(f"request block not marked '<!-- example: NAME -->': {body.splitlines()[0]}")
        if i + 1 >= len(blocks) or not blocks[i + 1][1].startswith("HTTP/1.1 "):
            problems.append(f"request block without a response block: {body.splitlines()[0]}")
            i += 1
            continue
        if m:
            examples.append((m.group(1), body, blocks[i + 1][1]))
        i += 2
    for _, body in blocks:
        head, _, payload = body.partition("\n\n")
        cl = re.search(r"^Content-Length: (\d+)$", head, re.M)
        payload = payload.rstrip("\n")
        if cl and int(cl.group(1)) != len(payload.encode()):
            problems.append(f"Content-Length {cl.group(1)} but the body has {len(payload.encode())} bytes: "
                            f"{head.splitlines()[0]}")
        if payload and not cl:
            problems.append(f"a body without Content-Length: {head.splitlines()[0]}")
    return examples, problems


def split_http(text):
    """split_http returns (first line, {header: value}, body) of an HTTP message in the doc's form."""
    head, _, body = text.partition("\n\n")
    lines = head.splitlines()
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body.rstrip("\n")


def wire_request(text):
    """wire_request turns a doc request into bytes: CRLF line ends, Content-Length of the (substituted) body."""
    first, headers, body = split_http(text)
    head, _, _ = text.partition("\n\n")
    out = []
    for ln in head.splitlines():
        if ln.lower().startswith("content-length:"):
            ln = f"Content-Length: {len(body.encode())}"
        out.append(ln)
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body.encode()


# -- openssl s_client sessions --------------------------------------------------------------------
class Session:
    """Session is one openssl s_client TLS 1.2 connection that carries raw HTTP requests."""

    def __init__(self, port, sni, label, psk=None, cert=None, ca=None):
        args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", sni, "-tls1_2",
                "-nocommands", "-keymatexport", label, "-keymatexportlen", "48"]
        if psk:
            args += ["-psk_identity", psk[0], "-psk", psk[1], "-cipher", PSK_SUITE]
        else:
            args += ["-cert", cert[0], "-key", cert[1], "-CAfile", ca, "-verify_return_error", "-cipher", CERT_SUITE]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        m = self._read_until(re.compile(rb"Keying material: ([0-9A-Fa-f]{96})\n---\n"))
        if not m:
            err = self.p.stderr.read1(8192) if self.p.poll() is not None else b""
            self.close()
            raise RuntimeError(f"s_client handshake with port {port} failed: {self.buf[-600:]!r} {err!r}")
        self.exported = bytes.fromhex(m.group(1).decode())
        self.buf = self.buf[m.end():]

    def _read_until(self, pattern, timeout=IO_TIMEOUT):
        end = time.time() + timeout
        while True:
            m = pattern.search(self.buf)
            if m:
                return m
            left = end - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.p.stdout], [], [], left)
            if ready:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    return pattern.search(self.buf)
                self.buf += chunk

    def request(self, raw):
        """request sends |raw| and returns (status line, {header: value}, body text) of the response."""
        self.p.stdin.write(raw)
        self.p.stdin.flush()
        m = self._read_until(re.compile(rb"HTTP/1\.1 [^\r\n]*\r\n.*?\r\n\r\n", re.S))
        if not m:
            raise RuntimeError(f"no response; got {self.buf[-600:]!r}")
        head = self.buf[m.start():m.end()].decode()
        lines = head.split("\r\n")
        headers = {}
        for ln in lines[1:]:
            if ln:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        self.buf = self.buf[m.end():]
        if not self._read_until(re.compile(rb"\A[\s\S]{%d}" % n)):
            raise RuntimeError(f"short body: want {n} bytes, got {self.buf!r}")
        body, self.buf = self.buf[:n], self.buf[n:]
        return lines[0], headers, body.decode()

    def closed_by_server(self, timeout=IO_TIMEOUT):
        """closed_by_server is whether s_client ended by itself: the server closed the session."""
        try:
            self.p.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


# -- comparison -----------------------------------------------------------------------------------
def parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%S"))


def compare(doc, got, path, now, out):
    """compare appends to |out| every difference between the documented JSON and the response's."""
    if isinstance(doc, dict):
        if not isinstance(got, dict):
            out.append(f"{path}: want an object, got {got!r}")
            return
        if set(doc) != set(got):
            out.append(f"{path}: fields {sorted(got)}, documented {sorted(doc)}")
        for k in doc:
            if k in got:
                compare(doc[k], got[k], f"{path}.{k}", now, out)
    elif isinstance(doc, list):
        if not isinstance(got, list) or len(got) != len(doc):
            out.append(f"{path}: want {doc!r}, got {got!r}")
            return
        for i, (d, g) in enumerate(zip(doc, got)):
            compare(d, g, f"{path}[{i}]", now, out)
    elif isinstance(doc, str) and TIME_RE.match(doc):
        if not isinstance(got, str) or not TIME_RE.match(got):
            out.append(f"{path}: want a YYYYMMDDTHHMMSS time, got {got!r}")
            return
        t = parse_time(got)
        field = path.rsplit(".", 1)[-1]
        # In a oneM2M resource (m2m:*), lt is lastModifiedTime (about now);
        # in the sec: messages it is a lifetime (in the future).
        resource_lt = field == "lt" and ".m2m:" in path
        if (field == "ct" or resource_lt) and abs(t - now) > 3600:
            out.append(f"{path}: creation or modification time {got} is not about now")
        if field in ("exp", "lt", "et") and not resource_lt and t <= now:
            out.append(f"{path}: expiry {got} is not in the future")
    elif doc != got or type(doc) is not type(got):
        out.append(f"{path}: want {doc!r}, got {got!r}")


def check_response(h, name, doc_response, got, subst, label=None):
    """check_response compares one response with its documented form; returns the parsed body (or None)."""
    for old, new in subst:
        doc_response = doc_response.replace(old, new)
    first, headers, body = split_http(doc_response)
    got_first, got_headers, got_body = got
    what = label or name
    h.check(got_first == first, f"{what}: status line '{first}'", got_first)
    for k in ("x-m2m-rsc", "x-m2m-ri", "connection"):
        h.check(got_headers.get(k) == headers.get(k), f"{what}: {k} {headers.get(k)}", got_headers)
    h.check(("content-type" in got_headers) == ("content-type" in headers) and
            got_headers.get("content-type") == headers.get("content-type"),
            f"{what}: Content-Type {headers.get('content-type', '(none)')}", got_headers)
    if not body:
        h.check(got_body == "", f"{what}: no body", got_body)
        return None
    try:
        got_json = json.loads(got_body)
    except ValueError:
        h.check(False, f"{what}: body is JSON", got_body)
        return None
    diffs = []
    compare(json.loads(body), got_json, "body", time.time(), diffs)
    h.check(not diffs, f"{what}: body as documented", "; ".join(diffs) + f" -- got {got_body}")
    return got_json


# -- the run ----------------------------------------------------------------------------------------
def body(h, doc_path):
    with open(doc_path, encoding="utf-8") as f:
        examples, problems = parse_examples(f.read())
    h.check(not problems, "every example request is marked and paired, every Content-Length right",
            "; ".join(problems))
    ex = {name: (req, rsp) for name, req, rsp in examples}
    h.check(len(ex) == len(examples), "example names are unique", [n for n, _, _ in examples])
    known = {"mef-enrol-maf", "mef-enrol-kpsa", "mef-fetch-km", "mef-fetch-km-not-target", "mef-fetch-kpsa",
             "maf-client-reg", "maf-key-reg", "maf-key-retrieve", "maf-key-delete", "maf-client-delete",
             "cse-retrieve-cb", "cse-create-ae", "cse-spoofed-origin", "cse-maf-key-push",
             "cse-maf-key-push-batch", "maf-key-delete-batch", "mef-fetch-km-batch"}
    h.check(set(ex) == known, "the document's examples are the ones this test runs",
            f"unknown {sorted(set(ex) - known)}, missing {sorted(known - set(ex))}")
    learnt = {}  # label -> hex of every key this test learns, for the secret scan
    ran = set()

    def run(session, name, subst, label=None):
        req, rsp = ex[name]
        for old, new in subst:
            req = req.replace(old, new)
        # A documented expiry must stay in the future whenever the test runs.
        req = re.sub(r'"et":"\d{8}T\d{6}"', '"et":"%s"' % FUTURE, req)
        got = session.request(wire_request(req))
        ran.add(name)
        return check_response(h, name, rsp, got, subst, label)

    pki = h.pki
    ca = os.path.join(pki, "ca.crt")

    def cert(n):
        return os.path.join(pki, n + ".crt"), os.path.join(pki, n + ".key")

    h.start_all()
    mef, maf, cse = h.ports["mef"], h.ports["maf"], h.ports["cse"]

    # -- §2.1 enrolment ---------------------------------------------------------------------------
    kpm = {}
    for n, target in (("0001", MAF), ("0002", "/in-cse")):
        path, kpm[n] = h.secret_file(f"dev-{n}.kpm.hex", secrets.token_hex(32))
        rc, _, err = h.run(["mef", "enrolee", "add", "--config", h.config, "--enrolee-id", f"/dev-{n}",
                            "--kpm-id", f"kpm-device-{n}", "--kpm-file", path, "--target", target])
        h.check(rc == 0, f"enrolee /dev-{n} added", err)
    enrol = {}
    for n, name in (("0001", "mef-enrol-maf"), ("0002", "mef-enrol-kpsa")):
        s = Session(mef, MEF_FQDN, BOOTSTRAP, psk=(f"kpm-device-{n}", kpm[n]))
        rel, ke = s.exported[:16], s.exported[16:]
        ke_id = b64(rel) + "@" + MEF_FQDN
        learnt[f"Ke of /dev-{n}"] = ke.hex()
        doc_keid, doc_rel = (DOC_KEID_1, DOC_REL_1) if n == "0001" else (DOC_KEID_2, DOC_REL_2)
        enrol[n] = {"rel": rel, "ke": ke, "ke_id": ke_id,
                    "subst": [(doc_keid, ke_id), (pct(doc_keid), pct(ke_id)), (doc_rel, rel.hex())]}
        j = run(s, name, enrol[n]["subst"])
        h.check(s.closed_by_server(), f"{name}: the MEF closed the session after answering 'Connection: close'")
        s.close()
        h.check(j is not None and j["sec:enr"].get("kei") == ke_id,
                f"{name}: kei = base64(exporter[0:16])@MEF-FQDN, from s_client's own export", j)
    km = hmac256(enrol["0001"]["ke"], KM_LABEL + MAF.encode())
    kpsa = hmac256(enrol["0002"]["ke"], KPSA_LABEL + b"/in-cse")
    learnt["Km of /dev-0001"] = km.hex()
    learnt["Kpsa of /dev-0002"] = kpsa.hex()
    s1 = enrol["0001"]["subst"]

    # -- §2.2 key retrieval at the MEF ------------------------------------------------------------
    s = Session(mef, MEF_FQDN, BOOTSTRAP, cert=cert("maf"), ca=ca)
    run(s, "mef-fetch-km", s1 + [(DOC_KV, b64(km))], "mef-fetch-km (kv = python's 10.3.2 Km)")
    s.close()
    # Issue 9: a raw 0xFF byte in the path went into an error text that the JSON encoder then
    # threw on, killing every role of the process. Now: 4000, and the same session goes on.
    s = Session(mef, MEF_FQDN, BOOTSTRAP, cert=cert("maf"), ca=ca)
    got = s.request(b"GET /mef/fetchCredentials/x/\xff HTTP/1.1\r\nHost: " + MEF_FQDN.encode() +
                    b"\r\nX-M2M-Origin: " + MAF.encode() + b"\r\nX-M2M-RI: raw-ff\r\n\r\n")
    h.check(got[1].get("x-m2m-rsc") == "4000" and "\\xff" in got[2],
            "a raw 0xFF byte in the path: 4000 with the byte quoted", got)
    run(s, "mef-fetch-km", s1 + [(DOC_KV, b64(km))], "mef-fetch-km on the same session afterwards")
    s.close()
    s = Session(mef, MEF_FQDN, BOOTSTRAP, cert=cert("maf2"), ca=ca)
    run(s, "mef-fetch-km-not-target", s1)
    s.close()
    # The Km of /dev-0001 and, refused, that of the Kpsa enrolee /dev-0002, in one request.
    s = Session(mef, MEF_FQDN, BOOTSTRAP, cert=cert("maf"), ca=ca)
    run(s, "mef-fetch-km-batch", s1 + enrol["0002"]["subst"] + [(DOC_KV, b64(km))],
        "mef-fetch-km-batch (kv = python's 10.3.2 Km; the Kpsa enrolee's KeID refused)")
    s.close()
    s = Session(mef, MEF_FQDN, BOOTSTRAP, cert=cert("in-cse"), ca=ca)
    run(s, "mef-fetch-kpsa", enrol["0002"]["subst"] + [(DOC_KV, b64(kpsa))],
        "mef-fetch-kpsa (kv = python's 10.3.3 Kpsa)")
    s.close()

    # -- §3.1, §3.2 client and key registration (PSK: KeID, Km) -------------------------------------
    def maf_session():
        s = Session(maf, MAF, CONNECTION, psk=(enrol["0001"]["ke_id"], km.hex()))
        rki = b64(s.exported[:16])
        learnt[f"Kc {rki}"] = s.exported[16:].hex()
        return s, rki, s.exported[16:]

    a, rki, kc = maf_session()
    run(a, "maf-client-reg", s1)
    kc_subst = s1 + [(DOC_RKI, rki), (pct(DOC_RKI), pct(rki)), (DOC_KV, b64(kc))]
    j = run(a, "maf-key-reg", kc_subst)
    h.check(j is not None and j["sec:mkr"].get("rki") == rki, "maf-key-reg: rki = base64(exporter[0:16]), from "
            "s_client's own export", j)
    h.check(a.closed_by_server(), "maf-key-reg: the MAF closed the session after answering 'Connection: close'")
    a.close()

    # -- §3.3 key retrieval by Entity B (certificate) ------------------------------------------------
    b = Session(maf, MAF, CONNECTION, cert=cert("in-cse"), ca=ca)
    run(b, "maf-key-retrieve", kc_subst, "maf-key-retrieve (kv = Kc from s_client's export)")

    # -- §4 Entity B, on a session keyed by that KcID and Kc ---------------------------------------------
    e = Session(cse, CSE_FQDN, CONNECTION, psk=(rki + "@" + MAF, kc.hex()))
    run(e, "cse-retrieve-cb", [])
    run(e, "cse-create-ae", [])
    run(e, "cse-spoofed-origin", [])
    # Issue 9: each of these AE bodies made Entity B throw and took the MEF and MAF down with it.
    create_ae, _ = ex["cse-create-ae"]
    head, _, _ = create_ae.partition("\n\n")
    for bad in ({"m2m:ae": {"rn": 5}}, {"m2m:ae": {"api": 5}}, {"m2m:ae": {"rr": "yes"}}):
        got = e.request(wire_request(head + "\n\n" + json.dumps(bad)))
        h.check(got[1].get("x-m2m-rsc") == "4000", f"AE create with {json.dumps(bad)}: 4000", got)
    run(e, "cse-retrieve-cb", [], "cse-retrieve-cb on the same session afterwards")
    e.close()

    # -- §3.6 MAF Key Push, on the MAF's certificate session to Entity B ------------------------------
    push_rel, push_kc = secrets.token_bytes(16), secrets.token_bytes(32)
    learnt["pushed Kc"] = push_kc.hex()
    p = Session(cse, CSE_FQDN, CONNECTION, cert=cert("maf"), ca=ca)
    run(p, "cse-maf-key-push", [(DOC_RKI, b64(push_rel)), (DOC_KV, b64(push_kc))])
    # The batch form: two keys in one request, each answered 2001.
    batch = [(secrets.token_bytes(16), secrets.token_bytes(32)) for _ in range(2)]
    learnt["pushed Kc (batch)"] = batch[0][1].hex()
    learnt["pushed Kc (batch, second)"] = batch[1][1].hex()
    run(p, "cse-maf-key-push-batch", [(DOC_RKI, b64(batch[0][0])), (DOC_KV, b64(batch[0][1])),
                                      (DOC_RKI_2, b64(batch[1][0])), (DOC_KV_2, b64(batch[1][1]))])
    # A device certificate may not push.
    req_push, _ = ex["cse-maf-key-push"]
    q = Session(cse, CSE_FQDN, CONNECTION, cert=cert("dev-c"), ca=ca)
    got = q.request(wire_request(req_push.replace("X-M2M-Origin: maf.example.com", "X-M2M-Origin: /dev-c")))
    q.close()
    h.check(got[1].get("x-m2m-rsc") == "4103", "cse-maf-key-push from a device certificate: 4103", got)
    p.close()
    # The MAF never registered this KcID: only the push can have given Entity B the key.
    e2 = Session(cse, CSE_FQDN, CONNECTION, psk=(b64(push_rel) + "@" + MAF, push_kc.hex()))
    run(e2, "cse-retrieve-cb", [], "cse-retrieve-cb on a session keyed by the pushed Kc")
    e2.close()
    for i, (rel, kc) in enumerate(batch):
        e3 = Session(cse, CSE_FQDN, CONNECTION, psk=(b64(rel) + "@" + MAF, kc.hex()))
        who = "/dev-0001" if i == 0 else "/dev-0002"
        run(e3, "cse-retrieve-cb", [("X-M2M-Origin: /dev-0001", "X-M2M-Origin: " + who)],
            f"cse-retrieve-cb on a session keyed by batch key {i + 1}")
        e3.close()
    # Entity B de-registers Kc when the connection ends (§4), so §3.4 needs a key of its own.
    h.check(wait_for(lambda: rki + "@" + MAF not in {k["kc_id"] for k in h.maf_keys()}),
            "Entity B de-registered the Kc when its connection ended")

    # -- §3.4 key de-registration by a target ---------------------------------------------------------
    a2, rki2, kc2 = maf_session()
    req, _ = ex["maf-key-reg"]
    a2.request(wire_request(req))
    kc2_subst = s1 + [(DOC_RKI, rki2), (pct(DOC_RKI), pct(rki2))]
    run(b, "maf-key-delete", kc2_subst)
    a2.close()
    # The batch form: two more keys, de-registered by their target in one request.
    rkis = []
    for _ in range(2):
        ax, rki_x, _ = maf_session()
        got = ax.request(wire_request(req))
        h.check(got[1].get("x-m2m-rsc") == "2001", "a Kc registered for the de-registration batch", got)
        ax.close()
        rkis.append(rki_x)
    run(b, "maf-key-delete-batch", s1 + [(DOC_RKI, rkis[0]), (DOC_RKI_2, rkis[1])])
    held = {k["kc_id"] for k in h.maf_keys()}
    h.check(not {r + "@" + MAF for r in rkis} & held, "maf-key-delete-batch: both keys are gone at the MAF", held)

    # §3.4: "an expired registration may still be deleted by its source or a target (and by no
    # one else)": a target (Entity B) and a certificate entity that is neither source nor target
    # (/dev-c), each with a Kc registered for 2 s.
    expired = []
    for who in ("in-cse", "dev-c"):
        s, rki_x, _ = maf_session()
        soon = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + 2))
        got = s.request(wire_request(req.replace("20270101T010000", soon)))
        h.check(got[1].get("x-m2m-rsc") == "2001", f"a Kc registered for 2 s (to be deleted by /{who})", got)
        s.close()
        expired.append((who, rki_x))
    time.sleep(3)
    delete, _ = ex["maf-key-delete"]
    for who, rki_x in expired:
        s = Session(maf, MAF, CONNECTION, cert=cert(who), ca=ca)
        d = delete.replace(pct(DOC_RKI), pct(rki_x)).replace("X-M2M-Origin: /in-cse", f"X-M2M-Origin: /{who}")
        got = s.request(wire_request(d))
        s.close()
        want = "2002" if who == "in-cse" else "4103"
        what = (f"expired Kc deleted by its target /{who}" if who == "in-cse"
                else f"expired Kc not deletable by /{who}, neither source nor target")
        h.check(got[1].get("x-m2m-rsc") == want, what, got)
    b.close()

    # -- §3.5 client de-registration ------------------------------------------------------------------
    a, _, _ = maf_session()  # the key registration's session ended with it ('Connection: close')
    run(a, "maf-client-delete", s1)
    a.close()
    h.check(not any(c["entity_id"] == "/dev-0001" for c in h.maf_clients()), "the MAF forgot /dev-0001's Km")

    h.check(ran == known, "every documented example was sent", sorted(known - ran))
    for s in list(h.servers):
        rc = s.kill()
        h.check(rc == 0, f"{s.name} exits 0 on SIGTERM", f"exit {rc}")
    h.check(sum(1 for k in learnt if k.startswith("Kc ")) >= 3, "the secret scan covers three Kc values")
    h.scan_secrets(expect_at_least=2, extra=learnt)


def wait_for(cond, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: protocol_examples_test.py M2MSEC PROTOCOL_MD")
    Saef(sys.argv[1], "protocol-examples", csebase="cb", advertised_maf="maf.example.com:5685").main(
        lambda h: body(h, sys.argv[2]))
