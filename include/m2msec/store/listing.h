// m2msec/store/listing.h: paginated listings and counts for operators.
//
// Summaries carry identifiers, kinds and times, never key material: they
// hold no SecretBytes (so, unlike the records, they are copyable) and the
// backend never reads a secret column to build them, so listing does not
// need the KEK to open anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/store/records.h"

namespace m2msec::store {

// kMaxPageLimit bounds Page::limit, so one call never materialises an
// unbounded result.
inline constexpr std::size_t kMaxPageLimit = 1000;

// Page selects one page of a listing ordered (bytewise) by the listing's
// key: the rows whose key sorts after |after| (from the first row if
// |after| is empty), at most |limit| of them. The next page starts after
// the last key returned; a page with fewer than |limit| rows is the last.
// A listing fails with Errc::invalid_argument unless 1 <= limit <=
// kMaxPageLimit.
struct Page {
  std::string after;
  std::size_t limit = 100;
};

// EnroleeFilter selects enrolees for list_enrolees; the page key is
// enrolee_id. Unset filters match everything; set filters must all match.
struct EnroleeFilter {
  Page page;
  std::optional<EnroleeState> state;
  std::optional<TargetKind> target_kind;
  std::optional<std::string> target;  // exact match: MAF FQDN or Enrolee-B-ID
};

// EnrolmentSummary is an Enrolment without Ke and Kpsa.
struct EnrolmentSummary {
  std::string ke_id;
  std::optional<std::string> kpsa_id;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// EnroleeSummary is an Enrolee without Kpm,
// plus its current enrolment if it has one (expired enrolments that have
// not been purged are included; compare expires_at with the time).
struct EnroleeSummary {
  std::string enrolee_id;
  AuthKind auth_kind = AuthKind::psk;
  std::optional<std::string> kpm_id;
  std::optional<std::string> cert_subject;
  std::optional<std::string> cert_trust_anchor;  // "sha256:<hex>" of the root of trust (cert only)
  TargetKind target_kind = TargetKind::maf;
  std::string target;
  std::optional<std::int64_t> expires_at;
  std::int64_t created_at = 0;
  EnroleeState state = EnroleeState::active;
  std::optional<EnrolmentSummary> enrolment;  // empty: no enrolment
};

// MefCounts is one consistent snapshot of the MEF tables.
struct MefCounts {
  std::uint64_t active_enrolees = 0;
  std::uint64_t removed_enrolees = 0;
  std::uint64_t enrolments = 0;
};

// GbaSubscriberSummary is a GbaSubscriber without K and OPc;
// list_subscribers pages by impi.
struct GbaSubscriberSummary {
  std::string impi;
  std::uint64_t sqn = 0;
  std::uint16_t amf = 0;
  std::string enrolee_id;
  TargetKind target_kind = TargetKind::maf;
  std::string target;
  std::int64_t created_at = 0;
};

// MafClientSummary is a MafClient without Km. list_clients pages by
// entity_id, which (unlike km_id) survives re-registration.
struct MafClientSummary {
  std::string km_id;
  std::string entity_id;
  KmSource source = KmSource::mef;
  std::optional<std::int64_t> expires_at;
  std::int64_t registered_at = 0;
  std::optional<std::string> app_id;
};

// KcSummary is a KcKey without Kc; list_kc pages by kc_id. Targets are
// sorted.
struct KcSummary {
  std::string kc_id;
  std::string entity_a_id;
  std::vector<std::string> targets;
  std::int64_t expires_at = 0;
  std::int64_t created_at = 0;
};

// MafCounts is one consistent snapshot of the MAF tables.
struct MafCounts {
  std::uint64_t clients = 0;
  std::uint64_t kc_keys = 0;
};

}  // namespace m2msec::store
