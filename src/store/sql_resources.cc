// sql_resources.cc: the resource tree of the CSE behind Entity B (TS-0001
// clause 9.6) in cse_resources (schema version 8). The table holds the
// tree's rules too: ri unique, a parent that exists (a foreign key), a
// name unique among its siblings, one row without a parent, and a subtree
// that goes with its root (ON DELETE CASCADE). This file checks what it
// can before writing, so that each refusal carries its own Errc and a
// detail naming what collided. Nothing here is secret: no cell is sealed.
//
// The API's parent "" is the SQL NULL of the CSEBase's pi. Resource IDs,
// parents and names reach error details only through printable(): they
// come from requests.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "m2msec/core/encoding.h"
#include "m2msec/core/printable.h"
#include "sql_resources.h"

namespace m2msec::store::detail {
namespace {

// kColumns are a ResourceRecord's, in decode_resource's order.
constexpr std::string_view kColumns = "ri, coalesce(pi, ''), rn, ty, attributes, created_at";
const std::string kSelect = "SELECT " + std::string(kColumns) + " FROM cse_resources WHERE ";
// kOldestFirst is "oldest first": by creation time, then by the order of
// creation (seq), so resources created in one second keep theirs.
constexpr std::string_view kOldestFirst = " ORDER BY created_at, seq";

// kMaxRemoveRaces bounds remove_oldest_child's retries when another
// writer (a PostgreSQL replica) removed the child it picked first.
constexpr int kMaxRemoveRaces = 16;

// storable is true if |text| could be a stored ri, pi or rn: non-empty,
// printable UTF-8 (what create accepts). A lookup of anything else is
// not_found without asking the database, so both engines answer alike
// (PostgreSQL refuses ill-formed UTF-8 outright).
bool storable(std::string_view text) { return !text.empty() && check_printable_utf8(text).has_value(); }

// check_name refuses an empty or unprintable resource ID, parent ID or
// name (Errc::invalid_argument naming |field|, never quoting it).
Status check_name(std::string_view text, std::string_view field) {
  if (text.empty()) return fail(Errc::invalid_argument, std::string(field) + " is empty");
  if (Status st = check_printable_utf8(text); !st) {
    return fail(Errc::invalid_argument, std::string(field) + ": " + st.error().detail());
  }
  return {};
}

// check_attributes refuses a NUL byte, which a PostgreSQL text cannot
// hold (the CSE hands over the JSON its serialiser wrote).
Status check_attributes(std::string_view attributes) {
  if (attributes.find('\0') != std::string_view::npos) {
    return fail(Errc::invalid_argument, "attributes hold a NUL byte");
  }
  return {};
}

// check_type accepts 0 (any type) or a resourceType.
Status check_type(int ty) {
  if (ty < 0) return fail(Errc::invalid_argument, "resource type " + std::to_string(ty) + " is negative");
  return {};
}

Status validate(const ResourceRecord& r) {
  Status st = check_name(r.ri, "ri");
  if (st) st = check_name(r.rn, "rn");
  if (st && !r.pi.empty()) st = check_name(r.pi, "pi");
  if (!st) return st;
  if (r.ty <= 0) return fail(Errc::invalid_argument, "resource type " + std::to_string(r.ty) + " is not positive");
  return check_attributes(r.attributes);
}

// decode_resource reads a row in kColumns order.
Result<ResourceRecord> decode_resource(const Stmt& s) {
  const std::int64_t ty = s.column_int64(3);
  if (ty <= 0 || ty > std::numeric_limits<int>::max()) {
    return fail(Errc::store_error, "corrupt cse_resources row " + printable(s.column_text(0)));
  }
  return ResourceRecord{s.column_text(0), s.column_text(1), s.column_text(2), static_cast<int>(ty),
                        s.column_text(4), s.column_int64(5)};
}

// ChildFilter selects the children of |pi| (the top level, where the
// CSEBase is, for "") of type |ty| (any for 0) as a WHERE condition whose
// parameters are ?1 and on; params() says how many it takes.
struct ChildFilter {
  std::string_view pi;
  int ty;

  std::string where() const {
    std::string w = pi.empty() ? "pi IS NULL" : "pi = ?1";
    if (ty != 0) w += " AND ty = ?" + std::to_string(pi.empty() ? 1 : 2);
    return w;
  }
  int params() const { return (pi.empty() ? 0 : 1) + (ty != 0 ? 1 : 0); }
  Status bind(Stmt& s) const {
    int i = 1;
    if (!pi.empty()) {
      if (Status st = s.bind_text(i++, pi); !st) return st;
    }
    if (ty != 0) return s.bind_int64(i, ty);
    return {};
  }
};

// resource_exists says whether |ri| is a row, inside a write. With
// |hold|, PostgreSQL keeps the row from being deleted until the
// transaction ends (FOR KEY SHARE, what the foreign key check itself
// takes), so a replica removing the parent meanwhile waits for the child
// to go in and then takes it with it. (SQLite has one writer.)
Result<bool> resource_exists(sql::Connection& conn, std::string_view ri, bool hold) {
  const bool pg_lock = hold && conn.dialect() == sql::Dialect::postgres;
  Result<Stmt> q = conn.prepare(pg_lock ? "SELECT 1 FROM cse_resources WHERE ri = ?1 FOR KEY SHARE"
                                        : "SELECT 1 FROM cse_resources WHERE ri = ?1");
  if (!q) return std::unexpected(q.error());
  if (Status st = q->bind_text(1, ri); !st) return std::unexpected(st.error());
  return q->step();
}

// insert_resource stores |r|, inside a write: the refusals of
// ResourceRepository::create. ON CONFLICT DO NOTHING rather than a failed
// statement (as for enrolees): what a skipped row collided with is looked
// up, so the error names it.
Status insert_resource(sql::Connection& conn, const ResourceRecord& r) {
  const bool root = r.pi.empty();
  if (!root) {
    Result<bool> parent = resource_exists(conn, r.pi, /*hold=*/true);
    if (!parent) return std::unexpected(parent.error());
    if (!*parent) return fail(Errc::not_found, "parent " + printable(r.pi) + " does not exist");
  }
  Result<Stmt> ins = conn.prepare(
      "INSERT INTO cse_resources (ri, pi, rn, ty, attributes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT DO NOTHING");
  if (!ins) return std::unexpected(ins.error());
  Status st = ins->bind_text(1, r.ri);
  if (st) st = root ? ins->bind_null(2) : ins->bind_text(2, r.pi);
  if (st) st = ins->bind_text(3, r.rn);
  if (st) st = ins->bind_int64(4, r.ty);
  if (st) st = ins->bind_text(5, r.attributes);
  if (st) st = ins->bind_int64(6, r.created_at);
  if (st) st = ins->run();
  if (!st) return st;
  if (conn.changes() != 0) return {};
  Result<bool> ri_taken = resource_exists(conn, r.ri, /*hold=*/false);
  if (!ri_taken) return std::unexpected(ri_taken.error());
  if (*ri_taken) return fail(Errc::already_exists, "ri " + printable(r.ri) + " is taken");
  if (root) return fail(Errc::already_exists, "the CSE already has its root (a resource without a parent)");
  return fail(Errc::already_exists,
              "parent " + printable(r.pi) + " already has a child named " + printable(r.rn));
}

// kCascadeDepth bounds how deep one DELETE's cascade recurses. SQLite
// runs ON DELETE CASCADE as nested triggers and refuses more than 1000
// levels (SQLITE_MAX_TRIGGER_DEPTH, lower if the limit was set lower);
// PostgreSQL spends stack on each level. A deeper subtree (containers may
// nest without end) is cut from the bottom first, so that every subtree
// can be deleted.
constexpr std::int64_t kCascadeDepth = 100;

// kSubtree is the recursive walk below ?1, as deep as ?2 levels (the
// CSE's tree has no cycles: a parent exists before its child, and pi is
// never changed).
constexpr std::string_view kSubtree =
    "WITH RECURSIVE subtree(ri, depth) AS (SELECT ri, 0 FROM cse_resources WHERE ri = ?1 "
    "UNION ALL SELECT c.ri, subtree.depth + 1 FROM cse_resources c JOIN subtree ON c.pi = subtree.ri "
    "WHERE subtree.depth < ?2) ";

// SubtreeSize is how many resources a subtree holds (0: its root is
// absent) and how many levels lie below its root.
struct SubtreeSize {
  std::size_t count = 0;
  std::int64_t depth = 0;
};

Result<SubtreeSize> measure_subtree(sql::Connection& conn, std::string_view ri) {
  static const std::string sql =
      std::string(kSubtree) + "SELECT count(*), coalesce(max(depth), 0) FROM subtree";
  Result<Stmt> q = conn.prepare(sql);
  if (!q) return std::unexpected(q.error());
  Status st = q->bind_text(1, ri);
  if (st) st = q->bind_int64(2, std::numeric_limits<std::int32_t>::max());  // depth is a 32-bit integer
  if (!st) return std::unexpected(st.error());
  Result<bool> row = q->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::store_error, "count query returned no row");
  return SubtreeSize{static_cast<std::size_t>(q->column_int64(0)), q->column_int64(1)};
}

// delete_subtree deletes |ri| and every resource below it, inside the
// caller's write, and returns how many went (0 if |ri| is absent). They
// are counted first, in the same transaction, as the rows a cascade
// deletes are not in changes(). On PostgreSQL a resource that another
// replica creates below |ri| at this very moment goes too, and may not be
// counted.
Result<std::size_t> delete_subtree(sql::Connection& conn, std::string_view ri) {
  Result<SubtreeSize> size = measure_subtree(conn, ri);
  if (!size) return std::unexpected(size.error());
  if (size->count == 0) return std::size_t{0};
  // Deleting the level at depth d takes the levels below it down to the
  // next cut, so no cascade is deeper than kCascadeDepth - 1.
  static const std::string cut =
      std::string(kSubtree) + "DELETE FROM cse_resources WHERE ri IN (SELECT ri FROM subtree WHERE depth = ?2)";
  for (std::int64_t d = size->depth - size->depth % kCascadeDepth; d > 0; d -= kCascadeDepth) {
    Result<Stmt> del = conn.prepare(cut);
    if (!del) return std::unexpected(del.error());
    Status st = del->bind_text(1, ri);
    if (st) st = del->bind_int64(2, d);
    if (st) st = del->run();
    if (!st) return std::unexpected(st.error());
  }
  Result<Stmt> del = conn.prepare("DELETE FROM cse_resources WHERE ri = ?1");
  if (!del) return std::unexpected(del.error());
  Status st = del->bind_text(1, ri);
  if (st) st = del->run();
  if (!st) return std::unexpected(st.error());
  if (conn.changes() == 0) return std::size_t{0};  // another replica removed it meanwhile
  return size->count;
}

// read_one runs |s| (bound) and decodes its one row; Errc::not_found
// naming |what| if there is none.
Result<ResourceRecord> read_one(Stmt& s, const std::string& what) {
  Result<bool> row = s.step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::not_found, what);
  return decode_resource(s);
}

}  // namespace

Status SqlResourceRepository::create(const ResourceRecord& r) {
  return guarded([&]() -> Status {
    if (Status valid = validate(r); !valid) return valid;
    return b_.writer->run([&](sql::Connection& conn) { return insert_resource(conn, r); });
  });
}

Result<ResourceRecord> SqlResourceRepository::get(std::string_view ri) {
  return guarded([&]() -> Result<ResourceRecord> {
    const std::string what = "resource " + printable(ri);
    if (!storable(ri)) return fail(Errc::not_found, what);
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = lease.conn().prepare(kSelect + "ri = ?1");
    if (!s) return std::unexpected(s.error());
    if (Status st = s->bind_text(1, ri); !st) return std::unexpected(st.error());
    return read_one(*s, what);
  });
}

Result<ResourceRecord> SqlResourceRepository::child(std::string_view pi, std::string_view rn) {
  return guarded([&]() -> Result<ResourceRecord> {
    const std::string what = "child " + printable(rn) + " of " + (pi.empty() ? "the top level" : printable(pi));
    if (!storable(rn) || (!pi.empty() && !storable(pi))) return fail(Errc::not_found, what);
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = lease.conn().prepare(pi.empty() ? kSelect + "pi IS NULL AND rn = ?1"
                                                     : kSelect + "pi = ?1 AND rn = ?2");
    if (!s) return std::unexpected(s.error());
    Status st = pi.empty() ? s->bind_text(1, rn) : s->bind_text(1, pi);
    if (st && !pi.empty()) st = s->bind_text(2, rn);
    if (!st) return std::unexpected(st.error());
    return read_one(*s, what);
  });
}

Result<std::vector<ResourceRecord>> SqlResourceRepository::children(std::string_view pi, int ty,
                                                                    std::size_t limit) {
  return guarded([&]() -> Result<std::vector<ResourceRecord>> {
    if (Status st = check_type(ty); !st) return std::unexpected(st.error());
    if (limit == 0 || (!pi.empty() && !storable(pi))) return std::vector<ResourceRecord>{};
    const ChildFilter f{pi, ty};
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = lease.conn().prepare(kSelect + f.where() + std::string(kOldestFirst) + " LIMIT ?" +
                                          std::to_string(f.params() + 1));
    if (!s) return std::unexpected(s.error());
    const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    Status st = f.bind(*s);
    if (st) st = s->bind_int64(f.params() + 1, static_cast<std::int64_t>(std::min(limit, max)));
    if (!st) return std::unexpected(st.error());
    return collect<ResourceRecord>(*s, decode_resource);
  });
}

Result<std::size_t> SqlResourceRepository::count_children(std::string_view pi, int ty) {
  return guarded([&]() -> Result<std::size_t> {
    if (Status st = check_type(ty); !st) return std::unexpected(st.error());
    if (!pi.empty() && !storable(pi)) return std::size_t{0};
    const ChildFilter f{pi, ty};
    ReadPool::Lease lease = b_.reads->acquire();
    Result<Stmt> s = lease.conn().prepare("SELECT count(*) FROM cse_resources WHERE " + f.where());
    if (!s) return std::unexpected(s.error());
    if (Status st = f.bind(*s); !st) return std::unexpected(st.error());
    Result<bool> row = s->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail(Errc::store_error, "count query returned no row");
    return static_cast<std::size_t>(s->column_int64(0));
  });
}

Status SqlResourceRepository::update(std::string_view ri, std::string_view attributes) {
  return guarded([&]() -> Status {
    const std::string what = "resource " + printable(ri);
    if (!storable(ri)) return fail(Errc::not_found, what);
    if (Status st = check_attributes(attributes); !st) return st;
    return b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> s = conn.prepare("UPDATE cse_resources SET attributes = ?2 WHERE ri = ?1");
      if (!s) return std::unexpected(s.error());
      Status st = s->bind_text(1, ri);
      if (st) st = s->bind_text(2, attributes);
      if (st) st = s->run();
      if (st) st = expect_changed(conn, what);
      return st;
    });
  });
}

Result<bool> SqlResourceRepository::replace(std::string_view ri, std::string_view expected,
                                            std::string_view attributes) {
  return guarded([&]() -> Result<bool> {
    const std::string what = "resource " + printable(ri);
    if (!storable(ri)) return fail(Errc::not_found, what);
    if (Status st = check_attributes(attributes); !st) return std::unexpected(st.error());
    bool replaced = false;
    Status st = b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<Stmt> s = conn.prepare("UPDATE cse_resources SET attributes = ?2 WHERE ri = ?1 AND attributes = ?3");
      if (!s) return std::unexpected(s.error());
      Status b = s->bind_text(1, ri);
      if (b) b = s->bind_text(2, attributes);
      if (b) b = s->bind_text(3, expected);
      if (b) b = s->run();
      if (!b) return b;
      replaced = conn.changes() > 0;
      if (replaced) return {};
      // Unchanged: gone, or changed meanwhile.
      Result<Stmt> q = conn.prepare("SELECT 1 FROM cse_resources WHERE ri = ?1");
      if (!q) return std::unexpected(q.error());
      if (Status qb = q->bind_text(1, ri); !qb) return qb;
      Result<bool> row = q->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return fail(Errc::not_found, what);
      return {};
    });
    if (!st) return std::unexpected(st.error());
    return replaced;
  });
}

Result<std::size_t> SqlResourceRepository::remove(std::string_view ri) {
  return guarded([&]() -> Result<std::size_t> {
    const std::string what = "resource " + printable(ri);
    if (!storable(ri)) return fail(Errc::not_found, what);
    std::size_t removed = 0;
    Status st = b_.writer->run([&](sql::Connection& conn) -> Status {
      Result<std::size_t> n = delete_subtree(conn, ri);
      if (!n) return std::unexpected(n.error());
      if (*n == 0) return fail(Errc::not_found, what);
      removed = *n;
      return {};
    });
    if (!st) return std::unexpected(st.error());
    return removed;
  });
}

Result<std::string> SqlResourceRepository::remove_oldest_child(std::string_view pi, int ty) {
  return guarded([&]() -> Result<std::string> {
    if (Status st = check_type(ty); !st) return std::unexpected(st.error());
    const std::string what = "no child of " + (pi.empty() ? std::string("the top level") : printable(pi)) +
                             (ty != 0 ? " of type " + std::to_string(ty) : std::string());
    if (!pi.empty() && !storable(pi)) return fail(Errc::not_found, what);
    const ChildFilter f{pi, ty};
    const std::string oldest = "SELECT ri FROM cse_resources WHERE " + f.where() + std::string(kOldestFirst) +
                               " LIMIT 1";
    std::string removed;
    Status st = b_.writer->run([&](sql::Connection& conn) -> Status {
      removed.clear();
      // On PostgreSQL another replica may delete the child picked here
      // before this DELETE reaches it: then the next oldest is taken.
      for (int attempt = 0; attempt < kMaxRemoveRaces; ++attempt) {
        Result<Stmt> q = conn.prepare(oldest);
        if (!q) return std::unexpected(q.error());
        if (Status b = f.bind(*q); !b) return b;
        Result<bool> row = q->step();
        if (!row) return std::unexpected(row.error());
        if (!*row) return fail(Errc::not_found, what);
        std::string ri = q->column_text(0);
        q->reset();
        Result<std::size_t> gone = delete_subtree(conn, ri);
        if (!gone) return std::unexpected(gone.error());
        if (*gone != 0) {
          removed = std::move(ri);
          return {};
        }
      }
      return fail(Errc::store_error, "remove_oldest_child: the oldest child kept being removed by another writer");
    });
    if (!st) return std::unexpected(st.error());
    return removed;
  });
}

}  // namespace m2msec::store::detail
