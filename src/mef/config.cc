#include <filesystem>
#include <system_error>

#include "m2msec/mef/mef.h"
#include "m2msec/proto/channel.h"
#include "m2msec/service/role_store.h"

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
  c.audit_file = t->path("audit_file", "");
  if (c.audit_file.empty() && !c.data_dir.empty()) c.audit_file = c.data_dir + "/audit.jsonl";
  const std::string enc = t->str("id_encoding", "base64");
  c.default_lifetime = t->integer("default_lifetime_s", 365 * 86400, 60, 100LL * 365 * 86400);
  c.workers = static_cast<unsigned>(t->integer("workers", 16, 1, 1024));
  c.purge_interval = std::chrono::seconds(t->integer("purge_interval_s", 300, 0, 86400));
  for (service::ConfigTable& m : t->tables("maf")) {
    MafEntry e{m.str("fqdn", "", true), m.str("address", "", true)};
    if (auto st = m.finish(); !st) return std::unexpected(st.error());
    if (!Fqdn::parse(e.fqdn)) return fail(Errc::invalid_argument, m.name() + ".fqdn: not an FQDN");
    if (!proto::parse_service_address(e.address)) {
      return fail(Errc::invalid_argument, m.name() + ".address: want host:port, coaps://host:port or https://host:port");
    }
    c.mafs.push_back(std::move(e));
  }
  if (auto b = t->table("bsf")) {
    c.bsf.enabled = b->boolean("enabled", false);
    c.bsf.key_lifetime = b->integer("key_lifetime_s", 86400, 60, 365LL * 86400);
    c.bsf.challenge_lifetime = std::chrono::seconds(b->integer("challenge_lifetime_s", 60, 1, 3600));
    c.bsf.max_challenges = static_cast<std::size_t>(b->integer("max_challenges", 100000, 1, 10000000));
    if (auto st = b->finish(); !st) return std::unexpected(st.error());
    // The device has no credential yet: it verifies the MEF's certificate.
    if (c.bsf.enabled && (c.listen.certificate.empty() || c.listen.private_key.empty())) {
      return fail(Errc::invalid_argument, "mef.bsf.enabled needs mef.certificate and mef.private_key");
    }
  }
  auto store = service::read_store_settings(*t);
  if (!store) return std::unexpected(store.error());
  c.store = std::move(*store);
  if (auto st = t->finish(); !st) return std::unexpected(st.error());
  auto e = parse_id_encoding(enc);
  if (!e) return fail(Errc::invalid_argument, "mef.id_encoding: must be base64 or hex");
  c.id_encoding = *e;
  if (!Fqdn::parse(c.listen.fqdn)) return fail(Errc::invalid_argument, "mef.fqdn: not an FQDN");
  if (auto st = service::check_trust_anchor_sets(c.listen, "mef"); !st) return std::unexpected(st.error());
  if (!Fqdn::parse(c.sp_domain)) return fail(Errc::invalid_argument, "mef.sp_domain: not an FQDN");
  return c;
}

Result<std::unique_ptr<store::Store>> open_mef_store(const MefConfig& cfg, bool create_kek) {
  return service::open_role_store(cfg.data_dir, cfg.kek_file, "mef.db", create_kek, cfg.store);
}

}  // namespace m2msec::mef
