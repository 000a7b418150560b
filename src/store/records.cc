#include "m2msec/store/records.h"

#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"

namespace m2msec::store {
namespace {

constexpr std::size_t kMaxTextField = 1024;

// check_enrolee_id accepts a CSE-ID or AE-ID (EntityId syntax).
Status check_enrolee_id(std::string_view enrolee_id) {
  Result<EntityId> id = EntityId::parse(enrolee_id);
  if (!id) return fail(Errc::invalid_identifier, "enrolee_id: " + id.error().message());
  return {};
}

Status check_text(const std::optional<std::string>& v, std::string_view field) {
  if (!v || v->empty()) return fail(Errc::invalid_argument, std::string(field) + " is required");
  if (v->size() > kMaxTextField) return fail(Errc::invalid_argument, std::string(field) + " is too long");
  if (Status st = check_printable_utf8(*v); !st) {
    return fail(Errc::invalid_argument, std::string(field) + ": " + st.error().detail());
  }
  return {};
}

}  // namespace

std::string_view auth_kind_name(AuthKind v) {
  switch (v) {
    case AuthKind::psk:
      return "psk";
    case AuthKind::cert:
      return "cert";
    default:
      return "unknown";
  }
}

std::string_view target_kind_name(TargetKind v) {
  switch (v) {
    case TargetKind::maf:
      return "maf";
    case TargetKind::kpsa:
      return "kpsa";
    default:
      return "unknown";
  }
}

std::string_view enrolee_state_name(EnroleeState v) {
  switch (v) {
    case EnroleeState::active:
      return "active";
    case EnroleeState::removed:
      return "removed";
    default:
      return "unknown";
  }
}

std::string_view km_source_name(KmSource v) {
  switch (v) {
    case KmSource::mef:
      return "mef";
    case KmSource::preprovisioned:
      return "preprovisioned";
    default:
      return "unknown";
  }
}

Result<AuthKind> parse_auth_kind(std::string_view text) {
  if (text == "psk") return AuthKind::psk;
  if (text == "cert") return AuthKind::cert;
  return fail(Errc::invalid_argument, "auth kind must be psk or cert");
}

Result<TargetKind> parse_target_kind(std::string_view text) {
  if (text == "maf") return TargetKind::maf;
  if (text == "kpsa") return TargetKind::kpsa;
  return fail(Errc::invalid_argument, "target kind must be maf or kpsa");
}

Result<EnroleeState> parse_enrolee_state(std::string_view text) {
  if (text == "active") return EnroleeState::active;
  if (text == "removed") return EnroleeState::removed;
  return fail(Errc::invalid_argument, "enrolee state must be active or removed");
}

Result<KmSource> parse_km_source(std::string_view text) {
  if (text == "mef") return KmSource::mef;
  if (text == "preprovisioned") return KmSource::preprovisioned;
  return fail(Errc::invalid_argument, "Km source must be mef or preprovisioned");
}

Status validate_target(TargetKind kind, std::string_view target) {
  switch (kind) {
    case TargetKind::maf: {
      Result<Fqdn> fqdn = Fqdn::parse(target);
      if (!fqdn) return fail(Errc::invalid_fqdn, "target: " + fqdn.error().message());
      return {};
    }
    case TargetKind::kpsa: {
      Result<EntityId> b = EntityId::parse(target);
      if (!b) return fail(Errc::invalid_identifier, "target: " + b.error().message());
      return {};
    }
    default:
      return fail(Errc::invalid_argument, "unknown target kind");
  }
}

Status validate_enrolee(const Enrolee& e) {
  if (Status st = check_enrolee_id(e.enrolee_id); !st) return st;
  switch (e.auth_kind) {
    case AuthKind::psk: {
      // The KpmID is the psk_identity of the bootstrap handshake.
      if (!e.kpm_id) return fail(Errc::invalid_identifier, "kpm_id is required");
      if (Status st = check_psk_identity(*e.kpm_id); !st) {
        return fail(Errc::invalid_identifier, "kpm_id: " + st.error().detail());
      }
      if (e.kpm.empty()) return fail(Errc::invalid_argument, "kpm is required for psk");
      if (e.cert_subject || e.cert_trust_anchor) {
        return fail(Errc::invalid_argument, "psk enrolee has certificate fields");
      }
      break;
    }
    case AuthKind::cert: {
      Status st = check_text(e.cert_subject, "cert_subject");
      if (!st) return st;
      st = check_text(e.cert_trust_anchor, "cert_trust_anchor");
      if (!st) return st;
      // Issue 11 item 3: the root of trust is named by its certificate's
      // SHA-256 fingerprint, never by a CN (which any CA may carry).
      if (!is_certificate_fingerprint(*e.cert_trust_anchor)) {
        return fail(Errc::invalid_argument,
                    "cert_trust_anchor: want the CA certificate's fingerprint, sha256:<64 lowercase hex> (give "
                    "--cert-ca a PEM file to compute it); a CA name (CN) is no longer accepted");
      }
      if (e.kpm_id || !e.kpm.empty()) return fail(Errc::invalid_argument, "cert enrolee has a Kpm");
      break;
    }
    default:
      return fail(Errc::invalid_argument, "unknown auth kind");
  }
  if (Status st = validate_target(e.target_kind, e.target); !st) return st;
  if (e.expires_at && *e.expires_at <= 0) return fail(Errc::invalid_argument, "expires_at must be positive");
  return {};
}

// TS-0001 7.2: an App-ID starts with "R" (registered with the App-ID
// registration authority) or "N" (not registered).
Status check_app_id(std::string_view app_id) {
  if (app_id.size() < 2 || app_id.size() > 255) {
    return fail(Errc::invalid_identifier, "app_id must be 2..255 characters");
  }
  if (app_id.front() != 'R' && app_id.front() != 'N') {
    return fail(Errc::invalid_identifier, "app_id must start with R (registered) or N (non-registered)");
  }
  for (char c : app_id) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (!unreserved) return fail(Errc::invalid_identifier, "app_id may hold only letters, digits and -._~");
  }
  return {};
}

namespace {

// check_gba_id is the rule for the GBA identifiers (IMPI, B-TID): they
// travel in HTTP headers and Digest parameters, so printable ASCII
// without spaces, 1..kMaxGbaIdLength bytes.
Status check_gba_id(std::string_view id, std::string_view field) {
  if (id.empty() || id.size() > kMaxGbaIdLength) {
    return fail(Errc::invalid_identifier, std::string(field) + " must be 1.." + std::to_string(kMaxGbaIdLength) +
                                              " bytes");
  }
  for (char c : id) {
    if (c <= ' ' || c > '~') {
      return fail(Errc::invalid_identifier, std::string(field) + " may hold only printable ASCII without spaces");
    }
  }
  return {};
}

Status check_size(std::size_t size, std::size_t want, std::string_view field) {
  if (size != want) {
    return fail(Errc::invalid_length, std::string(field) + " must be " + std::to_string(want) + " bytes");
  }
  return {};
}

}  // namespace

Status check_impi(std::string_view impi) { return check_gba_id(impi, "impi"); }

Status validate_gba_subscriber(const GbaSubscriber& s) {
  Status st = check_impi(s.impi);
  if (st) st = check_size(s.k.size(), kGbaKeySize, "k");
  if (st) st = check_size(s.opc.size(), kGbaKeySize, "opc");
  if (!st) return st;
  if (s.sqn >= kSqnLimit) return fail(Errc::invalid_argument, "sqn must be below 2^48");
  st = check_enrolee_id(s.enrolee_id);
  if (st) st = validate_target(s.target_kind, s.target);
  return st;
}

Status validate_gba_bootstrap(const GbaBootstrap& b, std::int64_t created_at) {
  Status st = check_gba_id(b.b_tid, "b_tid");
  if (st) st = check_impi(b.impi);
  if (st) st = check_size(b.ks.size(), kGbaKsSize, "ks");
  if (st) st = check_size(b.rand.size(), kGbaKeySize, "rand");
  if (!st) return st;
  if (b.expires_at <= created_at) return fail(Errc::invalid_argument, "bootstrap expires_at must be after its creation");
  return {};
}

}  // namespace m2msec::store
