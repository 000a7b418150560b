#include "m2msec/crypto/derive.h"

#include <algorithm>
#include <string>

#include "m2msec/crypto/hmac.h"
#include "m2msec/crypto/nfkc.h"

namespace m2msec::crypto {
namespace {

Status check_key(std::span<const std::uint8_t> key, std::string_view name) {
  if (key.size() != kKeySize) {
    return fail(Errc::invalid_length,
                std::string(name) + " has " + std::to_string(key.size()) + " bytes, want 32");
  }
  return {};
}

// label_then_id computes HMAC-SHA-256(key, label || NFKC(id)), the shape of
// clauses 10.3.2 and 10.3.3.
Result<SecretBytes> label_then_id(std::span<const std::uint8_t> key, std::string_view key_name,
                                  std::string_view label, std::string_view id) {
  if (auto st = check_key(key, key_name); !st) return std::unexpected(st.error());
  Result<std::string> norm = nfkc(id);
  if (!norm) return std::unexpected(norm.error());
  return hmac_sha256(key, {as_bytes(label), as_bytes(*norm)});
}

}  // namespace

Result<ExportedKey> split_exported(std::span<const std::uint8_t> exported) {
  if (exported.size() != kExportedSize) {
    return fail(Errc::invalid_length,
                "exporter output has " + std::to_string(exported.size()) + " bytes, want 48");
  }
  ExportedKey out{SecretBytes(exported.subspan(kRelativeIdSize)), {}};
  std::copy_n(exported.begin(), kRelativeIdSize, out.relative_id.begin());
  return out;
}

Result<SecretBytes> derive_km(std::span<const std::uint8_t> ke, std::string_view maf_id) {
  return label_then_id(ke, "Ke", kKmLabel, maf_id);
}

std::string maf_id_for_km(std::string_view maf_fqdn) {
  std::string out(maf_fqdn);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<SecretBytes> derive_kpsa(std::span<const std::uint8_t> ke, std::string_view enrolee_b_id) {
  return label_then_id(ke, "Ke", kKpsaLabel, enrolee_b_id);
}

Result<SecretBytes> derive_usage_constrained(std::span<const std::uint8_t> ke, unsigned suid,
                                             std::string_view enrolment_target_id) {
  if (suid < 1 || suid > 999) return fail(Errc::invalid_argument, "SUID must be 1..999");
  if (auto st = check_key(ke, "Ke"); !st) return std::unexpected(st.error());
  Result<std::string> norm = nfkc(enrolment_target_id);
  if (!norm) return std::unexpected(norm.error());
  const std::string suid_text = std::to_string(suid);
  return hmac_sha256(ke, {as_bytes(kUsageConstrainedLabel), as_bytes(suid_text), as_bytes(*norm)});
}

Result<SecretBytes> derive_e2e_master(std::span<const std::uint8_t> kpsa, std::string_view source_b_id) {
  if (auto st = check_key(kpsa, "Kpsa"); !st) return std::unexpected(st.error());
  Result<std::string> salt = nfkc(source_b_id);
  if (!salt) return std::unexpected(salt.error());
  return hmac_sha256(as_bytes(*salt), {kpsa});
}

Result<E2eKeys> expand_e2e(std::span<const std::uint8_t> master) {
  if (auto st = check_key(master, "Ke2e_master"); !st) return std::unexpected(st.error());
  static constexpr std::string_view kLabels[4] = {
      "E2E Message Authentication Key", "E2E Message Confidentiality Key",
      "E2E Attribute Authenticity Key", "E2E Attribute Confidentiality Key"};
  SecretBytes t[4];
  std::span<const std::uint8_t> prev;  // T(0) is empty
  for (std::uint8_t i = 0; i < 4; ++i) {
    const std::uint8_t counter = static_cast<std::uint8_t>(i + 1);
    Result<SecretBytes> ti = hmac_sha256(master, {prev, as_bytes(kLabels[i]), {&counter, 1}});
    if (!ti) return std::unexpected(ti.error());
    t[i] = std::move(*ti);
    prev = t[i].view();
  }
  return E2eKeys{std::move(t[0]), std::move(t[1]), std::move(t[2]), std::move(t[3])};
}

}  // namespace m2msec::crypto
