#include "sql_maf.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>

#include "sql_revocations.h"

namespace m2msec::store::detail {
namespace {

Status check_entity(std::string_view id, std::string_view field) {
  Result<EntityId> parsed = EntityId::parse(id);
  if (!parsed) return fail(Errc::invalid_identifier, std::string(field) + ": " + parsed.error().message());
  return {};
}

// insert_targets writes the target list of |kc_id|, a row the caller's
// transaction has just inserted (so it has no targets yet: a deleted Kc's
// targets went with it, ON DELETE CASCADE). Duplicates in |targets|
// collapse.
Status insert_targets(sql::Connection& conn, const std::string& kc_id, std::span<const std::string> targets) {
  Result<Stmt> ins = conn.prepare("INSERT INTO kc_targets (kc_id, target_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!ins) return std::unexpected(ins.error());
  for (const std::string& t : targets) {
    Status st = ins->bind_text(1, kc_id);
    if (st) st = ins->bind_text(2, t);
    if (st) st = ins->run();
    ins->reset();
    if (!st) return st;
  }
  return {};
}

// replace_targets rewrites the target list of an existing |kc_id| inside
// the caller's transaction.
Status replace_targets(sql::Connection& conn, const std::string& kc_id, std::span<const std::string> targets) {
  Result<Stmt> del = conn.prepare("DELETE FROM kc_targets WHERE kc_id = ?1");
  if (!del) return std::unexpected(del.error());
  Status st = del->bind_text(1, kc_id);
  if (st) st = del->run();
  if (!st) return st;
  return insert_targets(conn, kc_id, targets);
}

Status check_targets(std::span<const std::string> targets) {
  if (targets.empty()) return fail(Errc::invalid_argument, "a Kc needs at least one target");
  for (const std::string& t : targets) {
    Status st = check_entity(t, "target");
    if (!st) return st;
  }
  return {};
}

constexpr std::string_view kInsertClient =
    "INSERT INTO maf_clients (km_id, km, source, expires_at, registered_at, entity_id, app_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

Status bind_client(Stmt& s, const MafClient& c, const std::vector<std::uint8_t>& sealed_km, std::int64_t now) {
  Status ok = s.bind_text(1, c.km_id);
  if (ok) ok = s.bind_blob(2, sealed_km);
  if (ok) ok = s.bind_text(3, km_source_name(c.source));
  if (ok) ok = s.bind_optional(4, c.expires_at);
  if (ok) ok = s.bind_int64(5, now);
  if (ok) ok = s.bind_text(6, c.entity_id);
  if (ok) ok = s.bind_optional(7, c.app_id);
  return ok;
}

// check_client holds the rules every client registration meets.
Status check_client(const MafClient& c, std::int64_t now) {
  Status st = require_canonical_id(KeyIdKind::km, c.km_id, "km_id");
  if (st) st = check_entity(c.entity_id, "entity_id");
  if (!st) return st;
  if (c.km.empty()) return fail(Errc::invalid_argument, "km is empty");
  if (c.expires_at && *c.expires_at <= now) return fail(Errc::invalid_argument, "client expires_at must be after now");
  if (c.app_id) {
    st = check_app_id(*c.app_id);
    if (!st) return st;
    if (EntityId::parse(c.entity_id)->kind() != EntityKind::ae) {
      return fail(Errc::invalid_argument, "app_id is for an AE; " + c.entity_id + " is a CSE-ID");
    }
  }
  return {};
}

// lookup_text returns column 0 of the first row of |sql| with ?1 = |key|,
// or nullopt if there is none.
Result<std::optional<std::string>> lookup_text(sql::Connection& conn, std::string_view sql, const std::string& key) {
  Result<Stmt> q = conn.prepare(sql);
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, key);
  if (!st) return std::unexpected(st.error());
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(q->column_text(0));
}

// insert_new_client inserts |c| unless its KmID or entity already has a
// registration, which is reported as Errc::already_exists naming both
// sides of the collision.
Status insert_new_client(sql::Connection& conn, const MafClient& c, const std::vector<std::uint8_t>& sealed_km,
                         std::int64_t now) {
  auto by_km = lookup_text(conn, "SELECT entity_id FROM maf_clients WHERE km_id = ?1", c.km_id);
  if (!by_km) return std::unexpected(by_km.error());
  if (*by_km) return fail(Errc::already_exists, "km_id " + c.km_id + " is taken (by " + **by_km + ")");
  auto by_entity = lookup_text(conn, "SELECT km_id FROM maf_clients WHERE entity_id = ?1", c.entity_id);
  if (!by_entity) return std::unexpected(by_entity.error());
  if (*by_entity) {
    return fail(Errc::already_exists, "entity_id " + c.entity_id + " already has a root key (km_id " + **by_entity + ")");
  }
  Result<Stmt> ins = conn.prepare(kInsertClient);
  if (!ins) return std::unexpected(ins.error());
  Status ok = bind_client(*ins, c, sealed_km, now);
  if (ok) ok = ins->run();
  return ok;
}

}  // namespace

Result<std::size_t> SqlMafRepository::add_clients(std::span<const MafClient> rows, std::int64_t now,
                                                     std::vector<RowError>* out_errors) {
  return guarded([&]() -> Result<std::size_t> {
    std::vector<RowError> errors;
    std::vector<std::pair<std::size_t, std::vector<std::uint8_t>>> sealed;
    sealed.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Status st = check_client(rows[i], now);
      Result<std::vector<std::uint8_t>> km;
      if (st) km = seal_cell(*b_.kek, "maf_clients", "km", rows[i].km_id, rows[i].km.view());
      if (st && !km) st = std::unexpected(km.error());
      if (!st) {
        errors.push_back({i + 1, st.error()});
        continue;
      }
      sealed.emplace_back(i, std::move(*km));
    }
    // Insert every valid row even when some are already refused, so one
    // attempt reports every collision; any refusal rolls the op back.
    Status written = b_.writer->run([&](sql::Connection& conn) -> Status {
      for (const auto& [i, blob] : sealed) {
        Status st = sql::with_savepoint(conn, "m2msec_row", [&] { return insert_new_client(conn, rows[i], blob, now); });
        if (!st) {
          if (st.error().code() != Errc::already_exists) return st;  // database trouble: stop
          errors.push_back({i + 1, st.error()});
        }
      }
      if (!errors.empty()) return fail(Errc::import_rejected);
      return {};
    });
    std::sort(errors.begin(), errors.end(), [](const RowError& a, const RowError& b) { return a.row < b.row; });
    const std::size_t refused = errors.size();
    std::optional<Error> only;
    if (rows.size() == 1 && refused == 1) only = errors.front().error;
    if (out_errors != nullptr) *out_errors = std::move(errors);
    if (!written || refused > 0) {
      if (only) return std::unexpected(*only);
      if (refused > 0) {
        return fail(Errc::import_rejected,
                    std::to_string(refused) + " of " + std::to_string(rows.size()) + " rows refused");
      }
      return std::unexpected(written.error());
    }
    return rows.size();
  });
}

namespace {

// client_op checks and seals |c| and returns the write that stores it
// (register_client's upsert). The op owns identifiers and the sealed Km.
Result<WriteOp> client_op(const Backend& b, const MafClient& c, std::int64_t now) {
  Status st = check_client(c, now);
  if (!st) return std::unexpected(st.error());
  Result<std::vector<std::uint8_t>> km = seal_cell(*b.kek, "maf_clients", "km", c.km_id, c.km.view());
  if (!km) return std::unexpected(km.error());
  auto row = std::make_shared<MafClient>();  // without Km: bind_client binds the sealed copy
  row->km_id = c.km_id;
  row->entity_id = c.entity_id;
  row->source = c.source;
  row->expires_at = c.expires_at;
  row->app_id = c.app_id;
  return WriteOp([row = std::move(row), sealed = std::move(*km), now](sql::Connection& conn) -> Status {
    // One statement, so replicas registering one entity at once take
    // turns instead of colliding. The conflict path UPDATEs, keeping the
    // row (and the kc_keys rows that reference its entity_id) while the
    // KmID and Km change; a replacement without an App-ID keeps the one
    // stored. A KmID taken by another entity is still a UNIQUE error.
    Result<Stmt> up = conn.prepare(std::string(kInsertClient) +
                                   " ON CONFLICT (entity_id) DO UPDATE SET km_id = excluded.km_id, km = excluded.km, "
                                   "source = excluded.source, expires_at = excluded.expires_at, "
                                   "registered_at = excluded.registered_at, "
                                   "app_id = coalesce(excluded.app_id, maf_clients.app_id)");
    if (!up) return std::unexpected(up.error());
    Status ok = bind_client(*up, *row, sealed, now);
    if (ok) ok = up->run();
    return ok;
  });
}

}  // namespace

Status SqlMafRepository::register_client(const MafClient& c, std::int64_t now) {
  return guarded([&]() -> Status {
    Result<WriteOp> op = client_op(b_, c, now);
    if (!op) return std::unexpected(op.error());
    return b_.writer->run(std::move(*op));
  });
}

void SqlMafRepository::register_client_async(const MafClient& c, std::int64_t now, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> { return client_op(b_, c, now); });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::full, std::move(done));
}

Result<MafClient> SqlMafRepository::read_client(std::string_view where_column, std::string_view value,
                                                  std::int64_t now) {
  ReadPool::Lease lease = b_.reads->acquire();
  Result<Stmt> s = lease.conn().prepare(
      "SELECT km_id, km, entity_id, source, expires_at, registered_at, app_id FROM maf_clients WHERE " +
      std::string(where_column) + " = ?1");
  if (!s) return std::unexpected(s.error());
  Status st = s->bind_text(1, value);
  if (!st) return std::unexpected(st.error());
  Result<bool> row = s->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, std::string(where_column) + " " + std::string(value));
  MafClient c;
  c.km_id = s->column_text(0);
  c.entity_id = s->column_text(2);
  c.expires_at = s->column_optional_int64(4);
  c.registered_at = s->column_int64(5);
  c.app_id = s->column_optional_text(6);
  if (c.expires_at && *c.expires_at <= now) return fail(Errc::key_expired, "km_id " + c.km_id);
  Result<KmSource> source = parse_km_source(s->column_text(3));
  if (!source) return fail(Errc::store_error, "corrupt maf_clients row " + c.km_id);
  c.source = *source;
  Result<SecretBytes> km = open_cell(*b_.kek, "maf_clients", "km", c.km_id, s->column_blob(1));
  if (!km) return std::unexpected(km.error());
  c.km = std::move(*km);
  return c;
}

Result<MafClient> SqlMafRepository::find_client(std::string_view km_id, std::int64_t now) {
  return guarded([&] { return read_client("km_id", km_id, now); });
}

Result<MafClient> SqlMafRepository::find_client_by_entity(std::string_view entity_id, std::int64_t now) {
  return guarded([&] { return read_client("entity_id", entity_id, now); });
}

Status SqlMafRepository::deregister_client(std::string_view km_id) {
  return guarded([&]() -> Status {
    const std::string id(km_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      // ON DELETE CASCADE removes the entity's kc_keys and their targets.
      Result<Stmt> del = conn.prepare("DELETE FROM maf_clients WHERE km_id = ?1");
      if (!del) return std::unexpected(del.error());
      Status st = del->bind_text(1, id);
      if (st) st = del->run();
      if (st) st = expect_changed(conn, "km_id " + id);
      return st;
    });
  });
}

Result<bool> SqlMafRepository::revoke_client(const Revocation& entry, std::int64_t now) {
  auto n = revoke_clients(std::span<const Revocation>(&entry, 1), now);
  if (!n) return std::unexpected(n.error());
  return *n == 1;
}

Result<std::size_t> SqlMafRepository::revoke_clients(std::span<const Revocation> entries, std::int64_t now) {
  return guarded([&]() -> Result<std::size_t> {
    for (const Revocation& entry : entries) {
      if (entry.kind != RevokedKind::km) return fail(Errc::invalid_argument, "revoke_client logs a km entry");
      Status st = require_canonical_id(KeyIdKind::km, entry.key_id, "km_id");
      if (!st) return std::unexpected(st.error());
    }
    std::size_t existed = 0;
    Status st = b_.writer->run([&](sql::Connection& conn) -> Status {
      existed = 0;  // a retried op counts again from zero
      for (const Revocation& entry : entries) {
        // The registration, when there is one, says whose key it was and
        // until when; otherwise the entry is remembered as given.
        Revocation e = entry;
        Result<Stmt> q = conn.prepare("SELECT entity_id, expires_at FROM maf_clients WHERE km_id = ?1");
        if (!q) return std::unexpected(q.error());
        Status ok = q->bind_text(1, e.key_id);
        if (!ok) return ok;
        Result<bool> row = q->step();
        if (!row) return std::unexpected(row.error());
        const bool found = *row;
        if (found) {
          e.entity_id = q->column_text(0);
          e.expires_at = q->column_optional_int64(1).value_or(std::numeric_limits<std::int64_t>::max());
        }
        q->reset();
        if (!found) {
          // Already remembered (every replica of a MAF applies the same
          // MEF feed to one shared log): one entry is enough.
          Result<Stmt> seen = conn.prepare(
              "SELECT 1 FROM revocations WHERE key_id = ?1 AND kind = 'km' AND expires_at >= ?2 LIMIT 1");
          if (!seen) return std::unexpected(seen.error());
          ok = seen->bind_text(1, e.key_id);
          if (ok) ok = seen->bind_int64(2, e.expires_at);
          if (!ok) return ok;
          Result<bool> dup = seen->step();
          if (!dup) return std::unexpected(dup.error());
          if (*dup) continue;
        }
        ok = insert_revocation(conn, e, now);
        if (!ok) return ok;
        if (!found) continue;
        ++existed;
        // ON DELETE CASCADE removes the entity's kc_keys and their targets.
        Result<Stmt> del = conn.prepare("DELETE FROM maf_clients WHERE km_id = ?1");
        if (!del) return std::unexpected(del.error());
        ok = del->bind_text(1, e.key_id);
        if (ok) ok = del->run();
        if (!ok) return ok;
      }
      return {};
    });
    if (!st) return std::unexpected(st.error());
    return existed;
  });
}

Status SqlMafRepository::revoke_kc(std::string_view kc_id, std::int64_t now) {
  return guarded([&]() -> Status {
    const std::string id(kc_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> q = conn.prepare("SELECT entity_a_id, expires_at FROM kc_keys WHERE kc_id = ?1");
      if (!q) return std::unexpected(q.error());
      Status ok = q->bind_text(1, id);
      if (!ok) return ok;
      Result<bool> row = q->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return fail(Errc::not_found, "kc_id " + id);
      Revocation e;
      e.kind = RevokedKind::kc;
      e.key_id = id;
      e.entity_id = q->column_text(0);
      e.expires_at = q->column_int64(1);
      q->reset();
      ok = insert_revocation(conn, e, now);
      if (!ok) return ok;
      Result<Stmt> del = conn.prepare("DELETE FROM kc_keys WHERE kc_id = ?1");
      if (!del) return std::unexpected(del.error());
      ok = del->bind_text(1, id);
      if (ok) ok = del->run();
      return ok;
    });
  });
}

namespace {

// kc_op checks and seals |k| and returns the write that stores it.
Result<WriteOp> kc_op(const Backend& b, const KcKey& k, std::int64_t now) {
  Status st = require_canonical_id(KeyIdKind::kc, k.kc_id, "kc_id");
  if (st) st = check_entity(k.entity_a_id, "entity_a_id");
  if (st) st = check_targets(k.targets);
  if (!st) return std::unexpected(st.error());
  if (k.kc.empty()) return fail(Errc::invalid_argument, "kc is empty");
  if (k.expires_at <= now) return fail(Errc::invalid_argument, "Kc expires_at must be after now");
  Result<std::vector<std::uint8_t>> kc = seal_cell(*b.kek, "kc_keys", "kc", k.kc_id, k.kc.view());
  if (!kc) return std::unexpected(kc.error());
  // The op owns what it writes: identifiers and the sealed blob.
  return WriteOp([kc_id = k.kc_id, entity_a_id = k.entity_a_id, targets = k.targets, expires_at = k.expires_at,
                  blob = std::move(*kc), now](sql::Connection& conn) -> Status {
    Result<Stmt> q = conn.prepare("SELECT 1 FROM maf_clients WHERE entity_id = ?1");
    if (!q) return std::unexpected(q.error());
    Status ok = q->bind_text(1, entity_a_id);
    if (!ok) return ok;
    Result<bool> row = q->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(Errc::not_found, "no MAF client for " + entity_a_id);
    Result<Stmt> ins = conn.prepare(
        "INSERT INTO kc_keys (kc_id, kc, entity_a_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!ins) return std::unexpected(ins.error());
    ok = ins->bind_text(1, kc_id);
    if (ok) ok = ins->bind_blob(2, blob);
    if (ok) ok = ins->bind_text(3, entity_a_id);
    if (ok) ok = ins->bind_int64(4, expires_at);
    if (ok) ok = ins->bind_int64(5, now);
    if (ok) ok = ins->run();
    if (ok) ok = insert_targets(conn, kc_id, targets);
    return ok;
  });
}

// deregister_kc_op deletes one Kc row (Errc::not_found if absent).
WriteOp deregister_kc_op(std::string kc_id) {
  return [id = std::move(kc_id)](sql::Connection& conn) -> Status {
    Result<Stmt> del = conn.prepare("DELETE FROM kc_keys WHERE kc_id = ?1");
    if (!del) return std::unexpected(del.error());
    Status st = del->bind_text(1, id);
    if (st) st = del->run();
    if (st) st = expect_changed(conn, "kc_id " + id);
    return st;
  };
}

}  // namespace

Status SqlMafRepository::register_kc(const KcKey& k, std::int64_t now) {
  return guarded([&]() -> Status {
    Result<WriteOp> op = kc_op(b_, k, now);
    if (!op) return std::unexpected(op.error());
    return b_.writer->run(std::move(*op), Durability::relaxed);
  });
}

void SqlMafRepository::register_kc_async(const KcKey& k, std::int64_t now, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> { return kc_op(b_, k, now); });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::relaxed, std::move(done));
}

Result<KcKey> SqlMafRepository::find_kc(std::string_view kc_id, std::int64_t now) {
  return guarded([&]() -> Result<KcKey> {
    ReadPool::Lease lease = b_.reads->acquire();
    sql::Connection& conn = lease.conn();
    // One read transaction: the key and its targets from one snapshot.
    Status st = conn.begin_read();
    if (!st) return std::unexpected(st.error());
    struct EndRead {
      sql::Connection& c;
      ~EndRead() { (void)c.commit(); }
    } end_read{conn};
    Result<Stmt> s =
        conn.prepare("SELECT kc_id, kc, entity_a_id, expires_at, created_at FROM kc_keys WHERE kc_id = ?1");
    if (!s) return std::unexpected(s.error());
    st = s->bind_text(1, kc_id);
    if (!st) return std::unexpected(st.error());
    Result<bool> row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(Errc::not_found, "kc_id " + std::string(kc_id));
    KcKey k;
    k.kc_id = s->column_text(0);
    k.entity_a_id = s->column_text(2);
    k.expires_at = s->column_int64(3);
    k.created_at = s->column_int64(4);
    if (k.expires_at <= now) return fail(Errc::key_expired, "kc_id " + k.kc_id);
    Result<SecretBytes> kc = open_cell(*b_.kek, "kc_keys", "kc", k.kc_id, s->column_blob(1));
    if (!kc) return std::unexpected(kc.error());
    k.kc = std::move(*kc);
    Result<Stmt> t = conn.prepare("SELECT target_id FROM kc_targets WHERE kc_id = ?1 ORDER BY target_id");
    if (!t) return std::unexpected(t.error());
    st = t->bind_text(1, k.kc_id);
    if (!st) return std::unexpected(st.error());
    while (true) {
      Result<bool> more = t->step();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      k.targets.push_back(t->column_text(0));
    }
    return k;
  });
}

Status SqlMafRepository::update_kc(std::string_view kc_id, std::int64_t expires_at,
                                      std::span<const std::string> targets) {
  return guarded([&]() -> Status {
    Status st = check_targets(targets);
    if (!st) return st;
    const std::string id(kc_id);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> up = conn.prepare("UPDATE kc_keys SET expires_at = ?1 WHERE kc_id = ?2");
      if (!up) return std::unexpected(up.error());
      Status ok = up->bind_int64(1, expires_at);
      if (ok) ok = up->bind_text(2, id);
      if (ok) ok = up->run();
      if (ok) ok = expect_changed(conn, "kc_id " + id);
      if (ok) ok = replace_targets(conn, id, targets);
      return ok;
    });
  });
}

Status SqlMafRepository::deregister_kc(std::string_view kc_id) {
  return guarded([&]() -> Status { return b_.writer->run(deregister_kc_op(std::string(kc_id)), Durability::relaxed); });
}

void SqlMafRepository::deregister_kc_async(std::string_view kc_id, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> { return deregister_kc_op(std::string(kc_id)); });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::relaxed, std::move(done));
}

namespace {

// lock_kc checks that the key exists and, on PostgreSQL, locks its row to
// the end of the transaction, so that the holds and releases of one key
// by several MAF replicas take turns (SQLite has one writer).
Status lock_kc(sql::Connection& conn, const std::string& kc_id) {
  Result<Stmt> q = conn.prepare(conn.dialect() == sql::Dialect::postgres
                                    ? "SELECT 1 FROM kc_keys WHERE kc_id = ?1 FOR UPDATE"
                                    : "SELECT 1 FROM kc_keys WHERE kc_id = ?1");
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, kc_id);
  if (!st) return st;
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, "kc_id " + kc_id);
  return {};
}

Status check_holder(std::string_view holder) {
  if (holder.empty() || holder.size() > 300) return fail(Errc::invalid_argument, "holder must be 1..300 bytes");
  return {};
}

WriteOp hold_op(std::string kc_id, std::string holder) {
  return [kc_id = std::move(kc_id), holder = std::move(holder)](sql::Connection& conn) -> Status {
    Status st = lock_kc(conn, kc_id);
    if (!st) return st;
    Result<Stmt> ins = conn.prepare("INSERT INTO kc_holders (kc_id, holder) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    if (!ins) return std::unexpected(ins.error());
    st = ins->bind_text(1, kc_id);
    if (st) st = ins->bind_text(2, holder);
    if (st) st = ins->run();
    return st;
  };
}

// release_op drops |holder|'s hold and the key if nobody else holds it;
// *gone says whether the key went.
WriteOp release_op(std::string kc_id, std::string holder, std::shared_ptr<bool> gone) {
  return [kc_id = std::move(kc_id), holder = std::move(holder), gone](sql::Connection& conn) -> Status {
    *gone = false;  // a retried op starts again
    Status st = lock_kc(conn, kc_id);
    if (!st) return st;
    Result<Stmt> del = conn.prepare("DELETE FROM kc_holders WHERE kc_id = ?1 AND holder = ?2");
    if (!del) return std::unexpected(del.error());
    st = del->bind_text(1, kc_id);
    if (st) st = del->bind_text(2, holder);
    if (st) st = del->run();
    if (!st) return st;
    Result<Stmt> others = conn.prepare("SELECT 1 FROM kc_holders WHERE kc_id = ?1 LIMIT 1");
    if (!others) return std::unexpected(others.error());
    st = others->bind_text(1, kc_id);
    if (!st) return st;
    Result<bool> held = others->step();
    if (!held) return std::unexpected(held.error());
    if (*held) return {};  // another holder still uses it
    Result<Stmt> key = conn.prepare("DELETE FROM kc_keys WHERE kc_id = ?1");
    if (!key) return std::unexpected(key.error());
    st = key->bind_text(1, kc_id);
    if (st) st = key->run();
    if (st) *gone = true;
    return st;
  };
}

}  // namespace

Status SqlMafRepository::hold_kc(std::string_view kc_id, std::string_view holder) {
  return guarded([&]() -> Status {
    if (Status st = check_holder(holder); !st) return st;
    return b_.writer->run(hold_op(std::string(kc_id), std::string(holder)), Durability::relaxed);
  });
}

void SqlMafRepository::hold_kc_async(std::string_view kc_id, std::string_view holder, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> {
    if (Status st = check_holder(holder); !st) return std::unexpected(st.error());
    return hold_op(std::string(kc_id), std::string(holder));
  });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::relaxed, std::move(done));
}

Result<bool> SqlMafRepository::release_kc(std::string_view kc_id, std::string_view holder) {
  return guarded([&]() -> Result<bool> {
    if (Status st = check_holder(holder); !st) return std::unexpected(st.error());
    auto gone = std::make_shared<bool>(false);
    Status st = b_.writer->run(release_op(std::string(kc_id), std::string(holder), gone), Durability::relaxed);
    if (!st) return std::unexpected(st.error());
    return *gone;
  });
}

void SqlMafRepository::release_kc_async(std::string_view kc_id, std::string_view holder, Completion done) {
  Result<WriteOp> op = guarded([&]() -> Result<WriteOp> {
    if (Status st = check_holder(holder); !st) return std::unexpected(st.error());
    return release_op(std::string(kc_id), std::string(holder), std::make_shared<bool>(false));
  });
  if (!op) return done(std::unexpected(op.error()));
  b_.writer->submit(std::move(*op), Durability::relaxed, std::move(done));
}

Result<std::size_t> SqlMafRepository::purge_expired(std::int64_t now) {
  return delete_expired(*b_.writer,
                        {"DELETE FROM kc_keys WHERE expires_at <= ?1", "DELETE FROM maf_clients WHERE expires_at <= ?1"},
                        now);
}

}  // namespace m2msec::store::detail
