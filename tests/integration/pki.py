#!/usr/bin/env python3
"""pki.py DIR: a throw-away test PKI for the integration tests (openssl CLI).

All keys are ECDSA P-256 and signatures SHA-256 (TS-0003 10.1.1.1); leaves
carry keyUsage=critical,digitalSignature and a subjectAltName. Key files
are written with mode 0600. Nothing generated is committed.

    ca.crt/.key            infrastructure trust anchor (trust_anchors): MEF, MAF, Entity B
    device-ca.crt/.key     device trust anchor (device_trust_anchors): enrolees, Entity A
    device-ca2.crt/.key    a second device CA (another vendor), also a device anchor
    device-anchors.crt     device-ca.crt and device-ca2.crt, the servers' device_trust_anchors
    rogue-ca.crt/.key      a CA nobody trusts
    mef, maf, maf2         FQDN leaves from ca: DNS:<name>.example.com
    <cse> (make_cse)       CSE-ID leaves: DNS:<cse>.sp.example.com (from ca for Entity B,
                           from device-ca for devices)
    expired                mef.example.com, validity ended in 2020

Trust is per role (issue 11 item 3): a device CA must never vouch for the
MEF, the MAF or Entity B, so the servers' certificates come from ca and
devices' from device-ca; the two sets share no CA.

Import it (sys.path) for make_pki(dir) / make_cse(dir, name, ...), or run
it to generate the standard set into DIR. tests/interop/make_certs.sh is
the transport tests' (bash) equivalent with more negative cases.
"""
import os
import subprocess
import sys

SP_DOMAIN = "sp.example.com"


def _run(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + r.stderr.strip())


def _key(d, name):
    path = os.path.join(os.path.abspath(d), name + ".key")
    _run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path], d)
    os.chmod(path, 0o600)


def make_ca(d, name, cn=None):
    """make_ca writes <name>.crt/.key, a self-signed P-256 CA (CN |cn|, default "<name> test CA"), and its
    openssl ca database."""
    _key(d, name)
    _run(["req", "-new", "-x509", "-key", name + ".key", "-sha256", "-days", "30", "-subj",
          f"/CN={cn or name + ' test CA'}",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-out", name + ".crt"], d)
    db = os.path.join(d, name + ".db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("01\n")


def make_leaf(d, name, san, ca="ca", key_usage="digitalSignature", start=None, end=None):
    """make_leaf writes <name>.crt/.key issued by |ca| with SAN |san| ("DNS:x" or "URI:x")."""
    _key(d, name)
    _run(["req", "-new", "-key", name + ".key", "-subj", f"/CN={name}", "-out", name + ".csr"], d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write(f"""[ca]
default_ca = ca_sect
[ca_sect]
database = {ca}.db/index.txt
serial = {ca}.db/serial
new_certs_dir = {ca}.db
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[pol]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,{key_usage}
subjectAltName = {san}
""")
    dates = ["-startdate", start, "-enddate", end] if start else ["-days", "30"]
    _run(["ca", "-batch", "-config", name + ".ext", "-extensions", "ext", "-cert", ca + ".crt", "-keyfile",
          ca + ".key", "-in", name + ".csr", "-out", name + ".crt", "-notext"] + dates, d)
    os.remove(os.path.join(d, name + ".csr"))
    os.remove(ext)


def make_cse(d, name, ca="ca", expired=False):
    """make_cse writes <name>.crt/.key for the CSE-ID "/<name>": DNS:<name>.sp.example.com."""
    dates = {"start": "20190101000000Z", "end": "20200101000000Z"} if expired else {}
    make_leaf(d, name, f"DNS:{name}.{SP_DOMAIN}", ca=ca, **dates)
    return f"{name}.{SP_DOMAIN}"


def fingerprint(path):
    """fingerprint returns "sha256:<lowercase hex>" of the certificate in |path|, computed by
    "openssl x509 -noout -fingerprint -sha256" (independently of m2msec)."""
    r = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", path],
                       capture_output=True, text=True, check=True)
    return "sha256:" + r.stdout.strip().split("=", 1)[1].replace(":", "").lower()


def make_pki(d):
    """make_pki writes the standard set (see the module docstring) into |d|."""
    d = os.path.abspath(d)
    os.makedirs(d, exist_ok=True)
    make_ca(d, "ca")
    make_ca(d, "device-ca")
    make_ca(d, "device-ca2")
    with open(os.path.join(d, "device-anchors.crt"), "w") as out:
        for name in ("device-ca", "device-ca2"):
            with open(os.path.join(d, name + ".crt")) as f:
                out.write(f.read())
    make_ca(d, "rogue-ca")
    for host in ("mef", "maf", "maf2"):
        make_leaf(d, host, f"DNS:{host}.example.com")
    make_leaf(d, "expired", "DNS:mef.example.com", start="20190101000000Z", end="20200101000000Z")
    return d


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pki.py DIR")
    old = os.umask(0o077)
    try:
        make_pki(sys.argv[1])
    finally:
        os.umask(old)
