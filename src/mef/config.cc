#include <filesystem>
#include <system_error>

#include "m2msec/mef/mef.h"
#include "m2msec/store/secret_box.h"
#include "m2msec/store/sqlite_store.h"

namespace m2msec::mef {

Result<MefConfig> load_mef_config(const service::ConfigFile& file) {
  auto t = file.table("mef");
  if (!t) return std::unexpected(t.error());
  MefConfig c;
  c.listen = service::read_listener_settings(*t, "127.0.0.1:5684");
  c.sp_domain = t->str("sp_domain", "", true);
  c.data_dir = t->path("data_dir", "", true);
  c.kek_file = t->path("kek_file", "");
  if (c.kek_file.empty() && !c.data_dir.empty()) c.kek_file = c.data_dir + "/kek.hex";
  const std::string enc = t->str("id_encoding", "base64");
  c.default_lifetime = t->integer("default_lifetime_s", 365 * 86400, 60, 100LL * 365 * 86400);
  c.workers = static_cast<unsigned>(t->integer("workers", 16, 1, 1024));
  for (service::ConfigTable& m : t->tables("maf")) {
    MafEntry e{m.str("fqdn", "", true), m.str("address", "", true)};
    if (auto st = m.finish(); !st) return std::unexpected(st.error());
    if (!Fqdn::parse(e.fqdn)) return fail(Errc::invalid_argument, m.name() + ".fqdn: not an FQDN");
    if (!service::parse_endpoint(e.address)) return fail(Errc::invalid_argument, m.name() + ".address: want host:port");
    c.mafs.push_back(std::move(e));
  }
  if (auto st = t->finish(); !st) return std::unexpected(st.error());
  auto e = parse_id_encoding(enc);
  if (!e) return fail(Errc::invalid_argument, "mef.id_encoding: must be base64 or hex");
  c.id_encoding = *e;
  if (!Fqdn::parse(c.listen.fqdn)) return fail(Errc::invalid_argument, "mef.fqdn: not an FQDN");
  if (!Fqdn::parse(c.sp_domain)) return fail(Errc::invalid_argument, "mef.sp_domain: not an FQDN");
  return c;
}

Result<std::unique_ptr<store::Store>> open_mef_store(const MefConfig& cfg, bool create_kek) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return fail(Errc::io_error, cfg.data_dir + ": " + ec.message());
  std::filesystem::permissions(cfg.data_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  Result<store::Kek> kek = store::load_kek_file(cfg.kek_file);
  if (!kek && kek.error().code() == Errc::io_error && create_kek && !std::filesystem::exists(cfg.kek_file)) {
    kek = store::create_kek_file(cfg.kek_file);
  }
  if (!kek) return std::unexpected(kek.error());
  store::SqliteStoreOptions o;
  o.path = cfg.data_dir + "/mef.db";
  return store::open_sqlite_store(o, std::move(*kek));
}

}  // namespace m2msec::mef
