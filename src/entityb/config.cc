#include "m2msec/entityb/entityb.h"

namespace m2msec::entityb {
namespace {

Result<std::vector<PeerEntry>> read_peers(service::ConfigTable& t, const std::string& key) {
  std::vector<PeerEntry> out;
  for (service::ConfigTable& m : t.tables(key)) {
    PeerEntry e{m.str("fqdn", "", true), m.str("address", "", true)};
    if (auto st = m.finish(); !st) return std::unexpected(st.error());
    if (!Fqdn::parse(e.fqdn)) return fail(Errc::invalid_argument, m.name() + ".fqdn: not an FQDN");
    if (!service::parse_endpoint(e.address)) return fail(Errc::invalid_argument, m.name() + ".address: want host:port");
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<CseConfig> load_cse_config(const service::ConfigFile& file) {
  auto t = file.table("cse");
  if (!t) return std::unexpected(t.error());
  CseConfig c;
  c.listen = service::read_listener_settings(*t, "127.0.0.1:5686");
  c.sp_domain = t->str("sp_domain", "", true);
  c.cse_id = t->str("cse_id", "", true);
  c.csebase = t->str("csebase", "cb");
  c.audit_file = t->path("audit_file", "");
  c.data_dir = t->path("data_dir", "");
  c.gateway_listen = t->str("gateway_listen", "");
  if (auto u = t->table("upstream")) {
    UpstreamSettings up;
    up.address = u->str("address", "", true);
    up.host = u->str("host", "");
    up.timeout = std::chrono::milliseconds(u->integer("timeout_ms", 5000, 100, 600000));
    if (auto st = u->finish(); !st) return std::unexpected(st.error());
    auto ep = service::parse_endpoint(up.address);
    if (!ep) return fail(Errc::invalid_argument, "cse.upstream.address: want host:port");
    if (up.host.empty()) up.host = ep->host;
    c.upstream = std::move(up);
  }
  c.kek_file = t->path("kek_file", "");
  if (c.kek_file.empty() && !c.data_dir.empty()) c.kek_file = c.data_dir + "/kek.hex";
  c.max_children = static_cast<std::size_t>(t->integer("max_children", 10000, 1, 10000000));
  auto store = service::read_store_settings(*t);
  if (!store) return std::unexpected(store.error());
  c.store = std::move(*store);
  const std::string enc = t->str("id_encoding", "base64");
  c.workers = static_cast<unsigned>(t->integer("workers", 16, 1, 1024));
  c.link_pool_size = static_cast<std::size_t>(t->integer("link_pool_size", 4, 1, 64));
  c.link_timeout = std::chrono::milliseconds(t->integer("link_timeout_ms", 5000, 100, 600000));
  c.revocation_poll = std::chrono::milliseconds(t->integer("revocation_poll_ms", 250, 50, 60000));
  auto mafs = read_peers(*t, "maf");
  if (!mafs) return std::unexpected(mafs.error());
  c.mafs = std::move(*mafs);
  auto mefs = read_peers(*t, "mef");
  if (!mefs) return std::unexpected(mefs.error());
  c.mefs = std::move(*mefs);
  for (service::ConfigTable& k : t->tables("kpsa")) {
    KpsaEntry e{k.str("id", "", true), k.path("key_file", "", true), k.str("entity_id", "", true)};
    if (auto st = k.finish(); !st) return std::unexpected(st.error());
    if (!KeyId::parse(KeyIdKind::kpsa, e.kpsa_id)) return fail(Errc::invalid_argument, k.name() + ".id: not a KpsaID");
    if (!EntityId::parse(e.entity_id)) return fail(Errc::invalid_argument, k.name() + ".entity_id: not a CSE-ID/AE-ID");
    c.kpsa.push_back(std::move(e));
  }
  if (auto st = t->finish(); !st) return std::unexpected(st.error());
  auto e = parse_id_encoding(enc);
  if (!e) return fail(Errc::invalid_argument, "cse.id_encoding: must be base64 or hex");
  c.id_encoding = *e;
  if (!Fqdn::parse(c.listen.fqdn)) return fail(Errc::invalid_argument, "cse.fqdn: not an FQDN");
  if (c.data_dir.empty() && !c.upstream) {
    return fail(Errc::invalid_argument, "cse.data_dir: required (the resource tree), unless [cse.upstream] is set");
  }
  if (c.upstream && !c.gateway_listen.empty()) {
    return fail(Errc::invalid_argument, "cse: gateway_listen serves the local resource tree; not with [cse.upstream]");
  }
  if (!c.gateway_listen.empty() && !service::parse_endpoint(c.gateway_listen)) {
    return fail(Errc::invalid_argument, "cse.gateway_listen: want IP:port");
  }
  if (auto st = service::check_trust_anchor_sets(c.listen, "cse"); !st) return std::unexpected(st.error());
  if (!service::cse_public_domain_name(c.cse_id, c.sp_domain)) {
    return fail(Errc::invalid_argument, "cse.cse_id: want an SP-relative CSE-ID such as /in-cse");
  }
  if ((!c.mafs.empty() || !c.mefs.empty()) && (c.listen.certificate.empty() || c.listen.trust_anchors.empty())) {
    return fail(Errc::invalid_argument, "cse: retrieving keys from a MAF or MEF needs certificate, private_key and trust_anchors");
  }
  return c;
}

Result<std::unique_ptr<store::Store>> open_cse_store(const CseConfig& cfg) {
  const std::string kek = cfg.kek_file.empty() ? cfg.data_dir + "/kek.hex" : cfg.kek_file;
  return service::open_role_store(cfg.data_dir, kek, "cse.db", true, cfg.store);
}

Result<link::LinkOptions> link_options(const CseConfig& cfg) {
  auto out = link::make_options(cfg.listen.certificate, cfg.listen.private_key, cfg.listen.trust_anchors,
                                cfg.link_pool_size, cfg.link_timeout);
  if (out) out->require_extended_master_secret = cfg.listen.require_extended_master_secret;
  return out;
}

}  // namespace m2msec::entityb
