// m2msec/store/revocation_log.h: what an issuer revoked, in order, so that
// every holder of a key derived from it can drop its copy (issue: key
// lifecycle; docs/protocol.md "Revocation feed").
//
// The MEF logs each enrolment it ends (remove, rotate, re-target, or a new
// enrolment replacing the old one): kind "ke", with the KeID, the enrolee,
// the holder that may hold a key derived from it (the MAF FQDN holding Km,
// or the Entity B CSE-ID holding Kpsa) and the KpsaID. The MAF logs each
// MAF client it revokes (kind "km") and each Kc an operator revokes (kind
// "kc"). The log is also the MAF's memory of what it revoked: a KmID
// revoked there is never fetched again (is_revoked).
//
// Each database's log has an epoch (16 random bytes, hex) made when the
// table was created; a holder that finds another epoch than the one its
// cursor was taken in starts again from the beginning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::store {

enum class RevokedKind { ke, km, kc };
std::string_view revoked_kind_name(RevokedKind k);
Result<RevokedKind> parse_revoked_kind(std::string_view text);

// Revocation is one entry of the log. Identifiers only, never a key.
struct Revocation {
  std::int64_t seq = 0;  // set by the store; increasing, never reused
  RevokedKind kind = RevokedKind::ke;
  std::string key_id;                  // canonical KeID, KmID or KcID
  std::string entity_id;               // whose key it was
  std::string holder;                  // who may hold a derived copy ("" any)
  std::optional<std::string> kpsa_id;  // ke entries of Kpsa enrolees
  std::int64_t expires_at = 0;         // the key would have expired then; the entry goes after it
  std::int64_t created_at = 0;         // set by the store
};

// RevocationPage is one answer of the log: entries after a cursor.
struct RevocationPage {
  std::string epoch;                  // 32 lowercase hex digits
  std::int64_t head = 0;              // the log's last seq when read
  std::vector<Revocation> entries;    // seq order
  bool more = false;                  // entries after the last one returned exist
};

// FeedCursor is how far a holder has applied an issuer's log.
struct FeedCursor {
  std::string epoch;
  std::int64_t seq = 0;
};

inline constexpr std::size_t kMaxRevocationPage = 1000;

class RevocationLog {
 public:
  virtual ~RevocationLog() = default;

  // after returns up to |limit| (1..kMaxRevocationPage) entries with
  // seq > |after| whose holder is |holder| or "" (every entry when
  // |holder| is empty), the epoch and the head, from one snapshot.
  // |after| < 0 returns no entries: only the epoch and the head.
  virtual Result<RevocationPage> after(std::int64_t after, std::string_view holder, std::size_t limit) = 0;

  // record appends one entry (the MAF's own revocations). Durable.
  virtual Status record(const Revocation& entry, std::int64_t now) = 0;

  // is_revoked says whether |key_id| has an unexpired entry of |kind|.
  virtual Result<bool> is_revoked(RevokedKind kind, std::string_view key_id, std::int64_t now) = 0;

  // cursor returns the stored cursor for |issuer| (Errc::not_found if
  // none); set_cursor stores it (durable).
  virtual Result<FeedCursor> cursor(std::string_view issuer) = 0;
  virtual Status set_cursor(std::string_view issuer, const FeedCursor& cursor) = 0;

  // purge_expired deletes entries whose expires_at <= |now|; returns how
  // many. A holder cannot miss them: the keys they name are expired anyway.
  virtual Result<std::size_t> purge_expired(std::int64_t now) = 0;
};

}  // namespace m2msec::store
