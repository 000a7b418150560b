#include "m2msec/tls/identity.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "m2msec/core/ids.h"
#include "m2msec/tls/ossl.h"

namespace m2msec::tls {
namespace {

std::string ia5_text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// san_names returns the subjectAltName extension of |cert|, or null.
UniquePtr<GENERAL_NAMES> san_names(X509* cert) {
  return UniquePtr<GENERAL_NAMES>(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lo = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lo(a[i]) != lo(b[i])) return false;
  }
  return true;
}

}  // namespace

void certificate_names(X509* cert, std::vector<std::string>& out_uris, std::vector<std::string>& out_dns) {
  const UniquePtr<GENERAL_NAMES> names = san_names(cert);
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_URI) out_uris.push_back(ia5_text(gn->d.uniformResourceIdentifier));
    if (gn->type == GEN_DNS) out_dns.push_back(ia5_text(gn->d.dNSName));
  }
}

// TS-0003 clause 10.1.1.1: "The certificate shall include a
// SubjectPublicKeyInfo that indicates an algorithm of id-ecPublicKey with
// namedCurves secp256r1" and "The key usage extension shall be included and
// shall indicate at least digitalSignature." Clauses 10.1.1.5-10.1.1.7:
// "... certificates shall not include wildcards."
Status check_certificate_profile(X509* cert) {
  if (cert == nullptr) return fail(Errc::certificate_rejected, "no certificate");
  const EVP_PKEY* key = X509_get0_pubkey(cert);
  char group[64] = {};
  std::size_t group_len = 0;
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    return fail(Errc::certificate_rejected, "public key is not ECDSA P-256 (clause 10.1.1.1)");
  }
  const std::uint32_t usage = X509_get_key_usage(cert);
  if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0 || (usage & KU_DIGITAL_SIGNATURE) == 0) {
    return fail(Errc::certificate_rejected, "keyUsage lacks digitalSignature (clause 10.1.1.1)");
  }
  std::vector<std::string> uris;
  std::vector<std::string> dns;
  certificate_names(cert, uris, dns);
  for (const auto* list : {&uris, &dns}) {
    for (const std::string& name : *list) {
      if (name.find('*') != std::string::npos) {
        return fail(Errc::certificate_rejected, "wildcard in subjectAltName (clause 10.1.1)");
      }
    }
  }
  return {};
}

// TS-0003 clause 8.1.2.1: a CSE-ID certificate includes "the public domain
// name representation of a CSE-ID", an AE-ID certificate "the full URI
// representation of an AE-ID", and an FQDN certificate "the FQDN of an M2M
// Enrolment Function in the subjectAltName extension".
Status check_peer_name(X509* cert, const ExpectedName& expected) {
  if (cert == nullptr) return fail(Errc::peer_name_mismatch, "no certificate");
  std::vector<std::string> uris;
  std::vector<std::string> dns;
  certificate_names(cert, uris, dns);
  switch (expected.kind) {
    case ExpectedName::Kind::fqdn: {
      const Result<Fqdn> want = Fqdn::parse(expected.value);
      if (!want) return std::unexpected(want.error());
      for (const std::string& name : dns) {
        if (iequal(name, want->str())) return {};
      }
      return fail(Errc::peer_name_mismatch, "no dNSName " + want->str());
    }
    case ExpectedName::Kind::uri:
      for (const std::string& name : uris) {
        if (name == expected.value) return {};
      }
      return fail(Errc::peer_name_mismatch, "no URI " + expected.value);
    default:
      return fail(Errc::invalid_argument, "unknown expected-name kind");
  }
}

std::string_view anchor_role_name(AnchorRole role) {
  switch (role) {
    case AnchorRole::infrastructure:
      return "infrastructure";
    case AnchorRole::device:
      return "device";
    case AnchorRole::none:
      return "none";
    default:
      return "none";
  }
}

std::string certificate_fingerprint(X509* cert) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32) return {};
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}


}  // namespace m2msec::tls
