// m2msec/service/role_store.h: what the MEF and the MAF share around their
// stores: opening one, and answering a peer when a store lookup fails.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/config.h"
#include "m2msec/store/store.h"

namespace m2msec::service {

enum class StoreBackend { sqlite, postgres };

// StoreSettings is a role's optional [<role>.store] table
// (docs/configuration.md): SQLite in the data directory by default, or a
// PostgreSQL database shared by the role's replicas.
struct StoreSettings {
  StoreBackend backend = StoreBackend::sqlite;
  std::string conninfo;       // postgres: a libpq connection string, no password
  std::string password_file;  // postgres: a 0600 file holding the password ("" none)
  std::size_t readers = 4;    // read connections
};

// read_store_settings reads [<role>.store] from the role's table, if
// present: backend = "sqlite" | "postgres"; conninfo (required for
// postgres, refused with a password in it); password_file; readers.
// Errc::invalid_argument naming the key.
Result<StoreSettings> read_store_settings(ConfigTable& role);

// store_exists says whether the role's store is there to read without
// creating anything: the SQLite file <data_dir>/<db_name>; for PostgreSQL,
// the role's KEK file (the database is shared and may hold tables, but
// nothing in it can be read before this replica has the KEK; opening it
// creates missing tables).
bool store_exists(const StoreSettings& store, const std::string& data_dir, const std::string& db_name,
                  const std::string& kek_file);

// open_role_store opens the role's store: <data_dir>/<db_name> for SQLite
// (created on first use), or the PostgreSQL database |store| names. The
// data directory (mode 0700) holds the KEK either way: with |create_kek|, a
// missing KEK file is created (random, mode 0600); an existing one is never
// replaced. Replicas on one PostgreSQL database share one KEK file's
// contents. Fails with Errc::io_error, Errc::wrong_kek, Errc::store_error,
// Errc::insecure_permissions (a password file open to others) ...
Result<std::unique_ptr<store::Store>> open_role_store(const std::string& data_dir, const std::string& kek_file,
                                                      const std::string& db_name, bool create_kek,
                                                      const StoreSettings& store = {});

// store_refusal maps a failed store lookup onto the oneM2M answer a peer
// sees: not_found -> 4004, key_expired -> 4103, already_exists -> 4105;
// anything else is logged (with |role|) and answered 5000 without detail.
proto::Response store_refusal(const proto::Request& req, const Error& err, std::string_view what,
                              std::string_view role);

// revocation_feed answers RETRIEVE <prefix><after> from |log| with the
// entries meant for |holder| ("" all) after seq <after> (an integer >= -1;
// -1 asks for the head only): 2000 with a sec:rvf body, 4000 for a bad
// <after>, 5000 (logged with |role|) if the store fails. The caller has
// authorized the requester. Blocks on a store read: run it on a worker.
proto::Response revocation_feed(const proto::Request& req, std::string_view prefix, store::RevocationLog& log,
                                std::string_view holder, std::string_view role);

}  // namespace m2msec::service
