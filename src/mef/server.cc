#include "m2msec/crypto/derive.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/metrics.h"

namespace m2msec::mef {

Result<std::unique_ptr<MefServer>> MefServer::start(MefConfig cfg) {
  std::unique_ptr<MefServer> s(new MefServer());
  auto st = open_mef_store(cfg, /*create_kek=*/true);
  if (!st) return std::unexpected(st.error());
  s->store_ = std::move(*st);
  auto audit = service::AuditLog::open(cfg.audit_file, "mef");
  if (!audit) return std::unexpected(audit.error());
  s->audit_ = std::move(*audit);
  s->pool_ = std::make_unique<service::WorkerPool>(cfg.workers, "mef-worker");
  s->service_ = std::make_unique<MefService>(cfg, *s->store_, *s->pool_);
  MefService* svc = s->service_.get();
  svc->set_audit(s->audit_.get());
  service::ListenerHandlers h = service::handlers_for(svc, "mef", std::string(crypto::kBootstrapExporterLabel));
  if (cfg.bsf.enabled) {
    // Ub: the device has no credential yet, so the MEF also serves
    // server-authenticated sessions; on them only the BSF answers (every
    // Mmef request needs an authenticated peer).
    h.client_auth = tls::ClientAuth::optional;
    h.http_limits.allow_plain = true;
  }
  auto l = service::Listeners::start(cfg.listen, std::move(h));
  if (!l) return std::unexpected(l.error());
  s->listeners_ = std::move(*l);
  store::Store* st_raw = s->store_.get();
  s->purger_ = std::make_unique<service::ExpiryPurger>(
      "mef", cfg.purge_interval, [st_raw](std::int64_t now) -> Result<std::size_t> {
        auto rows = st_raw->mef().purge_expired(now);
        if (!rows) return rows;
        auto entries = st_raw->revocations().purge_expired(now);
        if (!entries) return entries;
        return *rows + *entries;
      });
  s->drain_ = cfg.listen.drain;
  auto admin = service::start_role_admin(cfg.listen, "mef", s->listeners_.get(), s->store_.get(),
                                         [self = s.get()] { return self->metrics(); });
  if (!admin) return std::unexpected(admin.error());
  s->admin_ = std::move(*admin);
  return s;
}

std::string MefServer::metrics() const {
  service::MetricsWriter w;
  listeners_->write_metrics(w, "mef");
  audit_->write_metrics(w);
  service::write_store_metrics(w, "mef", store_->write_stats());
  return w.text();
}

MefServer::~MefServer() {
  admin_.reset();
  purger_.reset();
  if (listeners_) listeners_->stop();
  pool_.reset();  // drain queued work before the store closes
}

}  // namespace m2msec::mef
