#!/usr/bin/env python3
"""gateway_test.py M2MSEC: Entity B in gateway mode in front of an upstream CSE (issue 14 item 4).

Real processes on loopback: the MEF and the MAF, Entity B as a security
gateway ("m2msec cse serve" with [cse.upstream]) and, behind it, a second
"m2msec cse serve" acting as the upstream IN-CSE, which holds the resources
and serves the gateway over plain HTTP (gateway_listen) without TS-0003
security of its own. Devices are real "m2msec enrol" / "m2msec associate"
runs, over TLS and DTLS.

  * Every authenticated request is forwarded with X-M2M-Origin set from
    the authenticated identity and the upstream's answer relayed: AE
    registration binds the AE at the upstream to the device's AE-ID, and
    the upstream's access decisions (4103) reach the device.
  * A device claiming another identity is refused at the gateway (4103)
    and nothing reaches the upstream under that identity.
  * The upstream trusts X-M2M-Origin on its plain listener (shown with
    python's http.client: why it must face only the gateways), refuses an
    Origin that is no CSE-ID/AE-ID (4000) and malformed HTTP (400), and
    keeps serving.
  * Upstream down: the gateway answers 5103 and keeps serving; upstream
    back: the same tree again.

Prints "N passed, N failed"; exits non-zero on a failure.
"""
import http.client
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import store_backend  # noqa: E402
from saef_harness import CSE_FQDN, CSE_ID, MAF, Saef, Server, free_port  # noqa: E402

CSEBASE = "in-name"


def plain(port, method, path, origin, body=None, ty=None):
    """plain sends one oneM2M request to the upstream's plain HTTP listener; returns (status, rsc, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"X-M2M-Origin": origin, "X-M2M-RI": "py-1", "X-M2M-RVI": "4", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json" + (f";ty={ty}" if ty else "")
    c.request(method, path, body=data, headers=headers)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, r.getheader("X-M2M-RSC"), text


def body(h):
    # -- the upstream: a second m2msec CSE holding the resources, reached over plain HTTP ------------
    up_port, up_tls = free_port(), free_port()
    up_config = os.path.join(h.dir, "upstream.toml")
    with open(up_config, "w") as f:
        f.write(f"""[cse]
fqdn = "{CSE_FQDN}"
sp_domain = "sp.example.com"
cse_id = "{CSE_ID}"
csebase = "{CSEBASE}"
data_dir = "updata"
tls_listen = "127.0.0.1:{up_tls}"
gateway_listen = "127.0.0.1:{up_port}"
workers = 4
""" + store_backend.store_table("cse"))
    upstream = Server(h, "cse", up_config, "upstream")
    h.check(upstream.alive(), "the upstream CSE serves")
    h.check("X-M2M-Origin trusted" in upstream.log_text(), "the upstream warns that its plain listener trusts Origin",
            upstream.log_text()[-1500:])

    # -- the gateway: the harness's Entity B, with [cse.upstream] ------------------------------------
    with open(h.config) as f:
        text = f.read()
    text = text.replace("\n[[cse.maf]]", f'\n[cse.upstream]\naddress = "127.0.0.1:{up_port}"\ntimeout_ms = 3000\n'
                        "\n[[cse.maf]]", 1)
    with open(h.config, "w") as f:
        f.write(text)
    h.start_all()
    h.check("gateway mode" in h.cse.log_text(), "Entity B logs gateway mode", h.cse.log_text()[-1500:])

    a1 = h.enrol("Cgwone", CSE_ID, entity_id="Cgwone")  # the Application Key (Kpsa for /in-cse)
    a2 = h.enrol("Cgwtwo", MAF, entity_id="Cgwtwo")     # MAF-based
    r = h.expect_rsc("AE 1 registers through the gateway", 2001, h.request(a1, "kpsa", "create-ae"))
    h.check(r.get("m2m:ae", {}).get("aei") == "Cgwone" and r.get("m2m:ae", {}).get("ri") == "Cgwone",
            "the upstream bound the AE to the authenticated AE-ID", r)
    h.expect_rsc("AE 2 registers through the gateway over DTLS", 2001, h.request(a2, "maf", "create-ae", dtls=True))
    base1 = f"/{CSEBASE}/Cgwone"
    h.expect_rsc("AE 1 creates a private container upstream", 2001,
           h.request(a1, "kpsa", "create", to=base1, ty=3, content={"m2m:cnt": {"rn": "private"}}))
    h.expect_rsc("AE 1 writes to it over DTLS", 2001,
           h.request(a1, "kpsa", "create", dtls=True, to=base1 + "/private", ty=4, content={"m2m:cin": {"con": "1"}}))
    got = h.expect_rsc("AE 1 reads it", 2000, h.request(a1, "kpsa", "retrieve", to=base1 + "/private"))
    h.check(got.get("m2m:cnt", {}).get("cni") == 1, "the upstream's answer is relayed as is", got)
    h.expect_rsc("AE 2 is denied by the upstream's access decision", 4103,
           h.request(a2, "maf", "retrieve", to=base1 + "/private"))
    r = h.associate(a2, framework="maf", extra=["--request", "retrieve", "--to", base1 + "/private",
                                                "--from", "Cgwone"])
    got = h.expect_rsc("AE 2 claiming AE 1's identity is refused", 4103, r)
    h.check("authenticated identity" in got.get("m2m:dbg", ""), "refused by the gateway itself (7.2.1), not forwarded",
            got)

    # -- the upstream's plain listener: what it trusts and what it refuses ---------------------------
    status, rsc, text = plain(up_port, "GET", base1 + "/private", "Cgwone")
    h.check(status == 200 and rsc == "2000", "the plain listener takes X-M2M-Origin as authenticated", text)
    status, rsc, text = plain(up_port, "GET", base1 + "/private", "not an id")
    h.check(status == 400 and rsc == "4000", "an Origin that is no CSE-ID/AE-ID: 4000", text)
    s = socket.create_connection(("127.0.0.1", up_port), timeout=10)
    s.sendall(b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = s.recv(4096).decode(errors="replace")
    s.close()
    h.check(answer.startswith("HTTP/1.1 400"), "malformed HTTP on the plain listener: 400", answer[:300])
    h.check(upstream.alive(), "the upstream still runs")

    # -- upstream down, then back -----------------------------------------------------------------------
    upstream.kill()
    h.expect_rsc("upstream down: the gateway answers 5103", 5103, h.request(a1, "kpsa", "retrieve", to=base1))
    h.check(h.cse.alive(), "the gateway still runs")
    upstream = Server(h, "cse", up_config, "upstream")
    h.expect_rsc("upstream back: the same tree", 2000, h.request(a1, "kpsa", "retrieve", to=base1 + "/private"))
    h.scan_secrets(expect_at_least=4)
    h.stop_all()


if __name__ == "__main__":
    Saef(sys.argv[1], "gateway").main(body)
