#include "schema.h"

#include <array>
#include <string>

namespace m2msec::store {
namespace {

// Version 1: the MEF tables (enrolees, enrolments) and the MAF tables
// (maf_clients, kc_keys, kc_targets), plus meta for the KEK check value.
// Secret columns (kpm, ke, kpsa, km, kc) hold seal() blobs; see
// secret_box.h and docs/storage.md.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE meta (
  name  TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) STRICT;

CREATE TABLE enrolees (
  enrolee_id        TEXT PRIMARY KEY NOT NULL,
  auth_kind         TEXT NOT NULL CHECK (auth_kind IN ('psk', 'cert')),
  kpm_id            TEXT UNIQUE,
  kpm               BLOB,
  cert_subject      TEXT,
  cert_trust_anchor TEXT,
  target_kind       TEXT NOT NULL CHECK (target_kind IN ('maf', 'kpsa')),
  target            TEXT NOT NULL,
  expires_at        INTEGER,
  created_at        INTEGER NOT NULL,
  state             TEXT NOT NULL CHECK (state IN ('active', 'removed')),
  CHECK (auth_kind <> 'psk' OR kpm_id IS NOT NULL),
  CHECK (state <> 'active' OR auth_kind <> 'psk' OR kpm IS NOT NULL),
  CHECK (auth_kind <> 'cert' OR (cert_subject IS NOT NULL AND cert_trust_anchor IS NOT NULL))
) STRICT;

CREATE TABLE enrolments (
  ke_id      TEXT PRIMARY KEY NOT NULL,
  enrolee_id TEXT NOT NULL UNIQUE REFERENCES enrolees(enrolee_id) ON DELETE CASCADE,
  ke         BLOB NOT NULL,
  kpsa_id    TEXT UNIQUE,
  kpsa       BLOB,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  CHECK ((kpsa_id IS NULL) = (kpsa IS NULL))
) STRICT;

CREATE TABLE maf_clients (
  km_id         TEXT PRIMARY KEY NOT NULL,
  km            BLOB NOT NULL,
  entity_id     TEXT NOT NULL UNIQUE,
  source        TEXT NOT NULL CHECK (source IN ('mef', 'preprovisioned')),
  expires_at    INTEGER,
  registered_at INTEGER NOT NULL
) STRICT;

CREATE TABLE kc_keys (
  kc_id       TEXT PRIMARY KEY NOT NULL,
  kc          BLOB NOT NULL,
  entity_a_id TEXT NOT NULL REFERENCES maf_clients(entity_id) ON DELETE CASCADE,
  expires_at  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX kc_keys_entity_a ON kc_keys(entity_a_id);

CREATE TABLE kc_targets (
  kc_id     TEXT NOT NULL REFERENCES kc_keys(kc_id) ON DELETE CASCADE,
  target_id TEXT NOT NULL,
  PRIMARY KEY (kc_id, target_id)
) STRICT, WITHOUT ROWID;
)sql";

// Version 2: a certificate subject identifies at most one active enrolee,
// so find_enrolee_by_cert_subject is unambiguous. Removed enrolees keep
// their subject but do not reserve it (version 1 allowed re-adding a
// removed subject, and such databases must still migrate). A version 1
// database with two ACTIVE enrolees sharing a subject fails this migration
// and stays at version 1 until one of them is removed (docs/storage.md).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE UNIQUE INDEX enrolees_active_cert_subject ON enrolees(cert_subject)
  WHERE cert_subject IS NOT NULL AND state = 'active';
)sql";

// Version 3: the MAS keeps an AE's App-ID beside its root key (seed 004:
// the MAS "stores both the M2M Root keys and associated ASN/MN-CSE IDs and
// App-IDs"). Nullable, so every existing row stays valid as it is.
constexpr std::string_view kSchemaV3 = R"sql(
ALTER TABLE maf_clients ADD COLUMN app_id TEXT;
)sql";

// Version 4: the revocation log (revocation_log.h) with its epoch, and the
// cursors a holder keeps into its issuers' logs. An entry names a key, never
// holds one; it is purged once the key it names would have expired.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE revocations (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK (kind IN ('ke', 'km', 'kc')),
  key_id     TEXT NOT NULL,
  entity_id  TEXT NOT NULL,
  holder     TEXT NOT NULL,
  kpsa_id    TEXT,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_key ON revocations(key_id);
CREATE INDEX revocations_expiry ON revocations(expires_at);

CREATE TABLE feed_cursors (
  issuer TEXT PRIMARY KEY NOT NULL,
  epoch  TEXT NOT NULL,
  seq    INTEGER NOT NULL
) STRICT;

INSERT INTO meta (name, value) VALUES ('revocation_epoch', randomblob(16));
)sql";

// Version 5: the revocation log's head is a counter row that each writer
// increments in its own transaction before it appends, so a seq is taken
// and committed in order even when several processes write to one
// database: a reader never sees seq n+1 before seq n (PostgreSQL
// sequences give no such order). The counter starts where AUTOINCREMENT
// left off, so every holder's cursor stays valid.
constexpr std::string_view kSchemaV5 = R"sql(
CREATE TABLE revocation_head (
  one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1),
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO revocation_head (one, seq)
  SELECT 1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'revocations'), 0);
)sql";

// Version 6: which Entity B processes hold a Kc (docs/protocol.md, MAF Key
// Retrieval and De-Registration with "holder"), so that de-registration is
// decided per key: the key goes when its last holder lets it go.
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE kc_holders (
  kc_id  TEXT NOT NULL REFERENCES kc_keys(kc_id) ON DELETE CASCADE,
  holder TEXT NOT NULL,
  PRIMARY KEY (kc_id, holder)
) STRICT, WITHOUT ROWID;
)sql";

// Version 7: the MEF as a GBA BSF (TS 33.220). gba_subscribers holds each
// subscriber's MILENAGE K and OPc (sealed), the highest SQN issued (48
// bits, TS 33.102 6.3.2) and its GUSS as TS-0003 8.3.2.3 uses it: the
// enrolee it is (one IMPI per enrolee) and the only Enrolment Target that
// may get its Ks_NAF; gba_bootstraps maps a B-TID to the Ks of its
// bootstrapping run, and goes with its subscriber.
constexpr std::string_view kSchemaV7 = R"sql(
CREATE TABLE gba_subscribers (
  impi        TEXT PRIMARY KEY NOT NULL,
  k           BLOB NOT NULL,
  opc         BLOB NOT NULL,
  sqn         INTEGER NOT NULL CHECK (sqn >= 0 AND sqn < 281474976710656),
  amf         INTEGER NOT NULL CHECK (amf BETWEEN 0 AND 65535),
  enrolee_id  TEXT NOT NULL UNIQUE,
  target_kind TEXT NOT NULL CHECK (target_kind IN ('maf', 'kpsa')),
  target      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE gba_bootstraps (
  b_tid      TEXT PRIMARY KEY NOT NULL,
  impi       TEXT NOT NULL REFERENCES gba_subscribers(impi) ON DELETE CASCADE,
  ks         BLOB NOT NULL,
  rand       BLOB NOT NULL CHECK (length(rand) = 16),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX gba_bootstraps_impi ON gba_bootstraps(impi);
CREATE INDEX gba_bootstraps_expiry ON gba_bootstraps(expires_at);
)sql";

// Version 8: the resource tree of the CSE behind Entity B (TS-0001 clause
// 9.6; resource_repository.h): one row per resource, linked to its parent
// by resourceID. Nothing in it is a key, so nothing is sealed. seq is the
// order of creation (an INTEGER PRIMARY KEY is always above every row
// present), which breaks ties between resources created in the same
// second; ri is the key everything else refers to. The CSEBase is the one
// row without a parent (the partial unique index on "pi IS NULL" admits
// one), a name is unique among its siblings, and a parent's deletion takes
// its subtree (ON DELETE CASCADE). cse_resources_children serves listing a
// parent's children of one type oldest first.
constexpr std::string_view kSchemaV8 = R"sql(
CREATE TABLE cse_resources (
  seq        INTEGER PRIMARY KEY,
  ri         TEXT NOT NULL UNIQUE CHECK (length(ri) > 0),
  pi         TEXT REFERENCES cse_resources(ri) ON DELETE CASCADE,
  rn         TEXT NOT NULL CHECK (length(rn) > 0),
  ty         INTEGER NOT NULL CHECK (ty > 0),
  attributes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (pi, rn),
  CHECK (pi IS NULL OR (length(pi) > 0 AND pi <> ri))
) STRICT;
CREATE UNIQUE INDEX cse_resources_one_root ON cse_resources((pi IS NULL)) WHERE pi IS NULL;
CREATE INDEX cse_resources_children ON cse_resources(pi, ty, created_at, seq);
)sql";

constexpr std::array<Migration, 8> kMigrations = {{
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
    {5, kSchemaV5},
    {6, kSchemaV6},
    {7, kSchemaV7},
    {8, kSchemaV8},
}};

// The PostgreSQL list: the same versions, tables, columns and constraints
// in PostgreSQL's types (BYTEA for BLOB, BIGINT for INTEGER). Identifier
// columns use the "C" collation, so listings page in bytewise order as on
// SQLite whatever the database's locale.
constexpr std::string_view kPgV1 = R"sql(
CREATE TABLE meta (
  name  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  value BYTEA NOT NULL
);

CREATE TABLE enrolees (
  enrolee_id        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  auth_kind         TEXT NOT NULL CHECK (auth_kind IN ('psk', 'cert')),
  kpm_id            TEXT COLLATE "C" UNIQUE,
  kpm               BYTEA,
  cert_subject      TEXT COLLATE "C",
  cert_trust_anchor TEXT,
  target_kind       TEXT NOT NULL CHECK (target_kind IN ('maf', 'kpsa')),
  target            TEXT COLLATE "C" NOT NULL,
  expires_at        BIGINT,
  created_at        BIGINT NOT NULL,
  state             TEXT NOT NULL CHECK (state IN ('active', 'removed')),
  CHECK (auth_kind <> 'psk' OR kpm_id IS NOT NULL),
  CHECK (state <> 'active' OR auth_kind <> 'psk' OR kpm IS NOT NULL),
  CHECK (auth_kind <> 'cert' OR (cert_subject IS NOT NULL AND cert_trust_anchor IS NOT NULL))
);

CREATE TABLE enrolments (
  ke_id      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  enrolee_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES enrolees(enrolee_id) ON DELETE CASCADE,
  ke         BYTEA NOT NULL,
  kpsa_id    TEXT COLLATE "C" UNIQUE,
  kpsa       BYTEA,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  CHECK ((kpsa_id IS NULL) = (kpsa IS NULL))
);

CREATE TABLE maf_clients (
  km_id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  km            BYTEA NOT NULL,
  entity_id     TEXT COLLATE "C" NOT NULL UNIQUE,
  source        TEXT NOT NULL CHECK (source IN ('mef', 'preprovisioned')),
  expires_at    BIGINT,
  registered_at BIGINT NOT NULL
);

CREATE TABLE kc_keys (
  kc_id       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  kc          BYTEA NOT NULL,
  entity_a_id TEXT COLLATE "C" NOT NULL REFERENCES maf_clients(entity_id) ON DELETE CASCADE,
  expires_at  BIGINT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX kc_keys_entity_a ON kc_keys(entity_a_id);

CREATE TABLE kc_targets (
  kc_id     TEXT COLLATE "C" NOT NULL REFERENCES kc_keys(kc_id) ON DELETE CASCADE,
  target_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (kc_id, target_id)
);
)sql";

constexpr std::string_view kPgV4 = R"sql(
CREATE TABLE revocations (
  seq        BIGINT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('ke', 'km', 'kc')),
  key_id     TEXT COLLATE "C" NOT NULL,
  entity_id  TEXT COLLATE "C" NOT NULL,
  holder     TEXT COLLATE "C" NOT NULL,
  kpsa_id    TEXT COLLATE "C",
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX revocations_key ON revocations(key_id);
CREATE INDEX revocations_expiry ON revocations(expires_at);

CREATE TABLE feed_cursors (
  issuer TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  epoch  TEXT NOT NULL,
  seq    BIGINT NOT NULL
);

INSERT INTO meta (name, value)
  VALUES ('revocation_epoch', decode(replace(gen_random_uuid()::text, '-', ''), 'hex'));
)sql";

constexpr std::string_view kPgV5 = R"sql(
CREATE TABLE revocation_head (
  one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1),
  seq BIGINT NOT NULL
);
INSERT INTO revocation_head (one, seq) SELECT 1, coalesce(max(seq), 0) FROM revocations;
)sql";

constexpr std::string_view kPgV6 = R"sql(
CREATE TABLE kc_holders (
  kc_id  TEXT COLLATE "C" NOT NULL REFERENCES kc_keys(kc_id) ON DELETE CASCADE,
  holder TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (kc_id, holder)
);
)sql";

constexpr std::string_view kPgV7 = R"sql(
CREATE TABLE gba_subscribers (
  impi        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  k           BYTEA NOT NULL,
  opc         BYTEA NOT NULL,
  sqn         BIGINT NOT NULL CHECK (sqn >= 0 AND sqn < 281474976710656),
  amf         INTEGER NOT NULL CHECK (amf BETWEEN 0 AND 65535),
  enrolee_id  TEXT COLLATE "C" NOT NULL UNIQUE,
  target_kind TEXT NOT NULL CHECK (target_kind IN ('maf', 'kpsa')),
  target      TEXT COLLATE "C" NOT NULL,
  created_at  BIGINT NOT NULL
);

CREATE TABLE gba_bootstraps (
  b_tid      TEXT COLLATE "C" PRIMARY KEY NOT NULL,
  impi       TEXT COLLATE "C" NOT NULL REFERENCES gba_subscribers(impi) ON DELETE CASCADE,
  ks         BYTEA NOT NULL,
  rand       BYTEA NOT NULL CHECK (length(rand) = 16),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX gba_bootstraps_impi ON gba_bootstraps(impi);
CREATE INDEX gba_bootstraps_expiry ON gba_bootstraps(expires_at);
)sql";

// seq is an identity column: PostgreSQL's sequence hands each replica
// increasing numbers, which is all the tie-break needs.
constexpr std::string_view kPgV8 = R"sql(
CREATE TABLE cse_resources (
  seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ri         TEXT COLLATE "C" NOT NULL UNIQUE CHECK (length(ri) > 0),
  pi         TEXT COLLATE "C" REFERENCES cse_resources(ri) ON DELETE CASCADE,
  rn         TEXT COLLATE "C" NOT NULL CHECK (length(rn) > 0),
  ty         INTEGER NOT NULL CHECK (ty > 0),
  attributes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (pi, rn),
  CHECK (pi IS NULL OR (length(pi) > 0 AND pi <> ri))
);
CREATE UNIQUE INDEX cse_resources_one_root ON cse_resources((pi IS NULL)) WHERE pi IS NULL;
CREATE INDEX cse_resources_children ON cse_resources(pi, ty, created_at, seq);
)sql";

constexpr std::array<Migration, 8> kPgMigrations = {{
    {1, kPgV1},
    {2, kSchemaV2},  // a partial unique index: the same text in both engines
    {3, kSchemaV3},  // ALTER TABLE ... ADD COLUMN app_id TEXT
    {4, kPgV4},
    {5, kPgV5},
    {6, kPgV6},
    {7, kPgV7},
    {8, kPgV8},
}};

// kPgMigrationLock is the advisory lock key under which PostgreSQL
// migrations run (any constant; "m2ms" in ASCII).
constexpr std::string_view kPgBeginMigration =
    "BEGIN; SELECT pg_advisory_xact_lock(1832021363); "
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)";

}  // namespace

std::span<const Migration> schema_migrations(sql::Dialect dialect) {
  if (dialect == sql::Dialect::postgres) return kPgMigrations;
  return kMigrations;
}

Result<int> schema_version(sql::Connection& conn) {
  const bool pg = conn.dialect() == sql::Dialect::postgres;
  Result<sql::Stmt> stmt = conn.prepare(pg ? "SELECT max(version) FROM schema_version" : "PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  Result<bool> row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail(Errc::store_error, "the schema version query returned no row");
  return stmt->is_null(0) ? 0 : static_cast<int>(stmt->column_int64(0));
}

Result<int> apply_migrations(sql::Connection& conn, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return fail(Errc::invalid_argument, "migrations must be numbered 1..n in order");
    }
  }
  const int target = static_cast<int>(migrations.size());
  const bool pg = conn.dialect() == sql::Dialect::postgres;
  Status begin = pg ? conn.exec(kPgBeginMigration) : conn.begin_write(Durability::full);
  if (!begin) {
    if (pg) (void)conn.rollback();
    return std::unexpected(begin.error());
  }
  // Read the version inside the write lock: another process may have
  // migrated between our open and now.
  Result<int> current = schema_version(conn);
  if (!current || *current > target) {
    (void)conn.exec("ROLLBACK");
    if (!current) return std::unexpected(current.error());
    return fail(Errc::schema_too_new, "database has schema version " + std::to_string(*current) +
                                          ", this program knows up to " + std::to_string(target));
  }
  for (const Migration& m : migrations) {
    if (m.version <= *current) continue;
    Status st = conn.exec(m.sql);
    if (!st) {
      (void)conn.exec("ROLLBACK");
      return fail(Errc::store_error, "migration " + std::to_string(m.version) + ": " + st.error().detail());
    }
  }
  const std::string v = std::to_string(target);
  Status set = conn.exec(pg ? "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (" + v + ")"
                            : "PRAGMA user_version = " + v);
  if (!set) {
    (void)conn.exec("ROLLBACK");
    return std::unexpected(set.error());
  }
  Status commit = conn.exec("COMMIT");
  if (!commit) {
    (void)conn.exec("ROLLBACK");
    return std::unexpected(commit.error());
  }
  return target;
}

}  // namespace m2msec::store
