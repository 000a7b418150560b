// sql_revocations.h (private): RevocationLog over the SQL interface (tables
// revocations and feed_cursors, and the epoch in meta), and the SQL that
// the MEF and MAF repositories run inside their own transactions to log
// what they revoke.
#pragma once

#include "m2msec/store/revocation_log.h"
#include "sql_backend.h"

namespace m2msec::store::detail {

class SqlRevocationLog final : public RevocationLog {
 public:
  explicit SqlRevocationLog(Backend backend) : b_(backend) {}

  Result<RevocationPage> after(std::int64_t after, std::string_view holder, std::size_t limit) override;
  Status record(const Revocation& entry, std::int64_t now) override;
  Result<bool> is_revoked(RevokedKind kind, std::string_view key_id, std::int64_t now) override;
  Result<FeedCursor> cursor(std::string_view issuer) override;
  Status set_cursor(std::string_view issuer, const FeedCursor& cursor) override;
  Result<std::size_t> purge_expired(std::int64_t now) override;

 private:
  Backend b_;
};

// log_enrolment_revocation appends a "ke" entry for the current enrolment
// of |enrolee_id| (if it has one), naming its holder as the enrolee's
// target is now. Runs inside the caller's write transaction, before the
// enrolment row goes.
Status log_enrolment_revocation(sql::Connection& conn, const std::string& enrolee_id, std::int64_t now);

// insert_revocation appends |e| inside the caller's write transaction.
Status insert_revocation(sql::Connection& conn, const Revocation& e, std::int64_t now);

}  // namespace m2msec::store::detail
