// m2msec/tls/credentials.h: certificates, private keys and trust anchors.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/tls/identity.h"
#include "m2msec/tls/ossl.h"

namespace m2msec::tls {

// CertificateKey is a leaf certificate, its chain (leaf first, without the
// trust anchor) and the matching private key.
struct CertificateKey {
  UniquePtr<X509> leaf;
  X509Stack chain;  // intermediates; may be empty
  UniquePtr<EVP_PKEY> key;
};

// load_certificate_key reads a PEM file of certificates (leaf first) and a
// PEM private key file. Fails with Errc::io_error if a file is unreadable,
// Errc::insecure_permissions if group or others may access the key file
// (the detail gives its mode and says to chmod 600),
// Errc::invalid_credentials if it holds no certificate, the key does not
// match the leaf, or (with |enforce_profile|) the leaf violates clause
// 10.1.1 (P-256, keyUsage digitalSignature, no wildcard). Tests turn the
// profile off to present bad certificates to a peer.
Result<std::shared_ptr<const CertificateKey>> load_certificate_key(const std::string& cert_pem_path,
                                                                   const std::string& key_pem_path,
                                                                   bool enforce_profile = true);

// TrustAnchors is a set of CA certificates that end certification paths,
// each with the role it vouches for (keyed by certificate_fingerprint()).
// Shared between contexts (X509_STORE is reference counted).
struct TrustAnchors {
  UniquePtr<X509_STORE> store;
  std::map<std::string, AnchorRole, std::less<>> roles;

  // role_of returns the role of the anchor with |fingerprint|, or
  // AnchorRole::none if it is not one of these anchors.
  AnchorRole role_of(std::string_view fingerprint) const;
};

// load_trust_anchors reads every certificate of a PEM file into a store,
// each vouching for |role|. Fails with Errc::io_error or
// Errc::invalid_credentials (no certificate).
Result<std::shared_ptr<const TrustAnchors>> load_trust_anchors(const std::string& ca_pem_path,
                                                               AnchorRole role = AnchorRole::infrastructure);

// load_role_trust_anchors reads the infrastructure anchors and the device
// anchors (either path may be "", not both) into one store whose chains
// may end at either, remembering which set each anchor came from. Fails
// like load_trust_anchors, and with Errc::invalid_credentials if one CA
// certificate is in both files (a CA trusted for devices must not vouch
// for the MEF, the MAF or Entity B); the detail names its fingerprint.
Result<std::shared_ptr<const TrustAnchors>> load_role_trust_anchors(const std::string& infrastructure_pem_path,
                                                                    const std::string& device_pem_path);

// read_certificate_fingerprints returns certificate_fingerprint() of every
// certificate in a PEM file, in file order. Fails with Errc::io_error or
// Errc::invalid_credentials (no certificate).
Result<std::vector<std::string>> read_certificate_fingerprints(const std::string& pem_path);

}  // namespace m2msec::tls
