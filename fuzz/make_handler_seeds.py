#!/usr/bin/env python3
"""Writes the seed corpora of the handler fuzzers (fuzz/corpus/*_handler/).

Each seed is one context byte (see fuzz/handler_harness.h) followed by an
HTTP request as a device or a server would send it. Re-run after changing
the request shapes; libFuzzer grows the corpus from these.
"""
import json
import os
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))

PSK, CERT, EXPORT = 1, 2, 0x20


def ctx(kind, which=0, exported=False):
    return bytes([kind | (which << 2) | (EXPORT if exported else 0)])


def http(method, path, origin, body=None, ty=None, rqi="rq-1"):
    head = [f"{method} {path} HTTP/1.1", "Host: fuzz.example.com", f"X-M2M-Origin: {origin}",
            f"X-M2M-RI: {rqi}", "X-M2M-RVI: 4"]
    data = b""
    if body is not None or ty is not None:
        ct = "application/json" + (f";ty={ty}" if ty else "")
        head.append(f"Content-Type: {ct}")
    if body is not None:
        data = json.dumps(body).encode()
    head.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data


def pct(s):
    return urllib.parse.quote(s, safe="")


SEEDS = {
    "mef_handler": [
        ctx(PSK, 0, True) + http("POST", "/mef", "kpm-1", {"sec:enr": {"idm": "maf.example.com"}}, 10001),
        ctx(PSK, 1, True) + http("POST", "/mef", "kpm-2", {"sec:enr": {}}, 10001),
        ctx(CERT, 2, True) + http("POST", "/mef", "dev-3.sp.example.com", {"sec:enr": {"cei": True}}, 10001),
        ctx(CERT, 0) + http("GET", "/mef/fetchCredentials/" + pct("AAECAwQFBgcICQoLDA0ODw==@mef.example.com") + "/21",
                             "maf.example.com"),
        ctx(CERT, 1) + http("GET", "/mef/fetchCredentials/" + pct("000102030405060708090a0b0c0d0e0f@mef.example.com")
                             + "/22", "/in-cse"),
        ctx(CERT, 0) + http("GET", "/mef/fetchCredentials/x/\xff", "maf.example.com"),
    ],
    "maf_handler": [
        ctx(PSK, 0) + http("POST", "/maf", "/dev-1", {"sec:mcr": {"fqdn": "maf.example.com"}}, 10002),
        ctx(PSK, 0, True) + http("POST", "/maf", "/dev-1",
                                 {"sec:mkr": {"fqdn": "maf.example.com", "suid": 32, "tids": ["/in-cse"]}}, 10003),
        ctx(PSK, 0, True) + http("POST", "/maf", "/dev-1",
                                 {"sec:mkr": {"fqdn": "maf.example.com", "suid": 4294967306, "tids": ["/in-cse"]}},
                                 10003),
        ctx(CERT, 0) + http("GET", "/maf/keys/" + pct("ZGVmZ2hpamtsbW5vcHFycw=="), "/in-cse"),
        ctx(CERT, 0) + http("DELETE", "/maf/keys/" + pct("ZGVmZ2hpamtsbW5vcHFycw=="), "/in-cse"),
        ctx(PSK, 0) + http("DELETE", "/maf/clients/" + pct("0a0b0c0d@maf.example.com"), "/dev-1"),
    ],
    "entityb_handler": [
        ctx(PSK, 0) + http("GET", "/in-name", "/dev-5"),
        ctx(PSK, 0) + http("POST", "/in-name", "/dev-5", {"m2m:ae": {"rn": "light", "api": "Napp", "rr": True}}, 2),
        ctx(PSK, 0) + http("POST", "/in-name", "/dev-5", {"m2m:ae": {"rn": 5}}, 2),
        ctx(PSK, 0) + http("POST", "/in-name", "/dev-5", {"m2m:ae": {"rr": "yes"}}, 2),
        ctx(PSK, 0) + http("GET", "/in-name/light", "/dev-5"),
        ctx(CERT, 0) + http("GET", "/in-cse", "/mn-cse"),
        # The CSE's resource tree and its access decisions (issue 14).
        ctx(PSK, 0) + http("POST", "/in-name/light", "/dev-5", {"m2m:cnt": {"rn": "c", "mni": 2}}, 3),
        ctx(PSK, 0) + http("POST", "/in-name/light", "/dev-5", {"m2m:acp": {
            "rn": "p", "pv": {"acr": [{"acor": ["all"], "acop": 2, "acco": [{"acip": {"ipv4": ["10.0.0.0/8"]}}]}]},
            "pvs": {"acr": [{"acor": ["/dev-5"], "acop": 63}]}}}, 1),
        ctx(PSK, 0) + http("POST", "/in-name/light/c", "/dev-5", {"m2m:cin": {"con": "21.5", "cnf": "text/plain:0"}}, 4),
        ctx(PSK, 0) + http("PUT", "/in-name/light/c", "/dev-5", {"m2m:cnt": {"acpi": ["/in-cse/in-name/light/p"]}}),
        ctx(PSK, 0) + http("POST", "/in-name/light", "/dev-5", {"m2m:grp": {"rn": "g", "mid": ["Cae-1", "/dev-5"]}}, 9),
        ctx(PSK, 0) + http("GET", "//sp.example.com/in-cse/ae-light", "/dev-5"),
        ctx(PSK, 0) + http("DELETE", "/in-name/light/c", "/dev-5"),
    ],
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed-{i:02d}"), "wb") as f:
            f.write(s)
