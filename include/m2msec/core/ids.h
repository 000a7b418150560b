// m2msec/core/ids.h: strong types for the identifiers of TS-0003.
//
// Every type here is built only by parse() or by a named constructor that
// validates, so holding one means the text is well formed.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"

namespace m2msec {

// IdEncoding selects how a relative KeID/KcID is written. The seeds
// (TS-0003 change 2, clauses 10.3.4-10.3.5) use base64; V3.18 uses hexBinary.
enum class IdEncoding { base64, hex };

// parse_id_encoding accepts "base64" or "hex".
Result<IdEncoding> parse_id_encoding(std::string_view text);
std::string_view id_encoding_name(IdEncoding enc);

// Fqdn is a fully qualified domain name per RFC 1123: at least two labels,
// each 1-63 of [A-Za-z0-9-] not starting or ending with '-', at most 253
// characters, no trailing dot, no wildcard (TS-0003 clause 10.1.1).
class Fqdn {
 public:
  static Result<Fqdn> parse(std::string_view text);

  const std::string& str() const { return text_; }
  // matches compares case-insensitively, as DNS does.
  bool matches(const Fqdn& other) const;
  bool operator==(const Fqdn& other) const { return matches(other); }

 private:
  explicit Fqdn(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// KeyIdKind names the four symmetric key identifiers.
enum class KeyIdKind {
  ke,    // KeID = encode(RelativeKeID)@MEF-FQDN         (10.3.4)
  kc,    // KcID = encode(RelativeKcID)@MAF-FQDN         (10.3.5)
  km,    // KmID = MAF_RELATIVE_KmID@MAF-FQDN            (10.6)
  kpsa,  // KpsaID = Issuer_Relative_KpsaID@Issuer-FQDN  (10.5)
};

std::string_view key_id_kind_name(KeyIdKind kind);
Result<KeyIdKind> parse_key_id_kind(std::string_view text);

// kRelativeIdSize is the size of RelativeKeID and RelativeKcID: the 16 most
// significant bytes of the 48-byte TLS exporter output.
inline constexpr std::size_t kRelativeIdSize = 16;
using RelativeId = std::array<std::uint8_t, kRelativeIdSize>;

// kMaxPskIdentityLength is the longest psk_identity the handshakes here
// can carry. RFC 4279 allows 2^16-1 octets, but OpenSSL 3 gives the
// client's PSK callback a buffer of PSK_MAX_IDENTITY_LEN (256) bytes that
// must also hold the terminating NUL (tls/context.cc psk_client_callback).
inline constexpr std::size_t kMaxPskIdentityLength = 255;

// check_psk_identity is the rule for any text used as a TLS psk_identity
// that an operator chooses (a KpmID, a pre-provisioned KmID or KpsaID):
// 1..kMaxPskIdentityLength bytes of printable UTF-8 (check_printable_utf8;
// RFC 4279 clause 5.1 encodes the identity as UTF-8). Fails with
// Errc::invalid_identifier; the detail never repeats the text.
Status check_psk_identity(std::string_view text);

// kMaxKeyIdLength bounds every key identifier so that it fits a TLS
// psk_identity (kMaxPskIdentityLength).
inline constexpr std::size_t kMaxKeyIdLength = kMaxPskIdentityLength;

// KeyId is "<relative>@<fqdn>" for one of the four kinds.
//
// For ke and kc the relative part is the encoding of exactly 16 bytes: 24
// characters of canonical base64, or 32 hex digits. For km and kpsa it is
// 1-64 characters of [A-Za-z0-9._-]; the relative KmID is case-insensitive.
//
// A KeID or a KmID may also be a GBA B-TID (TS-0003 8.3.2.3 and Annex A:
// "The Enrolment Key Identifier (Ke-ID) shall be the Bootstrapping
// Transaction Identifier (B-TID)", and Km is that B-TID's Ks_NAF): TS 33.220
// 4.5.2 "base64encode(RAND)@BSF_servers_domain_name", RAND being 16 bytes,
// so 24 characters of canonical base64 (ending "==") and the BSF's FQDN.
// It is case-sensitive in its relative part. KcIDs and KpsaIDs never take
// that form.
class KeyId {
 public:
  // parse validates |text| as a |kind| identifier. For ke and kc, |enc|
  // selects the expected relative encoding. Fails with
  // Errc::invalid_identifier (shape, relative part) or Errc::invalid_fqdn.
  static Result<KeyId> parse(KeyIdKind kind, std::string_view text,
                             IdEncoding enc = IdEncoding::base64);

  // from_relative forms a KeID or KcID (|kind| must be ke or kc) from the
  // exporter-derived relative ID. Fails with Errc::invalid_argument for
  // other kinds.
  static Result<KeyId> from_relative(KeyIdKind kind, const RelativeId& relative, const Fqdn& fqdn,
                                     IdEncoding enc = IdEncoding::base64);

  // b_tid forms the B-TID of a GBA bootstrap (TS 33.220 4.5.2) from its
  // 16-byte RAND and the BSF's (the MEF's) FQDN, as a KeID.
  static KeyId b_tid(std::span<const std::uint8_t, kRelativeIdSize> rand, const Fqdn& bsf);

  // has_b_tid_form is true for a KeID or KmID in the B-TID form (see
  // above). A KmID in that form is a GBA Ks_NAF's (never an operator's
  // name, which cannot hold '='); a base64 KeID of the exporter has the
  // same form as a B-TID, and the MEF tells them apart by lookup.
  bool has_b_tid_form() const { return b_tid_; }

  KeyIdKind kind() const { return kind_; }
  const std::string& str() const { return text_; }
  std::string_view relative() const { return std::string_view(text_).substr(0, at_); }
  const Fqdn& fqdn() const { return fqdn_; }

  // encoding is the relative-part encoding of a KeID or KcID (base64 for
  // km and kpsa, whose relative parts are names).
  IdEncoding encoding() const { return enc_; }

  // canonical returns the form used as a lookup key: the text with the FQDN
  // lowercased, and the relative part lowercased where case carries no
  // meaning: a KmID (10.6) and a hexBinary KeID/KcID.
  std::string canonical() const;

  bool operator==(const KeyId& other) const { return kind_ == other.kind_ && canonical() == other.canonical(); }

 private:
  KeyId(KeyIdKind kind, IdEncoding enc, std::string text, std::size_t at, Fqdn fqdn, bool b_tid = false)
      : kind_(kind), enc_(enc), text_(std::move(text)), at_(at), fqdn_(std::move(fqdn)), b_tid_(b_tid) {}

  KeyIdKind kind_;
  IdEncoding enc_;
  std::string text_;
  std::size_t at_;
  Fqdn fqdn_;
  bool b_tid_ = false;
};

// CredentialId (TS-0003 clause 10.4) is "<type-ID>-<value>": a positive
// integer, '-', then 1 or more of [A-Za-z0-9._@-].
class CredentialId {
 public:
  static Result<CredentialId> parse(std::string_view text);

  std::uint32_t type_id() const { return type_id_; }
  std::string_view value() const { return std::string_view(text_).substr(dash_ + 1); }
  const std::string& str() const { return text_; }

 private:
  CredentialId(std::string text, std::size_t dash, std::uint32_t type_id)
      : text_(std::move(text)), dash_(dash), type_id_(type_id) {}
  std::string text_;
  std::size_t dash_;
  std::uint32_t type_id_;
};

// EntityKind tells a CSE-ID from an AE-ID.
enum class EntityKind { cse, ae };

// EntityId is a oneM2M CSE-ID or AE-ID (TS-0001 clause 7.2) in one of its
// forms: absolute "//SP-ID/x[/y]", SP-relative "/x[/y]" or CSE-relative
// "Cxxx"/"Sxxx" for AEs. One path segment names a CSE; two name an AE.
// Characters are RFC 3986 unreserved plus the separators; at most 255.
class EntityId {
 public:
  static Result<EntityId> parse(std::string_view text);

  EntityKind kind() const { return kind_; }
  const std::string& str() const { return text_; }
  bool operator==(const EntityId& other) const { return text_ == other.text_; }

 private:
  EntityId(std::string text, EntityKind kind) : text_(std::move(text)), kind_(kind) {}
  std::string text_;
  EntityKind kind_;
};

}  // namespace m2msec
