#include "m2msec/core/secret_file.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/service/metrics.h"

#include <spdlog/spdlog.h>

namespace m2msec::entityb {

Result<std::unique_ptr<CseServer>> CseServer::start(CseConfig cfg) {
  std::unique_ptr<CseServer> s(new CseServer());
  // One client context and connection pool for every call to the MAFs
  // and MEFs, built before the first handshake needs it.
  if (!cfg.mafs.empty() || !cfg.mefs.empty()) {
    auto lo = link_options(cfg);
    if (!lo) return std::unexpected(lo.error());
    auto link = link::Link::create(std::move(*lo));
    if (!link) return std::unexpected(link.error());
    s->link_ = std::move(*link);
    auto fo = link_options(cfg);
    if (!fo) return std::unexpected(fo.error());
    fo->pool_size = 1;
    auto feed_link = link::Link::create(std::move(*fo));
    if (!feed_link) return std::unexpected(feed_link.error());
    s->feed_link_ = std::move(*feed_link);
  }
  // 8.2.2.1: operator-provisioned Kpsa, loaded once from 0600 files.
  std::map<std::string, CachedKey> provisioned;
  for (const KpsaEntry& e : cfg.kpsa) {
    auto key = read_hex_key_file(e.key_file, 32);
    if (!key) return std::unexpected(key.error());
    provisioned[KeyId::parse(KeyIdKind::kpsa, e.kpsa_id)->canonical()] =
        CachedKey{std::move(*key), e.entity_id, 0, false, "", "", 0};
  }
  if (!cfg.audit_file.empty()) {
    auto audit = service::AuditLog::open(cfg.audit_file, "cse");
    if (!audit) return std::unexpected(audit.error());
    s->audit_ = std::move(*audit);
  } else {
    s->audit_ = service::AuditLog::in_memory("cse");  // counted for /metrics only
  }
  // The resource tree, unless in gateway mode: opened (and its CSEBase
  // made) before the first session can reach it.
  if (!cfg.upstream) {
    auto st = open_cse_store(cfg);
    if (!st) return std::unexpected(st.error());
    s->store_ = std::move(*st);
    cse::Settings cs;
    cs.cse_id = cfg.cse_id;
    cs.csebase = cfg.csebase;
    cs.sp_id = cfg.sp_domain;
    cs.poa = {"https://" + cfg.listen.fqdn};
    cs.max_children = cfg.max_children;
    auto opened = cse::Cse::open(std::move(cs), s->store_->resources(), service::now_unix());
    if (!opened) return std::unexpected(opened.error());
    s->cse_ = std::move(*opened);
  }
  s->pool_ = std::make_unique<service::WorkerPool>(cfg.workers, "cse-worker");
  s->service_ = std::make_unique<EntityB>(cfg, *s->pool_, s->link_.get(), std::move(provisioned));
  EntityB* svc = s->service_.get();
  if (cfg.upstream) s->forward_pool_ = std::make_unique<service::WorkerPool>(cfg.workers, "cse-forward");
  const Next next = cfg.upstream ? upstream_cse(*cfg.upstream, *s->forward_pool_) : local_cse(*s->cse_, *s->pool_);
  svc->set_next(next);
  if (!cfg.gateway_listen.empty()) {
    auto g = service::PlainHttpServer::start(cfg.gateway_listen, "cse", trusted_gateway(next));
    if (!g) return std::unexpected(g.error());
    s->gateway_listener_ = std::move(*g);
    spdlog::warn("cse: gateway_listen {}: plain HTTP, X-M2M-Origin trusted; only security gateways may reach it",
                 cfg.gateway_listen);
  }
  if (cfg.upstream) spdlog::info("cse: gateway mode: forwarding to the CSE at {}", cfg.upstream->address);
  svc->set_audit(s->audit_.get());
  if (s->feed_link_) svc->follow_revocations(*s->feed_link_);
  service::ListenerHandlers h = service::handlers_for(svc, "cse");
  h.on_session_start = [svc](service::AuthContext& c) { svc->on_session_start(c); };
  h.on_session_end = [svc](const service::AuthContext& c) { svc->on_session_end(c); };
  h.track_sessions = true;  // a revocation closes the sessions using the key
  auto l = service::Listeners::start(cfg.listen, std::move(h));
  if (!l) return std::unexpected(l.error());
  s->listeners_ = std::move(*l);
  service::Listeners* listeners = s->listeners_.get();
  svc->set_session_closer(
      [listeners](const std::function<bool(const service::AuthContext&)>& m) { return listeners->close_sessions(m); });
  if (s->feed_link_) {
    s->revoker_ =
        std::make_unique<service::Periodic>("cse-revoke", cfg.revocation_poll, [svc] { svc->sync_revocations(); });
  }
  s->drain_ = cfg.listen.drain;
  auto admin = service::start_role_admin(cfg.listen, "cse", s->listeners_.get(), nullptr,
                                         [self = s.get()] { return self->metrics(); });
  if (!admin) return std::unexpected(admin.error());
  s->admin_ = std::move(*admin);
  return s;
}

std::string CseServer::metrics() const {
  service::MetricsWriter w;
  listeners_->write_metrics(w, "cse");
  audit_->write_metrics(w);
  service::write_link_metrics(w, "cse", {{"keys", link_.get()}, {"feeds", feed_link_.get()}});
  const KeyStats k = service_->stats();
  w.family("m2msec_key_lookups_total", "counter",
           "Entity B PSK lookups by outcome: held key, fetched from a MAF or MEF, joined a running fetch, "
           "refused from the negative cache, refused");
  const std::vector<std::pair<const char*, std::uint64_t>> outcomes = {
      {"cache_hit", k.cache_hits}, {"fetched_maf", k.maf_fetches}, {"fetched_mef", k.mef_fetches},
      {"joined", k.joined},        {"negative_hit", k.negative_hits}, {"refused", k.refusals}};
  for (const auto& [o, n] : outcomes) w.sample({{"role", "cse"}, {"outcome", o}}, n);
  w.family("m2msec_kc_pushed_total", "counter", "Kc keys a MAF pushed at key registration");
  w.sample({{"role", "cse"}}, k.pushed);
  w.family("m2msec_kc_push_requests_total", "counter",
           "MAF Key Push requests that carried at least one key Entity B took (one key, or a batch of several)");
  w.sample({{"role", "cse"}}, k.push_requests);
  w.family("m2msec_kc_deregistered_total", "counter",
           "Kc keys Entity B de-registered at their MAF as their last connection ended");
  w.sample({{"role", "cse"}}, k.deregistered);
  w.family("m2msec_kc_dereg_requests_total", "counter",
           "MAF Key De-Registration requests Entity B sent (one key, or a batch of several)");
  w.sample({{"role", "cse"}}, k.dereg_requests);
  return w.text();
}

CseServer::~CseServer() {
  admin_.reset();
  revoker_.reset();
  // No new request from any listener; the pool's jobs may still reply
  // (to closed sessions), so it is joined before the listeners go.
  if (gateway_listener_) gateway_listener_->stop();
  if (listeners_) listeners_->stop();
  forward_pool_.reset();
  pool_.reset();
  gateway_listener_.reset();
}

}  // namespace m2msec::entityb
