#include <spdlog/spdlog.h>

#include "m2msec/mef/mef.h"

namespace m2msec::mef {

Result<std::unique_ptr<MefServer>> MefServer::start(MefConfig cfg) {
  std::unique_ptr<MefServer> s(new MefServer());
  auto st = open_mef_store(cfg, /*create_kek=*/true);
  if (!st) return std::unexpected(st.error());
  s->store_ = std::move(*st);
  s->pool_ = std::make_unique<service::WorkerPool>(cfg.workers);
  s->service_ = std::make_unique<MefService>(cfg, *s->store_, *s->pool_);
  service::ListenerHandlers h;
  MefService* svc = s->service_.get();
  h.psk_lookup = [svc](const tls::PskRequest& r, std::function<void(Result<SecretBytes>)> done) {
    svc->psk_lookup(r, std::move(done));
  };
  h.client_auth = tls::ClientAuth::optional;
  h.handler = [svc](const proto::Request& r, std::shared_ptr<tls::Session> ss, proto::Reply reply) {
    svc->handle(r, std::move(ss), std::move(reply));
  };
  h.on_handshake_error = [](const Error& e) { spdlog::info("mef: handshake failed: {}", e.message()); };
  auto l = service::Listeners::start(cfg.listen, std::move(h));
  if (!l) return std::unexpected(l.error());
  s->listeners_ = std::move(*l);
  return s;
}

MefServer::~MefServer() {
  if (listeners_) listeners_->stop();
  pool_.reset();  // drain queued work before the store closes
}

}  // namespace m2msec::mef
