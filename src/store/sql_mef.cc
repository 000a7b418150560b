#include "sql_mef.h"

#include <ctime>
#include <optional>

#include "sql_revocations.h"

namespace m2msec::store::detail {
namespace {

constexpr std::string_view kEnroleeColumns =
    "enrolee_id, auth_kind, kpm_id, kpm, cert_subject, cert_trust_anchor, target_kind, target, expires_at, "
    "created_at, state";
constexpr std::string_view kEnrolmentColumns = "ke_id, enrolee_id, ke, kpsa_id, kpsa, created_at, expires_at";

// SealedEnrolee is an enrolee with its Kpm already sealed (sealing happens
// on the caller's thread, not the writer's).
struct SealedEnrolee {
  const Enrolee* row;
  std::optional<std::vector<std::uint8_t>> kpm;
};

Result<SealedEnrolee> seal_enrolee(const Kek& kek, const Enrolee& e) {
  Status valid = validate_enrolee(e);
  if (!valid) return std::unexpected(valid.error());
  SealedEnrolee out{&e, std::nullopt};
  if (e.auth_kind == AuthKind::psk) {
    Result<std::vector<std::uint8_t>> blob = seal_cell(kek, "enrolees", "kpm", e.enrolee_id, e.kpm.view());
    if (!blob) return std::unexpected(blob.error());
    out.kpm = std::move(*blob);
  }
  return out;
}

constexpr std::string_view kInsertEnrolee =
    "INSERT INTO enrolees (enrolee_id, auth_kind, kpm_id, kpm, cert_subject, cert_trust_anchor, target_kind, "
    "target, expires_at, created_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'active')";

Status bind_enrolee(Stmt& s, const SealedEnrolee& se, std::int64_t now) {
  const Enrolee& e = *se.row;
  Status st = s.bind_text(1, e.enrolee_id);
  if (st) st = s.bind_text(2, auth_kind_name(e.auth_kind));
  if (st) st = s.bind_optional(3, e.kpm_id);
  if (st) st = se.kpm ? s.bind_blob(4, *se.kpm) : s.bind_null(4);
  if (st) st = s.bind_optional(5, e.cert_subject);
  if (st) st = s.bind_optional(6, e.cert_trust_anchor);
  if (st) st = s.bind_text(7, target_kind_name(e.target_kind));
  if (st) st = s.bind_text(8, e.target);
  if (st) st = s.bind_optional(9, e.expires_at);
  if (st) st = s.bind_int64(10, now);
  return st;
}

// which_duplicate turns a constraint error into a reason naming the field.
Error which_duplicate(const Error& err, const Enrolee& e) {
  if (err.code() != Errc::already_exists) return err;
  if (err.detail().find("kpm_id") != std::string::npos) {
    return Error(Errc::already_exists, "kpm_id " + e.kpm_id.value_or("") + " is taken");
  }
  if (err.detail().find("cert_subject") != std::string::npos) {
    return Error(Errc::already_exists,
                 "cert_subject " + e.cert_subject.value_or("") + " belongs to an active enrolee");
  }
  return Error(Errc::already_exists, "enrolee_id " + e.enrolee_id + " is taken");
}

// collision_of says which unique key of |e| a skipped insert collided
// with: the enrolee ID, the KpmID or an active enrolee's cert_subject.
Result<Error> collision_of(sql::Connection& conn, const Enrolee& e) {
  struct Probe {
    std::string_view sql;
    std::optional<std::string> value;
  };
  const Probe probes[] = {
      {"SELECT 1 FROM enrolees WHERE enrolee_id = ?1", e.enrolee_id},
      {"SELECT 1 FROM enrolees WHERE kpm_id = ?1", e.kpm_id},
      {"SELECT 1 FROM enrolees WHERE cert_subject = ?1 AND state = 'active'", e.cert_subject},
  };
  const std::string field[] = {"enrolee_id", "kpm_id", "cert_subject"};
  for (std::size_t i = 0; i < std::size(probes); ++i) {
    if (!probes[i].value) continue;
    Result<Stmt> q = conn.prepare(probes[i].sql);
    if (!q) return std::unexpected(q.error());
    Status st = q->bind_text(1, *probes[i].value);
    if (!st) return std::unexpected(st.error());
    Result<bool> hit = q->step();
    if (!hit) return std::unexpected(hit.error());
    if (*hit) return which_duplicate(Error(Errc::already_exists, field[i]), e);
  }
  return Error(Errc::already_exists, "enrolee " + e.enrolee_id + " collides with another");
}

Result<Enrolee> decode_enrolee(const Stmt& s, const Kek& kek) {
  Enrolee e;
  e.enrolee_id = s.column_text(0);
  Result<AuthKind> ak = parse_auth_kind(s.column_text(1));
  Result<TargetKind> tk = parse_target_kind(s.column_text(6));
  Result<EnroleeState> state = parse_enrolee_state(s.column_text(10));
  if (!ak || !tk || !state) return fail(Errc::store_error, "corrupt enrolee row " + e.enrolee_id);
  e.auth_kind = *ak;
  e.kpm_id = s.column_optional_text(2);
  if (!s.is_null(3)) {
    Result<SecretBytes> kpm = open_cell(kek, "enrolees", "kpm", e.enrolee_id, s.column_blob(3));
    if (!kpm) return std::unexpected(kpm.error());
    e.kpm = std::move(*kpm);
  }
  e.cert_subject = s.column_optional_text(4);
  e.cert_trust_anchor = s.column_optional_text(5);
  e.target_kind = *tk;
  e.target = s.column_text(7);
  e.expires_at = s.column_optional_int64(8);
  e.created_at = s.column_int64(9);
  e.state = *state;
  return e;
}

Result<Enrolment> decode_enrolment(const Stmt& s, const Kek& kek) {
  Enrolment r;
  r.ke_id = s.column_text(0);
  r.enrolee_id = s.column_text(1);
  Result<SecretBytes> ke = open_cell(kek, "enrolments", "ke", r.ke_id, s.column_blob(2));
  if (!ke) return std::unexpected(ke.error());
  r.ke = std::move(*ke);
  r.kpsa_id = s.column_optional_text(3);
  if (!s.is_null(4)) {
    Result<SecretBytes> kpsa = open_cell(kek, "enrolments", "kpsa", r.ke_id, s.column_blob(4));
    if (!kpsa) return std::unexpected(kpsa.error());
    r.kpsa = std::move(*kpsa);
  }
  r.created_at = s.column_int64(5);
  r.expires_at = s.column_int64(6);
  return r;
}

// check_enrolee_accepts verifies, inside the write transaction, that the
// enrolee may receive an enrolment expiring at |expires_at| (with a Kpsa
// if |has_kpsa|).
Status check_enrolee_accepts(sql::Connection& conn, const std::string& enrolee_id, bool has_kpsa,
                             std::int64_t expires_at, std::int64_t now) {
  // On PostgreSQL, FOR UPDATE holds the enrolee's row to the end of the
  // transaction, so two replicas enrolling one enrolee take turns: the
  // later replaces the earlier's enrolment (and logs it) instead of
  // colliding with it. (SQLite has one writer: no lock needed.)
  Result<Stmt> q = conn.prepare(conn.dialect() == sql::Dialect::postgres
                                    ? "SELECT state, expires_at, target_kind FROM enrolees WHERE enrolee_id = ?1 "
                                      "FOR UPDATE"
                                    : "SELECT state, expires_at, target_kind FROM enrolees WHERE enrolee_id = ?1");
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, enrolee_id);
  if (!st) return st;
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (!*row || q->column_text(0) != "active") return fail(Errc::not_found, "enrolee " + enrolee_id);
  const std::optional<std::int64_t> enrolee_expiry = q->column_optional_int64(1);
  if (enrolee_expiry && *enrolee_expiry <= now) return fail(Errc::key_expired, "enrolee " + enrolee_id);
  if (enrolee_expiry && expires_at > *enrolee_expiry) {
    return fail(Errc::invalid_argument, "enrolment would outlive enrolee " + enrolee_id);
  }
  if (has_kpsa && q->column_text(2) != "kpsa") {
    return fail(Errc::invalid_argument, "Kpsa given for an enrolee whose target is a MAF");
  }
  return {};
}

// end_enrolment ends the current enrolment of |enrolee_id|, if any: it is
// logged as revoked (naming its holder) and deleted, inside the caller's
// write transaction. conn.changes() then says whether there was one.
Status end_enrolment(sql::Connection& conn, const std::string& enrolee_id, std::int64_t now) {
  Status st = log_enrolment_revocation(conn, enrolee_id, now);
  if (!st) return st;
  Result<Stmt> del = conn.prepare("DELETE FROM enrolments WHERE enrolee_id = ?1");
  if (!del) return std::unexpected(del.error());
  st = del->bind_text(1, enrolee_id);
  if (st) st = del->run();
  return st;
}

}  // namespace

Status SqlMefRepository::add_enrolee(const Enrolee& enrolee, std::int64_t now) {
  return guarded([&]() -> Status {
    Result<SealedEnrolee> sealed = seal_enrolee(*b_.kek, enrolee);
    if (!sealed) return std::unexpected(sealed.error());
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> s = conn.prepare(kInsertEnrolee);
      if (!s) return std::unexpected(s.error());
      Status st = bind_enrolee(*s, *sealed, now);
      if (st) st = s->run();
      if (!st) return std::unexpected(which_duplicate(st.error(), enrolee));
      return {};
    });
  });
}

Result<std::size_t> SqlMefRepository::import_enrolees(std::span<const Enrolee> rows, std::int64_t now,
                                                         std::vector<RowError>* out_errors) {
  return guarded([&]() -> Result<std::size_t> {
    const Kek& kek = *b_.kek;
    // ON CONFLICT DO NOTHING: a colliding row is skipped, not an error,
    // so the next one still runs without a savepoint per row (a round
    // trip each on PostgreSQL, which refuses every statement after an
    // error until a rollback); what it collided with is looked up.
    static const std::string insert_or_skip = std::string(kInsertEnrolee) + " ON CONFLICT DO NOTHING";
    return import_all(
        *b_.writer, rows, [&](const Enrolee& e) { return seal_enrolee(kek, e); },
        [&](sql::Connection& conn, const SealedEnrolee& se) -> Result<std::optional<Error>> {
          Result<Stmt> s = conn.prepare(insert_or_skip);
          if (!s) return std::unexpected(s.error());
          Status st = bind_enrolee(*s, se, now);
          if (st) st = s->run();
          if (!st) return std::unexpected(st.error());
          if (conn.changes() != 0) return std::nullopt;
          Result<Error> why = collision_of(conn, *se.row);
          if (!why) return std::unexpected(why.error());
          return std::optional<Error>(std::move(*why));
        },
        out_errors);
  });
}

Result<Enrolee> SqlMefRepository::read_enrolee(std::string_view where_column, std::string_view value,
                                                  bool active_only) {
  ReadPool::Lease lease = b_.reads->acquire();
  Result<Stmt> s = lease.conn().prepare("SELECT " + std::string(kEnroleeColumns) + " FROM enrolees WHERE " +
                                        std::string(where_column) + " = ?1" +
                                        (active_only ? " AND state = 'active'" : ""));
  if (!s) return std::unexpected(s.error());
  Status st = s->bind_text(1, value);
  if (!st) return std::unexpected(st.error());
  Result<bool> row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, std::string(where_column) + " " + std::string(value));
  return decode_enrolee(*s, *b_.kek);
}

Result<Enrolee> SqlMefRepository::get_enrolee(std::string_view enrolee_id) {
  return guarded([&] { return read_enrolee("enrolee_id", enrolee_id); });
}

Result<Enrolee> SqlMefRepository::find_enrolee_by_kpm_id(std::string_view kpm_id, std::int64_t now) {
  return guarded([&]() -> Result<Enrolee> {
    Result<Enrolee> e = read_enrolee("kpm_id", kpm_id);
    if (!e) return e;
    if (e->state != EnroleeState::active) return fail(Errc::not_found, "kpm_id " + std::string(kpm_id));
    if (e->expires_at && *e->expires_at <= now) return fail(Errc::key_expired, "enrolee " + e->enrolee_id);
    return e;
  });
}

Result<Enrolee> SqlMefRepository::find_enrolee_by_cert_subject(std::string_view subject, std::int64_t now) {
  return guarded([&]() -> Result<Enrolee> {
    // Removed enrolees may share the subject (the unique index covers
    // active rows only), so the state filter belongs in the query.
    Result<Enrolee> e = read_enrolee("cert_subject", subject, /*active_only=*/true);
    if (!e) return e;
    if (e->expires_at && *e->expires_at <= now) return fail(Errc::key_expired, "enrolee " + e->enrolee_id);
    return e;
  });
}

Status SqlMefRepository::remove_enrolee(std::string_view enrolee_id) {
  return guarded([&]() -> Status {
    const std::string id(enrolee_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> up =
          conn.prepare("UPDATE enrolees SET state = 'removed', kpm = NULL WHERE enrolee_id = ?1 AND state = 'active'");
      if (!up) return std::unexpected(up.error());
      Status st = up->bind_text(1, id);
      if (st) st = up->run();
      if (st) st = expect_changed(conn, "enrolee " + id);
      if (st) st = end_enrolment(conn, id, std::time(nullptr));
      return st;
    });
  });
}

Result<WriteOp> SqlMefRepository::enrolment_op(const Enrolment& e, std::int64_t now) {
  Status st = require_canonical_id(KeyIdKind::ke, e.ke_id, "ke_id");
  if (!st) return std::unexpected(st.error());
  if (e.ke.empty()) return fail(Errc::invalid_argument, "ke is empty");
  if (e.kpsa_id.has_value() == e.kpsa.empty()) {
    return fail(Errc::invalid_argument, "kpsa_id and kpsa must be given together");
  }
  if (e.kpsa_id) {
    st = require_canonical_id(KeyIdKind::kpsa, *e.kpsa_id, "kpsa_id");
    if (!st) return std::unexpected(st.error());
  }
  if (e.expires_at <= now) return fail(Errc::invalid_argument, "enrolment expires_at must be after now");
  Result<std::vector<std::uint8_t>> ke = seal_cell(*b_.kek, "enrolments", "ke", e.ke_id, e.ke.view());
  if (!ke) return std::unexpected(ke.error());
  std::optional<std::vector<std::uint8_t>> kpsa;
  if (e.kpsa_id) {
    Result<std::vector<std::uint8_t>> blob = seal_cell(*b_.kek, "enrolments", "kpsa", e.ke_id, e.kpsa.view());
    if (!blob) return std::unexpected(blob.error());
    kpsa = std::move(*blob);
  }
  // The op owns what it writes: identifiers and sealed blobs, no plaintext.
  return WriteOp([ke_id = e.ke_id, enrolee_id = e.enrolee_id, kpsa_id = e.kpsa_id, expires_at = e.expires_at,
                  ke = std::move(*ke), kpsa = std::move(kpsa), now](sql::Connection& conn) -> Status {
    Status ok = check_enrolee_accepts(conn, enrolee_id, kpsa_id.has_value(), expires_at, now);
    if (!ok) return ok;
    // Replace: the old enrolment (and its KeID) goes in the same
    // savepoint as the new one arrives, and its holders are told.
    ok = end_enrolment(conn, enrolee_id, now);
    if (!ok) return ok;
    Result<Stmt> ins = conn.prepare("INSERT INTO enrolments (" + std::string(kEnrolmentColumns) +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!ins) return std::unexpected(ins.error());
    ok = ins->bind_text(1, ke_id);
    if (ok) ok = ins->bind_text(2, enrolee_id);
    if (ok) ok = ins->bind_blob(3, ke);
    if (ok) ok = ins->bind_optional(4, kpsa_id);
    if (ok) ok = kpsa ? ins->bind_blob(5, *kpsa) : ins->bind_null(5);
    if (ok) ok = ins->bind_int64(6, now);
    if (ok) ok = ins->bind_int64(7, expires_at);
    if (ok) ok = ins->run();
    return ok;
  });
}

Status SqlMefRepository::put_enrolment(const Enrolment& e, std::int64_t now) {
  return guarded([&]() -> Status {
    Result<WriteOp> op = enrolment_op(e, now);
    if (!op) return std::unexpected(op.error());
    return b_.writer->run(std::move(*op));
  });
}

void SqlMefRepository::put_enrolment_async(const Enrolment& e, std::int64_t now, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> { return enrolment_op(e, now); });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::full, std::move(done));
}

Result<Enrolment> SqlMefRepository::read_enrolment(std::string_view where_column, std::string_view value,
                                                      std::int64_t now) {
  ReadPool::Lease lease = b_.reads->acquire();
  Result<Stmt> s = lease.conn().prepare("SELECT " + std::string(kEnrolmentColumns) + " FROM enrolments WHERE " +
                                        std::string(where_column) + " = ?1");
  if (!s) return std::unexpected(s.error());
  Status st = s->bind_text(1, value);
  if (!st) return std::unexpected(st.error());
  Result<bool> row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, std::string(where_column) + " " + std::string(value));
  // Check expiry before decrypting: an expired key is never handed out.
  if (s->column_int64(6) <= now) return fail(Errc::key_expired, std::string(where_column) + " " + std::string(value));
  return decode_enrolment(*s, *b_.kek);
}

Result<Enrolment> SqlMefRepository::find_enrolment(std::string_view ke_id, std::int64_t now) {
  return guarded([&] { return read_enrolment("ke_id", ke_id, now); });
}

Result<Enrolment> SqlMefRepository::find_enrolment_by_kpsa_id(std::string_view kpsa_id, std::int64_t now) {
  return guarded([&] { return read_enrolment("kpsa_id", kpsa_id, now); });
}

Status SqlMefRepository::remove_enrolment(std::string_view ke_id) {
  return guarded([&]() -> Status {
    const std::string id(ke_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> del = conn.prepare("DELETE FROM enrolments WHERE ke_id = ?1");
      if (!del) return std::unexpected(del.error());
      Status st = del->bind_text(1, id);
      if (st) st = del->run();
      if (st) st = expect_changed(conn, "ke_id " + id);
      return st;
    });
  });
}

Status SqlMefRepository::revoke_enrolment(std::string_view enrolee_id) {
  return guarded([&]() -> Status {
    const std::string id(enrolee_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Status st = end_enrolment(conn, id, std::time(nullptr));
      if (st) st = expect_changed(conn, "enrolment of " + id);
      return st;
    });
  });
}

Status SqlMefRepository::retarget_enrolee(std::string_view enrolee_id, TargetKind kind, std::string_view target,
                                             std::int64_t now) {
  return guarded([&]() -> Status {
    if (Status v = validate_target(kind, target); !v) return v;
    const std::string id(enrolee_id), to(target);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      // The current enrolment is revoked with its old holder named, then
      // the target changes: the next enrolment yields keys for the new one.
      // (A refusal below rolls the whole op back, the log entry with it.)
      Status st = end_enrolment(conn, id, now);
      if (!st) return st;
      Result<Stmt> up = conn.prepare(
          "UPDATE enrolees SET target_kind = ?2, target = ?3 WHERE enrolee_id = ?1 AND state = 'active'");
      if (!up) return std::unexpected(up.error());
      st = up->bind_text(1, id);
      if (st) st = up->bind_text(2, target_kind_name(kind));
      if (st) st = up->bind_text(3, to);
      if (st) st = up->run();
      if (st) st = expect_changed(conn, "enrolee " + id);
      return st;
    });
  });
}

Result<std::size_t> SqlMefRepository::purge_expired(std::int64_t now) {
  return delete_expired(*b_.writer,
                        {"DELETE FROM enrolments WHERE expires_at <= ?1", "DELETE FROM gba_bootstraps WHERE expires_at <= ?1"},
                        now);
}

}  // namespace m2msec::store::detail
