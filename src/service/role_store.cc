#include "m2msec/service/role_store.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "m2msec/core/secret_file.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/sqlite_store.h"

namespace m2msec::service {

Result<std::unique_ptr<store::Store>> open_role_store(const std::string& data_dir, const std::string& kek_file,
                                                      const std::string& db_name, bool create_kek) {
  namespace fs = std::filesystem;
  // The data dir holds the database and, by default, the KEK: it is
  // created 0700, and an existing one open to group or others is refused
  // (never silently chmod-ed).
  if (auto st = make_private_dir(data_dir); !st) return std::unexpected(st.error());
  Result<store::Kek> kek = store::load_kek_file(kek_file);
  if (!kek && kek.error().code() == Errc::io_error && create_kek && !fs::exists(kek_file)) {
    kek = store::create_kek_file(kek_file);
  }
  if (!kek) return std::unexpected(kek.error());
  store::SqliteStoreOptions o;
  o.path = data_dir + "/" + db_name;
  return store::open_sqlite_store(o, std::move(*kek));
}

proto::Response store_refusal(const proto::Request& req, const Error& err, std::string_view what,
                              std::string_view role) {
  using proto::Rsc;
  switch (err.code()) {
    case Errc::not_found:
      return proto::error_response(req, Rsc::not_found, std::string(what) + " not found");
    case Errc::key_expired:
      return proto::error_response(req, Rsc::originator_has_no_privilege, std::string(what) + " expired");
    case Errc::already_exists:
      return proto::error_response(req, Rsc::conflict, std::string(what) + " already exists");
    default:
      spdlog::error("{}: {}: {}", role, what, err.message());
      return proto::error_response(req, Rsc::internal_server_error, "internal error");
  }
}

}  // namespace m2msec::service
