#include "sql_revocations.h"

#include "m2msec/core/encoding.h"

namespace m2msec::store {

std::string_view revoked_kind_name(RevokedKind k) {
  switch (k) {
    case RevokedKind::ke:
      return "ke";
    case RevokedKind::km:
      return "km";
    case RevokedKind::kc:
      return "kc";
    default:
      return "?";
  }
}

Result<RevokedKind> parse_revoked_kind(std::string_view text) {
  if (text == "ke") return RevokedKind::ke;
  if (text == "km") return RevokedKind::km;
  if (text == "kc") return RevokedKind::kc;
  return fail(Errc::invalid_argument, "revocation kind must be ke, km or kc");
}

}  // namespace m2msec::store

namespace m2msec::store::detail {
namespace {

constexpr std::string_view kColumns = "seq, kind, key_id, entity_id, holder, kpsa_id, expires_at, created_at";

Result<Revocation> decode(const Stmt& s) {
  Revocation r;
  r.seq = s.column_int64(0);
  auto kind = parse_revoked_kind(s.column_text(1));
  if (!kind) return fail(Errc::store_error, "corrupt revocation row " + std::to_string(r.seq));
  r.kind = *kind;
  r.key_id = s.column_text(2);
  r.entity_id = s.column_text(3);
  r.holder = s.column_text(4);
  r.kpsa_id = s.column_optional_text(5);
  r.expires_at = s.column_int64(6);
  r.created_at = s.column_int64(7);
  return r;
}

Result<std::int64_t> read_head(sql::Connection& conn) {
  // The counter row keeps the largest seq ever handed out, even after the
  // rows were purged, so the head never goes back.
  Result<Stmt> q = conn.prepare("SELECT seq FROM revocation_head");
  if (!q) return std::unexpected(q.error());
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  return *row ? q->column_int64(0) : 0;
}

Result<std::string> read_epoch(sql::Connection& conn) {
  Result<Stmt> q = conn.prepare("SELECT value FROM meta WHERE name = 'revocation_epoch'");
  if (!q) return std::unexpected(q.error());
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::store_error, "no revocation epoch");
  return hex_encode(q->column_blob(0));
}

}  // namespace

namespace {

// next_seq takes the next seq: the counter row's update locks it until the
// caller's transaction ends, so seqs commit in the order they are taken,
// across processes (schema version 5). With |enrolee_id|, only if that
// enrolee has an enrolment to log.
Status next_seq(sql::Connection& conn, const std::string* enrolee_id = nullptr) {
  Result<Stmt> up = conn.prepare(
      enrolee_id == nullptr
          ? "UPDATE revocation_head SET seq = seq + 1"
          : "UPDATE revocation_head SET seq = seq + 1 WHERE EXISTS (SELECT 1 FROM enrolments WHERE enrolee_id = ?1)");
  if (!up) return std::unexpected(up.error());
  Status st = enrolee_id == nullptr ? Status() : up->bind_text(1, *enrolee_id);
  if (st) st = up->run();
  return st;
}

}  // namespace

Status insert_revocation(sql::Connection& conn, const Revocation& e, std::int64_t now) {
  if (Status st = next_seq(conn); !st) return st;
  Result<Stmt> ins = conn.prepare(
      "INSERT INTO revocations (seq, kind, key_id, entity_id, holder, kpsa_id, expires_at, created_at) "
      "VALUES ((SELECT seq FROM revocation_head), ?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return std::unexpected(ins.error());
  Status st = ins->bind_text(1, revoked_kind_name(e.kind));
  if (st) st = ins->bind_text(2, e.key_id);
  if (st) st = ins->bind_text(3, e.entity_id);
  if (st) st = ins->bind_text(4, e.holder);
  if (st) st = ins->bind_optional(5, e.kpsa_id);
  if (st) st = ins->bind_int64(6, e.expires_at);
  if (st) st = ins->bind_int64(7, now);
  if (st) st = ins->run();
  return st;
}

Status log_enrolment_revocation(sql::Connection& conn, const std::string& enrolee_id, std::int64_t now) {
  // A MAF is named by its FQDN, compared without case (Fqdn::matches); an
  // Entity B by its CSE-ID, which is case-sensitive.
  if (Status st = next_seq(conn, &enrolee_id); !st) return st;
  Result<Stmt> ins = conn.prepare(
      "INSERT INTO revocations (seq, kind, key_id, entity_id, holder, kpsa_id, expires_at, created_at) "
      "SELECT (SELECT seq FROM revocation_head), 'ke', m.ke_id, m.enrolee_id, "
      "CASE e.target_kind WHEN 'maf' THEN lower(e.target) ELSE e.target END, m.kpsa_id, m.expires_at, ?2 "
      "FROM enrolments m JOIN enrolees e ON e.enrolee_id = m.enrolee_id WHERE m.enrolee_id = ?1");
  if (!ins) return std::unexpected(ins.error());
  Status st = ins->bind_text(1, enrolee_id);
  if (st) st = ins->bind_int64(2, now);
  if (st) st = ins->run();
  return st;
}

Result<RevocationPage> SqlRevocationLog::after(std::int64_t after, std::string_view holder, std::size_t limit) {
  return guarded([&]() -> Result<RevocationPage> {
    if (limit == 0 || limit > kMaxRevocationPage) return fail(Errc::invalid_argument, "bad revocation page limit");
    ReadPool::Lease lease = b_.reads->acquire();
    sql::Connection& conn = lease.conn();
    // One read transaction: the head, the epoch and the rows agree.
    Status st = conn.begin_read();
    if (!st) return std::unexpected(st.error());
    auto done = [&](Result<RevocationPage> r) {
      (void)conn.commit();
      return r;
    };
    RevocationPage page;
    auto epoch = read_epoch(conn);
    if (!epoch) return done(std::unexpected(epoch.error()));
    page.epoch = std::move(*epoch);
    auto head = read_head(conn);
    if (!head) return done(std::unexpected(head.error()));
    page.head = *head;
    if (after < 0) return done(std::move(page));
    Result<Stmt> q = conn.prepare("SELECT " + std::string(kColumns) +
                                  " FROM revocations WHERE seq > ?1 AND (?2 = '' OR holder = '' OR holder = ?2) "
                                  "ORDER BY seq LIMIT ?3");
    if (!q) return done(std::unexpected(q.error()));
    st = q->bind_int64(1, after);
    if (st) st = q->bind_text(2, holder);
    if (st) st = q->bind_int64(3, static_cast<std::int64_t>(limit) + 1);
    if (!st) return done(std::unexpected(st.error()));
    auto rows = collect<Revocation>(*q, decode);
    q->reset();
    if (!rows) return done(std::unexpected(rows.error()));
    page.entries = std::move(*rows);
    if (page.entries.size() > limit) {
      page.entries.pop_back();
      page.more = true;
    }
    return done(std::move(page));
  });
}

Status SqlRevocationLog::record(const Revocation& entry, std::int64_t now) {
  return guarded([&]() -> Status {
    return b_.writer->run([&](sql::Connection& conn) { return insert_revocation(conn, entry, now); });
  });
}

Result<bool> SqlRevocationLog::is_revoked(RevokedKind kind, std::string_view key_id, std::int64_t now) {
  return guarded([&]() -> Result<bool> {
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> q = lease.conn().prepare(
        "SELECT 1 FROM revocations WHERE key_id = ?1 AND kind = ?2 AND expires_at > ?3 LIMIT 1");
    if (!q) return std::unexpected(q.error());
    Status st = q->bind_text(1, key_id);
    if (st) st = q->bind_text(2, revoked_kind_name(kind));
    if (st) st = q->bind_int64(3, now);
    if (!st) return std::unexpected(st.error());
    Result<bool> row = q->step();
    q->reset();
    return row;
  });
}

Result<FeedCursor> SqlRevocationLog::cursor(std::string_view issuer) {
  return guarded([&]() -> Result<FeedCursor> {
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> q = lease.conn().prepare("SELECT epoch, seq FROM feed_cursors WHERE issuer = ?1");
    if (!q) return std::unexpected(q.error());
    Status st = q->bind_text(1, issuer);
    if (!st) return std::unexpected(st.error());
    Result<bool> row = q->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(Errc::not_found, "no cursor for " + std::string(issuer));
    FeedCursor c{q->column_text(0), q->column_int64(1)};
    q->reset();
    return c;
  });
}

Status SqlRevocationLog::set_cursor(std::string_view issuer, const FeedCursor& cursor) {
  return guarded([&]() -> Status {
    const std::string id(issuer);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> up = conn.prepare(
          "INSERT INTO feed_cursors (issuer, epoch, seq) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (issuer) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq");
      if (!up) return std::unexpected(up.error());
      Status st = up->bind_text(1, id);
      if (st) st = up->bind_text(2, cursor.epoch);
      if (st) st = up->bind_int64(3, cursor.seq);
      if (st) st = up->run();
      return st;
    });
  });
}

Result<std::size_t> SqlRevocationLog::purge_expired(std::int64_t now) {
  return delete_expired(*b_.writer, {"DELETE FROM revocations WHERE expires_at <= ?1"}, now);
}

}  // namespace m2msec::store::detail
