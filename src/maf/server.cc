#include "m2msec/crypto/derive.h"
#include "m2msec/maf/maf.h"
#include "m2msec/service/metrics.h"

namespace m2msec::maf {
namespace {

// purge_maf deletes expired Km and Kc rows and expired revocation entries.
Result<std::size_t> purge_maf(store::Store& st, std::int64_t now) {
  auto rows = st.maf().purge_expired(now);
  if (!rows) return rows;
  auto entries = st.revocations().purge_expired(now);
  if (!entries) return entries;
  return *rows + *entries;
}

}  // namespace

Result<std::unique_ptr<MafServer>> MafServer::start(MafConfig cfg) {
  std::unique_ptr<MafServer> s(new MafServer());
  // One client context and connection pool for every call to the MEFs and
  // Entity Bs, built before the first handshake needs it.
  if (!cfg.mefs.empty() || !cfg.cses.empty()) {
    auto lo = link_options(cfg);
    if (!lo) return std::unexpected(lo.error());
    auto link = link::Link::create(std::move(*lo));
    if (!link) return std::unexpected(link.error());
    s->link_ = std::move(*link);
  }
  if (!cfg.mefs.empty()) {
    auto lo = link_options(cfg);
    if (!lo) return std::unexpected(lo.error());
    lo->pool_size = 1;
    auto link = link::Link::create(std::move(*lo));
    if (!link) return std::unexpected(link.error());
    s->feed_link_ = std::move(*link);
  }
  auto st = open_maf_store(cfg, /*create_kek=*/true);
  if (!st) return std::unexpected(st.error());
  s->store_ = std::move(*st);
  // The MAS-ID (seed 004) names this key store in every audit record.
  auto audit = service::AuditLog::open(cfg.audit_file, "maf", cfg.mas_id);
  if (!audit) return std::unexpected(audit.error());
  s->audit_ = std::move(*audit);
  s->pool_ = std::make_unique<service::WorkerPool>(cfg.workers, "maf-worker");
  s->service_ = std::make_unique<MafService>(cfg, *s->store_, *s->pool_, s->link_.get());
  MafService* svc = s->service_.get();
  svc->set_audit(s->audit_.get());
  if (s->feed_link_) svc->follow_revocations(*s->feed_link_);
  service::ListenerHandlers h = service::handlers_for(svc, "maf", std::string(crypto::kConnectionExporterLabel));
  h.on_session_start = [svc](service::AuthContext& c) { svc->on_session_start(c); };
  h.track_sessions = true;  // a revocation closes the sessions using the key
  auto l = service::Listeners::start(cfg.listen, std::move(h));
  if (!l) return std::unexpected(l.error());
  s->listeners_ = std::move(*l);
  service::Listeners* listeners = s->listeners_.get();
  svc->set_session_closer(
      [listeners](const std::function<bool(const service::AuthContext&)>& m) { return listeners->close_sessions(m); });
  store::Store* st_raw = s->store_.get();
  s->purger_ = std::make_unique<service::ExpiryPurger>("maf", cfg.purge_interval, [st_raw](std::int64_t now) {
    return purge_maf(*st_raw, now);
  });
  // Revocations: the MEFs' feeds and this MAF's own log, every
  // revocation_poll, the first round at once.
  s->revoker_ = std::make_unique<service::Periodic>("maf-revoke", cfg.revocation_poll, [svc] { svc->sync_revocations(); });
  s->drain_ = cfg.listen.drain;
  auto admin = service::start_role_admin(cfg.listen, "maf", s->listeners_.get(), s->store_.get(),
                                         [self = s.get()] { return self->metrics(); });
  if (!admin) return std::unexpected(admin.error());
  s->admin_ = std::move(*admin);
  return s;
}

std::string MafServer::metrics() const {
  service::MetricsWriter w;
  listeners_->write_metrics(w, "maf");
  audit_->write_metrics(w);
  service::write_store_metrics(w, "maf", store_->write_stats());
  service::write_link_metrics(w, "maf", {{"keys", link_.get()}, {"feeds", feed_link_.get()}});
  const MafService::PushStats push = service_->push_stats();
  w.family("m2msec_kc_push_queued", "gauge", "Kc keys waiting for the push in flight to their Entity B");
  w.sample({{"role", "maf"}}, push.queued);
  w.family("m2msec_kc_push_requests_sent_total", "counter", "MAF Key Push requests sent (one key, or a batch of several)");
  w.sample({{"role", "maf"}}, push.requests);
  w.family("m2msec_kc_pushes_sent_total", "counter", "Kc keys sent in MAF Key Push requests");
  w.sample({{"role", "maf"}}, push.keys);
  const MafService::FetchStats fetch = service_->fetch_stats();
  w.family("m2msec_km_fetch_queued", "gauge", "KeIDs waiting for the Km fetch in flight to their MEF");
  w.sample({{"role", "maf"}}, fetch.queued);
  w.family("m2msec_km_fetch_requests_sent_total", "counter",
           "Km fetch requests sent to the MEFs (one KeID, or a batch of several)");
  w.sample({{"role", "maf"}}, fetch.requests);
  w.family("m2msec_km_fetches_sent_total", "counter", "KeIDs sent in Km fetch requests");
  w.sample({{"role", "maf"}}, fetch.keys);
  return w.text();
}

MafServer::~MafServer() {
  admin_.reset();
  revoker_.reset();
  purger_.reset();
  if (listeners_) listeners_->stop();
  if (service_) service_->close();  // store completions stop posting to the pool
  pool_.reset();
}

}  // namespace m2msec::maf
