// m2msec/tls/pki.h: a small certificate authority for demos and tests.
//
// Issues ECDSA P-256 / SHA-256 certificates in the TS-0003 clause 10.1.1
// profile: leaves carry keyUsage digitalSignature (critical) and one SAN
// (a dNSName for FQDN and CSE-ID certificates, a URI for AE-ID ones).
// Not for production: the CA key sits in a file next to its certificate.
#pragma once

#include <string>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::tls {

// LeafSpec describes one certificate to issue.
struct LeafSpec {
  std::string name;                    // file stem: <dir>/<name>.crt, <name>.key
  std::vector<std::string> dns_names;  // SAN dNSName entries
  std::vector<std::string> uris;       // SAN URI entries
  int days = 825;
  std::string ca = "ca";               // issuing CA: <dir>/<ca>.crt, <ca>.key
};

// ensure_ca loads <dir>/<stem>.crt and <stem>.key, or creates them (a
// self-signed root named |ca_name|, P-256, 10 years) if both are missing.
// Key files get mode 0600. Fails with Errc::io_error or
// Errc::invalid_credentials.
Status ensure_ca(const std::string& dir, const std::string& ca_name, const std::string& stem = "ca");

// issue_leaf writes <dir>/<spec.name>.crt/.key signed by <dir>/<spec.ca>.*,
// unless both files already exist. Returns true if it created them.
Result<bool> issue_leaf(const std::string& dir, const LeafSpec& spec);

}  // namespace m2msec::tls
