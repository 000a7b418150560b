// sql_gba.cc: the GBA side of SqlMefRepository (TS 33.220, the MEF as a
// BSF): subscribers (IMPI, K, OPc, SQN, AMF, and the enrolee ID and
// Enrolment Target of their GUSS) and bootstrapping sessions (B-TID ->
// Ks). K, OPc and Ks are sealed with the AAD of their cell
// ("gba_subscribers|k|<IMPI>", "gba_subscribers|opc|<IMPI>",
// "gba_bootstraps|ks|<B-TID>"), on the caller's thread.
#include <ctime>
#include <optional>

#include "sql_mef.h"
#include "sql_revocations.h"

namespace m2msec::store::detail {
namespace {

// kSummaryColumns are a GbaSubscriberSummary's, in decode_summary's
// order; kSubscriberColumns add the sealed K and OPc. Every insert and
// read of a subscriber goes by these two lists.
constexpr std::string_view kSummaryColumns = "impi, sqn, amf, enrolee_id, target_kind, target, created_at";
const std::string kSubscriberColumns = std::string(kSummaryColumns) + ", k, opc";
const std::string kListSubscribers = "SELECT " + std::string(kSummaryColumns) +
                                     " FROM gba_subscribers WHERE impi > ?1 ORDER BY impi LIMIT ?2";
// kAdvanceSqn takes the next SQNs in one statement: the row's lock (both
// engines) makes concurrent writers, from any process, take turns.
const std::string kAdvanceSqn =
    "UPDATE gba_subscribers SET sqn = sqn + ?2 WHERE impi = ?1 AND sqn + ?2 < " + std::to_string(kSqnLimit) +
    " RETURNING " +
    kSubscriberColumns;
// kRaiseSqn only ever raises the SQN (resynchronisation).
constexpr std::string_view kRaiseSqn =
    "UPDATE gba_subscribers SET sqn = CASE WHEN sqn < ?2 THEN ?2 ELSE sqn END WHERE impi = ?1";
constexpr std::string_view kBootstrapColumns = "b_tid, impi, ks, rand, created_at, expires_at";

// SealedSubscriber is a subscriber with K and OPc sealed.
struct SealedSubscriber {
  const GbaSubscriber* row;
  std::vector<std::uint8_t> k, opc;
};

Result<SealedSubscriber> seal_subscriber(const Kek& kek, const GbaSubscriber& s) {
  if (Status valid = validate_gba_subscriber(s); !valid) return std::unexpected(valid.error());
  Result<std::vector<std::uint8_t>> k = seal_cell(kek, "gba_subscribers", "k", s.impi, s.k.view());
  if (!k) return std::unexpected(k.error());
  Result<std::vector<std::uint8_t>> opc = seal_cell(kek, "gba_subscribers", "opc", s.impi, s.opc.view());
  if (!opc) return std::unexpected(opc.error());
  return SealedSubscriber{&s, std::move(*k), std::move(*opc)};
}

// subscriber_exists is for telling "no such IMPI" from another refusal,
// inside a write op.
Result<bool> subscriber_exists(sql::Connection& conn, const std::string& impi) {
  Result<Stmt> q = conn.prepare("SELECT 1 FROM gba_subscribers WHERE impi = ?1");
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, impi);
  if (!st) return std::unexpected(st.error());
  return q->step();
}

// insert_subscriber inserts |ss| (binding kSubscriberColumns in order):
// nullopt if it went in, the Errc::already_exists it collided with (its
// IMPI, else its enrolee ID) if not. ON CONFLICT DO NOTHING rather than a
// failed statement, as PostgreSQL refuses every later statement of a
// transaction after an error; what it collided with is looked up.
Result<std::optional<Error>> insert_subscriber(sql::Connection& conn, const SealedSubscriber& ss, std::int64_t now) {
  static const std::string insert = "INSERT INTO gba_subscribers (" + kSubscriberColumns +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING";
  const GbaSubscriber& s = *ss.row;
  Result<Stmt> q = conn.prepare(insert);
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, s.impi);
  if (st) st = q->bind_int64(2, static_cast<std::int64_t>(s.sqn));
  if (st) st = q->bind_int64(3, s.amf);
  if (st) st = q->bind_text(4, s.enrolee_id);
  if (st) st = q->bind_text(5, target_kind_name(s.target_kind));
  if (st) st = q->bind_text(6, s.target);
  if (st) st = q->bind_int64(7, now);
  if (st) st = q->bind_blob(8, ss.k);
  if (st) st = q->bind_blob(9, ss.opc);
  if (st) st = q->run();
  if (!st) return std::unexpected(st.error());
  if (conn.changes() != 0) return std::nullopt;
  Result<bool> impi_taken = subscriber_exists(conn, s.impi);
  if (!impi_taken) return std::unexpected(impi_taken.error());
  if (*impi_taken) return std::optional<Error>(Error(Errc::already_exists, "impi " + s.impi + " is taken"));
  return std::optional<Error>(
      Error(Errc::already_exists, "enrolee_id " + s.enrolee_id + " already has a GBA subscriber (one IMPI each)"));
}

// decode_summary reads a row in kSummaryColumns order.
Result<GbaSubscriberSummary> decode_summary(const Stmt& s) {
  Result<TargetKind> kind = parse_target_kind(s.column_text(4));
  if (!kind) return fail(Errc::store_error, "corrupt gba_subscribers row " + s.column_text(0));
  return GbaSubscriberSummary{s.column_text(0), static_cast<std::uint64_t>(s.column_int64(1)),
                              static_cast<std::uint16_t>(s.column_int64(2)), s.column_text(3), *kind,
                              s.column_text(5), s.column_int64(6)};
}

// StoredSubscriber is a subscriber row as read (K and OPc still sealed):
// the writer thread copies it out, the caller's thread opens it.
struct StoredSubscriber {
  GbaSubscriberSummary row;
  std::vector<std::uint8_t> k, opc;
};

// read_subscriber reads a row in kSubscriberColumns order.
Result<StoredSubscriber> read_subscriber(const Stmt& s) {
  Result<GbaSubscriberSummary> row = decode_summary(s);
  if (!row) return std::unexpected(row.error());
  return StoredSubscriber{std::move(*row), s.column_blob(7), s.column_blob(8)};
}

Result<GbaSubscriber> open_subscriber(const Kek& kek, const StoredSubscriber& r) {
  GbaSubscriber out;
  out.impi = r.row.impi;
  Result<SecretBytes> k = open_cell(kek, "gba_subscribers", "k", out.impi, r.k);
  if (!k) return std::unexpected(k.error());
  Result<SecretBytes> opc = open_cell(kek, "gba_subscribers", "opc", out.impi, r.opc);
  if (!opc) return std::unexpected(opc.error());
  out.k = std::move(*k);
  out.opc = std::move(*opc);
  out.sqn = r.row.sqn;
  out.amf = r.row.amf;
  out.enrolee_id = r.row.enrolee_id;
  out.target_kind = r.row.target_kind;
  out.target = r.row.target;
  out.created_at = r.row.created_at;
  return out;
}

// write_by_impi runs |sql| with ?1 = |impi| (and ?2 = |value| if given)
// as one durable write; Errc::not_found if it changed no row.
Status write_by_impi(WriteQueue& writer, std::string_view sql, std::string_view impi,
                     std::optional<std::int64_t> value) {
  const std::string id(impi);
  return writer.run([&](sql::Connection& conn) -> Status {
    Result<Stmt> s = conn.prepare(sql);
    if (!s) return std::unexpected(s.error());
    Status st = s->bind_text(1, id);
    if (st && value) st = s->bind_int64(2, *value);
    if (st) st = s->run();
    if (st) st = expect_changed(conn, "impi " + id);
    return st;
  });
}

}  // namespace

Status SqlMefRepository::add_subscriber(const GbaSubscriber& subscriber, std::int64_t now) {
  return guarded([&]() -> Status {
    Result<SealedSubscriber> sealed = seal_subscriber(*b_.kek, subscriber);
    if (!sealed) return std::unexpected(sealed.error());
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<std::optional<Error>> refused = insert_subscriber(conn, *sealed, now);
      if (!refused) return std::unexpected(refused.error());
      if (*refused) return std::unexpected(std::move(**refused));
      return {};
    });
  });
}

Result<std::size_t> SqlMefRepository::import_subscribers(std::span<const GbaSubscriber> rows, std::int64_t now,
                                                            std::vector<RowError>* out_errors) {
  return guarded([&]() -> Result<std::size_t> {
    const Kek& kek = *b_.kek;
    return import_all(
        *b_.writer, rows, [&](const GbaSubscriber& s) { return seal_subscriber(kek, s); },
        [&](sql::Connection& conn, const SealedSubscriber& ss) { return insert_subscriber(conn, ss, now); },
        out_errors);
  });
}

Result<GbaSubscriber> SqlMefRepository::get_subscriber(std::string_view impi) {
  return guarded([&]() -> Result<GbaSubscriber> {
    std::optional<StoredSubscriber> row;
    {
      ReadPool::Lease lease = b_.reads->acquire();
      Result<Stmt> s = lease.conn().prepare("SELECT " + kSubscriberColumns + " FROM gba_subscribers WHERE impi = ?1");
      if (!s) return std::unexpected(s.error());
      Status st = s->bind_text(1, impi);
      if (!st) return std::unexpected(st.error());
      Result<bool> found = s->step();
      if (!found) return std::unexpected(found.error());
      if (!*found) return fail(Errc::not_found, "impi " + std::string(impi));
      Result<StoredSubscriber> read = read_subscriber(*s);
      if (!read) return std::unexpected(read.error());
      row = std::move(*read);
    }
    return open_subscriber(*b_.kek, *row);
  });
}

Result<std::vector<GbaSubscriberSummary>> SqlMefRepository::list_subscribers(const Page& page) {
  return guarded([&]() -> Result<std::vector<GbaSubscriberSummary>> {
    Status st = check_page(page);
    if (!st) return std::unexpected(st.error());
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = prepare_page(lease.conn(), kListSubscribers, page);
    if (!s) return std::unexpected(s.error());
    return collect<GbaSubscriberSummary>(*s, decode_summary);
  });
}

// log_bootstrap_revocations appends a "ke" entry for every live bootstrap
// of |impi|, inside the caller's write transaction: its B-TID is a KeID
// whose Ks_NAF the subscriber's target (the holder) may have fetched on Zn,
// so the MAF drops that Km and Entity B that Kpsa (8.3.2.3).
static Status log_bootstrap_revocations(sql::Connection& conn, const std::string& impi, std::int64_t now) {
  // A MAF is named by its FQDN without case, an Entity B by its CSE-ID,
  // as log_enrolment_revocation names them.
  Result<Stmt> q = conn.prepare(
      "SELECT b.b_tid, s.enrolee_id, CASE s.target_kind WHEN 'maf' THEN lower(s.target) ELSE s.target END, "
      "b.expires_at FROM gba_bootstraps b "
      "JOIN gba_subscribers s ON s.impi = b.impi WHERE b.impi = ?1 AND b.expires_at > ?2");
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, impi);
  if (st) st = q->bind_int64(2, now);
  if (!st) return st;
  std::vector<Revocation> entries;
  while (true) {
    Result<bool> row = q->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    Revocation r;
    r.kind = RevokedKind::ke;
    r.key_id = q->column_text(0);
    r.entity_id = q->column_text(1);
    r.holder = q->column_text(2);
    r.expires_at = q->column_int64(3);
    entries.push_back(std::move(r));
  }
  for (const Revocation& r : entries) {
    if (Status logged = insert_revocation(conn, r, now); !logged) return logged;
  }
  return {};
}

Status SqlMefRepository::remove_subscriber(std::string_view impi) {
  // ON DELETE CASCADE takes its bootstrapping sessions with it; their
  // B-TIDs are logged as revoked first.
  return guarded([&]() -> Status {
    const std::string id(impi);
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Status st = log_bootstrap_revocations(conn, id, std::time(nullptr));
      if (!st) return st;
      Result<Stmt> del = conn.prepare("DELETE FROM gba_subscribers WHERE impi = ?1");
      if (!del) return std::unexpected(del.error());
      st = del->bind_text(1, id);
      if (st) st = del->run();
      if (st) st = expect_changed(conn, "impi " + id);
      return st;
    });
  });
}

Result<GbaSubscriber> SqlMefRepository::advance_sqn(std::string_view impi, std::uint64_t step) {
  return guarded([&]() -> Result<GbaSubscriber> {
    if (step == 0 || step >= kSqnLimit) return fail(Errc::invalid_argument, "sqn step must be 1..2^48-1");
    const std::string id(impi);
    std::optional<StoredSubscriber> row;
    Status st = b_.writer->run([&](sql::Connection& conn) -> Status {
      row.reset();
      Result<Stmt> s = conn.prepare(kAdvanceSqn);
      if (!s) return std::unexpected(s.error());
      Status ok = s->bind_text(1, id);
      if (ok) ok = s->bind_int64(2, static_cast<std::int64_t>(step));
      if (!ok) return ok;
      Result<bool> advanced = s->step();
      if (!advanced) return std::unexpected(advanced.error());
      if (*advanced) {
        Result<StoredSubscriber> read = read_subscriber(*s);
        if (!read) return std::unexpected(read.error());
        row = std::move(*read);
        return s->run();  // to the end of the statement, so that the update is complete
      }
      Result<bool> exists = subscriber_exists(conn, id);
      if (!exists) return std::unexpected(exists.error());
      if (!*exists) return fail(Errc::not_found, "impi " + id);
      return fail(Errc::invalid_argument, "sqn of " + id + " would reach 2^48");
    });
    if (!st) return std::unexpected(st.error());
    return open_subscriber(*b_.kek, *row);
  });
}

Status SqlMefRepository::set_sqn(std::string_view impi, std::uint64_t sqn) {
  return guarded([&]() -> Status {
    if (sqn >= kSqnLimit) return fail(Errc::invalid_argument, "sqn must be below 2^48");
    return write_by_impi(*b_.writer, kRaiseSqn, impi, static_cast<std::int64_t>(sqn));
  });
}

Status SqlMefRepository::put_bootstrap(const GbaBootstrap& b, std::int64_t now) {
  return guarded([&]() -> Status {
    if (Status valid = validate_gba_bootstrap(b, now); !valid) return valid;
    Result<std::vector<std::uint8_t>> ks = seal_cell(*b_.kek, "gba_bootstraps", "ks", b.b_tid, b.ks.view());
    if (!ks) return std::unexpected(ks.error());
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<bool> exists = subscriber_exists(conn, b.impi);
      if (!exists) return std::unexpected(exists.error());
      if (!*exists) return fail(Errc::not_found, "impi " + b.impi);
      Result<Stmt> ins = conn.prepare("INSERT INTO gba_bootstraps (" + std::string(kBootstrapColumns) +
                                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      if (!ins) return std::unexpected(ins.error());
      Status st = ins->bind_text(1, b.b_tid);
      if (st) st = ins->bind_text(2, b.impi);
      if (st) st = ins->bind_blob(3, *ks);
      if (st) st = ins->bind_blob(4, b.rand);
      if (st) st = ins->bind_int64(5, now);
      if (st) st = ins->bind_int64(6, b.expires_at);
      if (st) st = ins->run();
      if (!st && st.error().code() == Errc::already_exists) {
        return fail(Errc::already_exists, "b_tid " + b.b_tid + " is taken");
      }
      return st;
    });
  });
}

Result<GbaBootstrap> SqlMefRepository::find_bootstrap(std::string_view b_tid, std::int64_t now) {
  return guarded([&]() -> Result<GbaBootstrap> {
    GbaBootstrap out;
    std::vector<std::uint8_t> sealed_ks;
    {
      ReadPool::Lease lease = b_.reads->acquire();
      Result<Stmt> s = lease.conn().prepare("SELECT " + std::string(kBootstrapColumns) +
                                            " FROM gba_bootstraps WHERE b_tid = ?1");
      if (!s) return std::unexpected(s.error());
      Status st = s->bind_text(1, b_tid);
      if (!st) return std::unexpected(st.error());
      Result<bool> found = s->step();
      if (!found) return std::unexpected(found.error());
      if (!*found) return fail(Errc::not_found, "b_tid " + std::string(b_tid));
      // Check expiry before decrypting: an expired key is never handed out.
      if (s->column_int64(5) <= now) return fail(Errc::key_expired, "b_tid " + std::string(b_tid));
      out.b_tid = s->column_text(0);
      out.impi = s->column_text(1);
      sealed_ks = s->column_blob(2);
      out.rand = s->column_blob(3);
      out.created_at = s->column_int64(4);
      out.expires_at = s->column_int64(5);
    }
    Result<SecretBytes> ks = open_cell(*b_.kek, "gba_bootstraps", "ks", out.b_tid, sealed_ks);
    if (!ks) return std::unexpected(ks.error());
    out.ks = std::move(*ks);
    return out;
  });
}

}  // namespace m2msec::store::detail
