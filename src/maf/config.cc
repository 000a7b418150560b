#include <filesystem>

#include "m2msec/maf/maf.h"
#include "m2msec/service/role_store.h"

namespace m2msec::maf {

Result<MafConfig> load_maf_config(const service::ConfigFile& file) {
  auto t = file.table("maf");
  if (!t) return std::unexpected(t.error());
  MafConfig c;
  c.listen = service::read_listener_settings(*t, "127.0.0.1:5685");
  c.sp_domain = t->str("sp_domain", "", true);
  c.mas_id = t->str("mas_id", "");
  c.admin_fqdn = t->str("admin_fqdn", "");
  c.data_dir = t->path("data_dir", "", true);
  c.kek_file = t->path("kek_file", "");
  if (c.kek_file.empty() && !c.data_dir.empty()) c.kek_file = c.data_dir + "/kek.hex";
  c.audit_file = t->path("audit_file", "");
  if (c.audit_file.empty() && !c.data_dir.empty()) c.audit_file = c.data_dir + "/audit.jsonl";
  const std::string enc = t->str("id_encoding", "base64");
  c.kc_lifetime = t->integer("kc_lifetime_s", 3600, 1, 365 * 86400);
  c.workers = static_cast<unsigned>(t->integer("workers", 16, 1, 1024));
  c.purge_interval = std::chrono::seconds(t->integer("purge_interval_s", 300, 0, 86400));
  c.link_pool_size = static_cast<std::size_t>(t->integer("link_pool_size", 4, 1, 64));
  c.link_timeout = std::chrono::milliseconds(t->integer("link_timeout_ms", 5000, 100, 600000));
  c.push_timeout = std::chrono::milliseconds(t->integer("push_timeout_ms", 500, 10, 600000));
  c.revocation_poll = std::chrono::milliseconds(t->integer("revocation_poll_ms", 250, 50, 60000));
  for (service::ConfigTable& m : t->tables("mef")) {
    PeerEntry e{m.str("fqdn", "", true), m.str("address", "", true)};
    if (auto st = m.finish(); !st) return std::unexpected(st.error());
    if (!Fqdn::parse(e.fqdn)) return fail(Errc::invalid_argument, m.name() + ".fqdn: not an FQDN");
    if (!service::parse_endpoint(e.address)) return fail(Errc::invalid_argument, m.name() + ".address: want host:port");
    c.mefs.push_back(std::move(e));
  }
  for (service::ConfigTable& m : t->tables("cse")) {
    CseEntry e{m.str("cse_id", "", true), m.str("fqdn", "", true), m.str("address", "", true)};
    if (auto st = m.finish(); !st) return std::unexpected(st.error());
    auto id = EntityId::parse(e.cse_id);
    if (!id || id->kind() != EntityKind::cse || !e.cse_id.starts_with("/") || e.cse_id.starts_with("//")) {
      return fail(Errc::invalid_argument, m.name() + ".cse_id: want an SP-relative CSE-ID such as /in-cse");
    }
    if (!Fqdn::parse(e.fqdn)) return fail(Errc::invalid_argument, m.name() + ".fqdn: not an FQDN");
    if (!service::parse_endpoint(e.address)) return fail(Errc::invalid_argument, m.name() + ".address: want host:port");
    c.cses.push_back(std::move(e));
  }
  auto store = service::read_store_settings(*t);
  if (!store) return std::unexpected(store.error());
  c.store = std::move(*store);
  if (auto st = t->finish(); !st) return std::unexpected(st.error());
  auto e = parse_id_encoding(enc);
  if (!e) return fail(Errc::invalid_argument, "maf.id_encoding: must be base64 or hex");
  c.id_encoding = *e;
  if (!Fqdn::parse(c.listen.fqdn)) return fail(Errc::invalid_argument, "maf.fqdn: not an FQDN");
  if (auto st = service::check_trust_anchor_sets(c.listen, "maf"); !st) return std::unexpected(st.error());
  if (!Fqdn::parse(c.sp_domain)) return fail(Errc::invalid_argument, "maf.sp_domain: not an FQDN");
  if (c.mas_id.empty()) c.mas_id = c.listen.fqdn;
  if (c.admin_fqdn.empty()) c.admin_fqdn = c.sp_domain;
  if (!c.mefs.empty() && (c.listen.certificate.empty() || c.listen.trust_anchors.empty())) {
    return fail(Errc::invalid_argument, "maf: fetching Km from a MEF needs certificate, private_key and trust_anchors");
  }
  if (!c.cses.empty() && (c.listen.certificate.empty() || c.listen.trust_anchors.empty())) {
    return fail(Errc::invalid_argument, "maf: pushing Kc to Entity B needs certificate, private_key and trust_anchors");
  }
  return c;
}

Result<link::LinkOptions> link_options(const MafConfig& cfg) {
  auto out = link::make_options(cfg.listen.certificate, cfg.listen.private_key, cfg.listen.trust_anchors,
                                cfg.link_pool_size, cfg.link_timeout);
  if (out) out->require_extended_master_secret = cfg.listen.require_extended_master_secret;
  return out;
}

Result<std::unique_ptr<store::Store>> open_maf_store(const MafConfig& cfg, bool create_kek) {
  return service::open_role_store(cfg.data_dir, cfg.kek_file, "maf.db", create_kek, cfg.store);
}

}  // namespace m2msec::maf
