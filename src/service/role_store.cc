#include "m2msec/service/role_store.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <limits>

#include "m2msec/core/secret_file.h"
#include "m2msec/proto/messages.h"
#include "m2msec/store/postgres_store.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/sqlite_store.h"

namespace m2msec::service {

Result<StoreSettings> read_store_settings(ConfigTable& role) {
  StoreSettings out;
  std::optional<ConfigTable> t = role.table("store");
  if (!t) return out;  // absent; anything but a table is the role's finish() error
  const std::string backend = t->str("backend", "sqlite");
  out.conninfo = t->str("conninfo", "");
  out.password_file = t->path("password_file", "");
  out.readers = static_cast<std::size_t>(t->integer("readers", 4, 1, 64));
  if (auto st = t->finish(); !st) return std::unexpected(st.error());
  const std::string& name = t->name();
  if (backend == "sqlite") {
    if (!out.conninfo.empty() || !out.password_file.empty()) {
      return fail(Errc::invalid_argument, name + ": conninfo and password_file are for backend = \"postgres\"");
    }
    return out;
  }
  if (backend != "postgres") return fail(Errc::invalid_argument, name + ".backend: must be \"sqlite\" or \"postgres\"");
  out.backend = StoreBackend::postgres;
  if (out.conninfo.empty()) return fail(Errc::invalid_argument, name + ".conninfo: is required for postgres");
  if (Status st = store::check_conninfo(out.conninfo); !st) {
    return fail(Errc::invalid_argument, name + ".conninfo: " + st.error().detail());
  }
  return out;
}

bool store_exists(const StoreSettings& store, const std::string& data_dir, const std::string& db_name,
                  const std::string& kek_file) {
  std::error_code ec;
  if (store.backend == StoreBackend::postgres) return std::filesystem::exists(kek_file, ec);
  return std::filesystem::exists(data_dir + "/" + db_name, ec);
}

Result<std::unique_ptr<store::Store>> open_role_store(const std::string& data_dir, const std::string& kek_file,
                                                      const std::string& db_name, bool create_kek,
                                                      const StoreSettings& store) {
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
  // The writer thread is named after the role: "mef.db" -> "mef-writer".
  const std::string writer_name = fs::path(db_name).stem().string() + "-writer";
  if (store.backend == StoreBackend::postgres) {
    store::PostgresStoreOptions o;
    o.conninfo = store.conninfo;
    o.readers = store.readers;
    o.write.thread_name = writer_name;
    if (!store.password_file.empty()) {
      Result<SecretString> pw = read_secret_file(store.password_file);
      if (!pw) return std::unexpected(pw.error());
      // One line: a trailing newline is not part of the password.
      std::string_view v = pw->view();
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
      o.password = SecretString(v);
    }
    return store::open_postgres_store(o, std::move(*kek));
  }
  store::SqliteStoreOptions o;
  o.path = data_dir + "/" + db_name;
  o.readers = store.readers;
  o.write.thread_name = writer_name;
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

proto::Response revocation_feed(const proto::Request& req, std::string_view prefix, store::RevocationLog& log,
                                std::string_view holder, std::string_view role) {
  using proto::Rsc;
  constexpr std::size_t kMaxFeedBytes = 48 * 1024;
  const std::string_view text = std::string_view(req.to).substr(prefix.size());
  std::int64_t after = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || after < -1) {
    return proto::error_response(req, Rsc::bad_request, "want " + std::string(prefix) + "<seq>, seq >= -1");
  }
  auto page = log.after(after, holder, store::kMaxRevocationPage);
  if (!page) return store_refusal(req, page.error(), "revocation log", role);
  proto::RevocationFeed feed;
  feed.epoch = std::move(page->epoch);
  feed.head = page->head;
  feed.more = page->more;
  // An answer stays well inside the 64 KiB body limit of the HTTP binding
  // (proto::HttpLimits): a page is cut short, with "mr", at about 48 KiB.
  std::size_t bytes = 0;
  for (const store::Revocation& r : page->entries) {
    bytes += 96 + r.key_id.size() + r.entity_id.size() + r.kpsa_id.value_or("").size();
    if (bytes > kMaxFeedBytes && !feed.entries.empty()) {
      feed.more = true;
      break;
    }
    proto::RevocationEntry e;
    e.seq = r.seq;
    e.kind = std::string(store::revoked_kind_name(r.kind));
    e.key_id = r.key_id;
    e.entity_id = r.entity_id;
    e.kpsa_id = r.kpsa_id.value_or("");
    // A key with no expiry is logged as never expiring: sent without et.
    e.expiration = r.expires_at == std::numeric_limits<std::int64_t>::max() ? 0 : r.expires_at;
    e.revoked_at = r.created_at;
    feed.entries.push_back(std::move(e));
  }
  return proto::ok_response(req, Rsc::ok, feed.to_json());
}

}  // namespace m2msec::service
