// m2msec/crypto/derive.h: the key derivations of TS-0003 clause 10.3
// (seed change 2 of the MAF-based framework CR, and V3.18 for 10.3.6-7).
// The M2M Application Key of seed 000 is the Kpsa of clause 10.3.3 whose
// Enrolee B is the AE's registrar CSE (derive_kpsa; docs/derivations.md).
//
// Every identifier that enters a derivation is NFKC-normalised UTF-8
// (crypto::nfkc); invalid UTF-8 fails with Errc::invalid_utf8. Keys that
// must be 32 bytes (Ke, Kpsa, Km) fail with Errc::invalid_length otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret.h"

namespace m2msec::crypto {

// Exporter labels and length (clause 10.3.1).
inline constexpr std::string_view kBootstrapExporterLabel = "EXPORTER-oneM2M-Bootstrap";
inline constexpr std::string_view kConnectionExporterLabel = "EXPORTER-oneM2M-Connection";
inline constexpr std::string_view kEsCertKeExporterLabel = "EXPORTER-oneM2M-ESCertKE";
inline constexpr std::size_t kExportedSize = 48;
inline constexpr std::size_t kKeySize = 32;

// Derivation labels (clauses 10.3.2, 10.3.3, 10.3.7).
inline constexpr std::string_view kKmLabel = "oneM2M Enrolment Key to Master Credential derivation";
inline constexpr std::string_view kKpsaLabel =
    "oneM2M Enrolment Key to Provisioned Secure Connection Key derivation";
inline constexpr std::string_view kUsageConstrainedLabel =
    "oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation";

// ExportedKey is the result of splitting one 48-byte exporter output.
struct ExportedKey {
  SecretBytes key;          // Ke, Kc or pairwiseE2EKey: 32 bytes
  RelativeId relative_id;   // RelativeKeID, RelativeKcID or pairwiseE2EKeyID
};

// split_exported implements clause 10.3.1: "The [key] is set to the value
// of the 32 least significant bytes, while [the relative ID] is set to the
// value of the 16 most significant bytes."
//
// The 48 bytes are read as one big-endian number, as TLS encodes numbers:
// the most significant bytes come first. So relative_id = exported[0..15]
// and key = exported[16..47], in the order the exporter returned them.
// Fails with Errc::invalid_length unless |exported| has 48 bytes.
Result<ExportedKey> split_exported(std::span<const std::uint8_t> exported);

// derive_km implements clause 10.3.2:
//   Km := HMAC-SHA-256(Ke, "oneM2M Enrolment Key to Master Credential
//         derivation" || MAF-ID)
Result<SecretBytes> derive_km(std::span<const std::uint8_t> ke, std::string_view maf_id);

// maf_id_for_km returns the MAF-ID that enters derive_km for the MAF named
// |maf_fqdn|: the FQDN with its ASCII letters lowercased (other bytes
// unchanged). DNS names compare case-insensitively (RFC 4343) but NFKC does
// not fold case, so without this "MAF.Example.com" and "maf.example.com"
// would give two Km. The MEF, the enrolee and "m2msec derive km" all form
// the MAF-ID here.
std::string maf_id_for_km(std::string_view maf_fqdn);

// derive_kpsa implements clause 10.3.3:
//   Kpsa := HMAC-SHA-256(Ke, "oneM2M Enrolment Key to Provisioned Secure
//           Connection Key derivation" || Enrolee-B-ID)
Result<SecretBytes> derive_kpsa(std::span<const std::uint8_t> ke, std::string_view enrolee_b_id);

// derive_usage_constrained implements clause 10.3.7:
//   HMAC-SHA-256(Ke, "oneM2M Enrolment Key to Usage-Constrained Symmetric
//                Key derivation" || SUID || Enrolment-Target-ID)
// The clause does not fix the octets of SUID; m2msec writes the SUID as its
// decimal ASCII digits (SUID 12 -> "12"), see docs/derivations.md. The
// SUID must be 1..999 (Errc::invalid_argument).
Result<SecretBytes> derive_usage_constrained(std::span<const std::uint8_t> ke, unsigned suid,
                                             std::string_view enrolment_target_id);

// derive_e2e_master implements clause 10.3.6.1:
//   Ke2e_master = HMAC-Hash(Salt, Kpsa)
// with HMAC-SHA-256 and Salt = NFKC(Source ESF End-Point-B-ID), the one
// input the clause lists besides Kpsa.
Result<SecretBytes> derive_e2e_master(std::span<const std::uint8_t> kpsa, std::string_view source_b_id);

// E2eKeys are the four keys of table 10.3.6.2-1.
struct E2eKeys {
  SecretBytes msg_auth;  // T(1)
  SecretBytes msg_conf;  // T(2)
  SecretBytes att_auth;  // T(3)
  SecretBytes att_conf;  // T(4)
};

// expand_e2e implements clause 10.3.6.2 (RFC 5869 expand):
//   T(0) = empty; T(i) = HMAC-SHA-256(Ke2e_master, T(i-1) | label_i | i)
// with label_1..4 = "E2E Message Authentication Key", "E2E Message
// Confidentiality Key", "E2E Attribute Authenticity Key", "E2E Attribute
// Confidentiality Key".
Result<E2eKeys> expand_e2e(std::span<const std::uint8_t> ke2e_master);

}  // namespace m2msec::crypto
