#include <algorithm>

#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"

namespace m2msec {
namespace {

constexpr std::size_t kMaxRelativeName = 64;

bool is_relative_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// check_exported_relative validates an encoded RelativeKeID/RelativeKcID:
// exactly 16 bytes in the selected encoding.
Status check_exported_relative(std::string_view rel, IdEncoding enc) {
  Result<std::vector<std::uint8_t>> bytes =
      enc == IdEncoding::hex ? hex_decode(rel) : base64_decode(rel);
  if (!bytes) {
    return fail(Errc::invalid_identifier,
                std::string("relative part is not ") + std::string(id_encoding_name(enc)) + ": " +
                    bytes.error().message());
  }
  if (bytes->size() != kRelativeIdSize) {
    return fail(Errc::invalid_identifier, "relative part encodes " + std::to_string(bytes->size()) +
                                              " bytes, want 16");
  }
  return {};
}

// check_named_relative validates MAF_RELATIVE_KmID (10.6) and
// Issuer_Relative_KpsaID (10.5): Roman alphabet, numerals, '.', '_', '-'.
Status check_named_relative(std::string_view rel) {
  if (rel.empty()) return fail(Errc::invalid_identifier, "empty relative part");
  if (rel.size() > kMaxRelativeName) return fail(Errc::invalid_identifier, "relative part longer than 64");
  if (!std::all_of(rel.begin(), rel.end(), is_relative_char)) {
    return fail(Errc::invalid_identifier, "relative part has a character outside [A-Za-z0-9._-]");
  }
  return {};
}

// is_b_tid_relative is true for the relative part of a B-TID (TS 33.220
// 4.5.2): base64encode(RAND) of a 16-byte RAND, in canonical form, which
// always ends in "==" and so is never a MAF_RELATIVE_KmID.
bool is_b_tid_relative(std::string_view rel) {
  if (rel.size() != 24 || !rel.ends_with("==")) return false;
  Result<std::vector<std::uint8_t>> bytes = base64_decode(rel);
  return bytes && bytes->size() == kRelativeIdSize;
}

}  // namespace

std::string_view key_id_kind_name(KeyIdKind kind) {
  switch (kind) {
    case KeyIdKind::ke:
      return "keid";
    case KeyIdKind::kc:
      return "kcid";
    case KeyIdKind::km:
      return "kmid";
    case KeyIdKind::kpsa:
      return "kpsaid";
    default:
      return "unknown";
  }
}

Result<KeyIdKind> parse_key_id_kind(std::string_view text) {
  if (text == "keid") return KeyIdKind::ke;
  if (text == "kcid") return KeyIdKind::kc;
  if (text == "kmid") return KeyIdKind::km;
  if (text == "kpsaid") return KeyIdKind::kpsa;
  return fail(Errc::invalid_argument, "key ID kind must be keid, kcid, kmid or kpsaid");
}

Result<KeyId> KeyId::parse(KeyIdKind kind, std::string_view text, IdEncoding enc) {
  if (text.size() > kMaxKeyIdLength) return fail(Errc::invalid_identifier, "longer than 255 characters");
  const std::size_t at = text.rfind('@');
  if (at == std::string_view::npos) return fail(Errc::invalid_identifier, "missing '@'");
  const std::string_view rel = text.substr(0, at);

  // A KeID or KmID may be a B-TID (8.3.2.3), whatever the configured
  // relative-ID encoding of exported KeIDs.
  const bool b_tid = (kind == KeyIdKind::ke || kind == KeyIdKind::km) && is_b_tid_relative(rel);
  Status st;
  switch (kind) {
    case KeyIdKind::ke:
    case KeyIdKind::kc:
      if (!b_tid) st = check_exported_relative(rel, enc);
      break;
    case KeyIdKind::km:
    case KeyIdKind::kpsa:
      if (!b_tid) st = check_named_relative(rel);
      break;
    default:
      return fail(Errc::invalid_argument, "unknown key ID kind");
  }
  if (!st) return std::unexpected(st.error());

  Result<Fqdn> fqdn = Fqdn::parse(text.substr(at + 1));
  if (!fqdn) return std::unexpected(fqdn.error());
  const bool exported = (kind == KeyIdKind::ke || kind == KeyIdKind::kc) && !b_tid;
  return KeyId(kind, exported ? enc : IdEncoding::base64, std::string(text), at, std::move(*fqdn), b_tid);
}

KeyId KeyId::b_tid(std::span<const std::uint8_t, kRelativeIdSize> rand, const Fqdn& bsf) {
  std::string rel = base64_encode(rand);
  const std::size_t at = rel.size();
  return KeyId(KeyIdKind::ke, IdEncoding::base64, rel + "@" + bsf.str(), at, bsf, /*b_tid=*/true);
}

Result<KeyId> KeyId::from_relative(KeyIdKind kind, const RelativeId& relative, const Fqdn& fqdn,
                                   IdEncoding enc) {
  if (kind != KeyIdKind::ke && kind != KeyIdKind::kc) {
    return fail(Errc::invalid_argument, "only KeID and KcID are formed from an exported relative ID");
  }
  std::string rel = enc == IdEncoding::hex ? hex_encode(relative) : base64_encode(relative);
  const std::size_t at = rel.size();
  return KeyId(kind, enc, rel + "@" + fqdn.str(), at, fqdn);
}

std::string KeyId::canonical() const {
  std::string rel(relative());
  const bool hex_exported = (kind_ == KeyIdKind::ke || kind_ == KeyIdKind::kc) && enc_ == IdEncoding::hex;
  if ((kind_ == KeyIdKind::km && !b_tid_) || hex_exported) rel = to_lower(rel);
  return rel + "@" + to_lower(fqdn_.str());
}

}  // namespace m2msec
