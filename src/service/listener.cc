#include "m2msec/service/listener.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "m2msec/core/printable.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/crypto/derive.h"
#include "m2msec/service/metrics.h"
#include "m2msec/service/runtime.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::service {

std::function<void(const Error&)> log_handshake_failure(std::string role) {
  return [role = std::move(role)](const Error& e) { spdlog::info("{}: handshake failed: {}", role, printable(e.message(), 256)); };
}

void log_open_file_limit(const std::string& role) {
  auto limit = tls::raise_open_file_limit();
  if (!limit) {
    spdlog::warn("{}: open file limit unknown: {}", role, limit.error().message());
    return;
  }
  spdlog::info("{}: open file limit {} (each connection holds one)", role, *limit);
}

ListenerSettings read_listener_settings(ConfigTable& t, const std::string& default_tls) {
  ListenerSettings s;
  s.fqdn = t.str("fqdn", "", true);
  s.tls_listen = t.str("tls_listen", default_tls);
  s.dtls_listen = t.str("dtls_listen", "");
  s.certificate = t.path("certificate", "");
  s.private_key = t.path("private_key", "");
  s.trust_anchors = t.path("trust_anchors", "");
  s.device_trust_anchors = t.path("device_trust_anchors", "");
  s.threads = static_cast<unsigned>(t.integer("threads", 0, 0, 256));
  s.handshake_timeout = std::chrono::milliseconds(t.integer("handshake_timeout_ms", 10000, 100, 600000));
  s.flight_timeout = std::chrono::milliseconds(t.integer("flight_timeout_ms", 2000, 100, 600000));
  s.idle_timeout = std::chrono::milliseconds(t.integer("idle_timeout_ms", 60000, 100, 86400000));
  s.max_handshakes = static_cast<std::size_t>(t.integer("max_handshakes", 256, 1, 1000000));
  s.max_sessions = static_cast<std::size_t>(t.integer("max_sessions", 10000, 1, 10000000));
  s.dtls_mtu = static_cast<std::size_t>(t.integer("dtls_mtu", 1200, 256, 65507));
  s.require_extended_master_secret = t.boolean("require_extended_master_secret", true);
  s.admin_listen = t.str("admin_listen", "127.0.0.1:0");
  s.drain = std::chrono::milliseconds(t.integer("drain_ms", 0, 0, 600000));
  s.dtls_cookie_secret_file = t.path("dtls_cookie_secret_file", "");
  const std::string binding = t.str("dtls_binding", "auto");
  auto b = proto::parse_dtls_binding(binding);
  if (b) {
    s.dtls_binding = *b;
  } else {
    t.reject("dtls_binding", b.error().detail());
  }
  return s;
}

Status check_trust_anchor_sets(const ListenerSettings& s, const std::string& role) {
  if (s.trust_anchors.empty() || s.device_trust_anchors.empty()) return {};
  std::error_code ec;
  if (s.trust_anchors == s.device_trust_anchors ||
      std::filesystem::equivalent(s.trust_anchors, s.device_trust_anchors, ec)) {
    return fail(Errc::invalid_argument, role + ".device_trust_anchors: the same file as " + role +
                                            ".trust_anchors; a CA trusted for devices must not vouch for the "
                                            "MEF, the MAF or Entity B: give each set its own CA");
  }
  if (!std::filesystem::exists(s.trust_anchors, ec) || !std::filesystem::exists(s.device_trust_anchors, ec)) return {};
  auto sets = tls::load_role_trust_anchors(s.trust_anchors, s.device_trust_anchors);
  if (!sets) return fail(sets.error().code(), role + ": " + sets.error().detail());
  return {};
}

namespace {

// Label values of ListenerCounters::sessions, by index.
constexpr std::array<const char*, 3> kPeerKinds = {"psk", "certificate", "none"};
constexpr std::array<const char*, 2> kTransports = {"tls", "dtls"};

std::size_t transport_index(tls::Transport t) { return t == tls::Transport::tls ? 0 : 1; }

std::size_t peer_kind_index(tls::PeerIdentity::Kind k) {
  switch (k) {
    case tls::PeerIdentity::Kind::psk:
      return 0;
    case tls::PeerIdentity::Kind::certificate:
      return 1;
    default:
      return 2;
  }
}

// start_session computes the session's AuthContext (exporter output, the
// role's entity binding) once, then serves its requests with it. A role
// callback that throws closes this session only.
void start_session(const ListenerHandlers& h, const std::string& listener,
                   const std::shared_ptr<SessionReaper>& reaper, const std::shared_ptr<ListenerCounters>& counters,
                   std::size_t transport, proto::DtlsBinding binding, std::shared_ptr<tls::Session> session) {
  counters->sessions[transport][peer_kind_index(session->peer().kind)].fetch_add(1, std::memory_order_relaxed);
  auto ctx = std::make_shared<AuthContext>();
  try {
    ctx->peer = session->peer();
    if (ctx->peer.kind == tls::PeerIdentity::Kind::psk) ctx->key_id = ctx->peer.psk_identity;
    ctx->listener = listener;
    if (!h.export_label.empty()) {
      auto exported = session->export_keying_material(h.export_label, crypto::kExportedSize);
      if (!exported) {
        spdlog::warn("{}: key export failed: {}", h.role, exported.error().message());
        return session->close();
      }
      ctx->exported = std::move(*exported);
    }
    if (h.on_session_start) h.on_session_start(*ctx);
  } catch (const std::exception& e) {
    spdlog::error("{}: session start failed: {}", h.role, printable(e.what()));
    return session->close();
  }
  // A session lives no longer than the key it was authenticated with.
  if (ctx->key_expires_at) reaper->watch(session, *ctx->key_expires_at);
  AuthRef ref = std::move(ctx);
  // Tracked while it serves, so that a revocation can close it.
  const std::uint64_t token = h.track_sessions ? reaper->track(session, ref) : 0;
  ++counters->open;
  std::function<void()> on_close = [on_end = h.on_session_end, ref, reaper, token, counters] {
    --counters->open;
    if (token != 0) reaper->untrack(token);
    if (on_end) on_end(*ref);
  };
  proto::RequestHandler serve = [handler = h.handler, ref](const proto::Request& r, proto::Reply reply) {
    handler(ref, r, std::move(reply));
  };
  if (transport == transport_index(tls::Transport::dtls)) {
    return proto::serve_dtls(std::move(session), binding, std::move(serve), h.http_limits, std::move(on_close));
  }
  proto::serve_http(std::move(session), std::move(serve), h.http_limits, std::move(on_close));
}

Result<std::unique_ptr<tls::TlsServer>> start_one(const ListenerSettings& s, const ListenerHandlers& h,
                                                  tls::Transport transport, const std::string& listen,
                                                  std::shared_ptr<SessionReaper> reaper,
                                                  std::shared_ptr<ListenerCounters> counters) {
  const std::size_t t_index = transport_index(transport);
  const std::string transport_name = kTransports[t_index];
  auto ep = parse_endpoint(listen);
  if (!ep) return std::unexpected(ep.error());
  tls::ServerAuthority auth;
  auth.fqdn = s.fqdn;
  auth.psk_lookup = h.psk_lookup;
  if (!s.certificate.empty()) {
    auto ck = tls::load_certificate_key(s.certificate, s.private_key);
    if (!ck) return std::unexpected(ck.error());
    auth.certificate = *ck;
  }
  if (!s.trust_anchors.empty() || !s.device_trust_anchors.empty()) {
    auto ta = tls::load_role_trust_anchors(s.trust_anchors, s.device_trust_anchors);
    if (!ta) return std::unexpected(ta.error());
    auth.client_trust = *ta;
    auth.client_auth = h.client_auth;
  }
  tls::ServerOptions o;
  o.transport = transport;
  if (transport == tls::Transport::dtls && !s.dtls_cookie_secret_file.empty()) {
    auto secret = read_hex_key_file(s.dtls_cookie_secret_file);  // its errors name the file, never its bytes
    if (!secret) return fail(secret.error().code(), "dtls_cookie_secret_file: " + secret.error().detail());
    o.dtls_cookie_secret = std::make_shared<const SecretBytes>(std::move(*secret));
  }
  o.bind_address = ep->host;
  o.port = ep->port;
  o.authorities.push_back(std::move(auth));
  o.default_authority = s.fqdn;
  o.threads = s.threads;
  o.thread_name = h.role + (transport == tls::Transport::dtls ? "-dtls-io" : "-tls-io");  // "maf-tls-io"
  o.handshake_timeout = s.handshake_timeout;
  o.flight_timeout = s.flight_timeout;
  o.idle_timeout = s.idle_timeout;
  o.max_handshakes = s.max_handshakes;
  o.max_sessions = s.max_sessions;
  o.mtu = s.dtls_mtu;
  o.require_extended_master_secret = s.require_extended_master_secret;
  o.on_handshake_error = [log = h.on_handshake_error, counters, transport_name](const Error& e) {
    counters->failures.add({transport_name, std::string(error_name(e.code()))});
    if (log) log(e);
  };
  o.on_notice = [role = s.fqdn, transport_name](const Error& e) {
    spdlog::warn("{} ({}): {}", role, transport_name, printable(e.message(), 256));
  };
  const std::string listener = h.role + "/" + transport_name;
  o.on_session = [h, listener, reaper, counters, t_index, binding = s.dtls_binding](std::shared_ptr<tls::Session> session) {
    start_session(h, listener, reaper, counters, t_index, binding, std::move(session));
  };
  auto server = tls::TlsServer::create(std::move(o));
  if (!server) return std::unexpected(server.error());
  (*server)->start();
  return std::move(*server);
}

}  // namespace

Result<std::unique_ptr<Listeners>> Listeners::start(const ListenerSettings& s, ListenerHandlers h) {
  std::unique_ptr<Listeners> l(new Listeners());
  if (!s.require_extended_master_secret) {
    spdlog::warn("{}: require_extended_master_secret = false: peers without the RFC 7627 extended master secret "
                 "are admitted, and keys exported from their sessions are exposed to key synchronisation",
                 h.role);
  }
  if (!s.tls_listen.empty()) {
    auto srv = start_one(s, h, tls::Transport::tls, s.tls_listen, l->reaper_, l->counters_);
    if (!srv) return std::unexpected(srv.error());
    l->tls_ = std::move(*srv);
  }
  if (!s.dtls_listen.empty()) {
    auto srv = start_one(s, h, tls::Transport::dtls, s.dtls_listen, l->reaper_, l->counters_);
    if (!srv) return std::unexpected(srv.error());
    l->dtls_ = std::move(*srv);
  }
  if (!l->tls_ && !l->dtls_) return fail(Errc::invalid_argument, "neither tls_listen nor dtls_listen is set");
  l->serving_ = true;
  return l;
}

Listeners::~Listeners() { stop(); }

std::uint16_t Listeners::tls_port() const { return tls_ ? tls_->port() : 0; }
std::uint16_t Listeners::dtls_port() const { return dtls_ ? dtls_->port() : 0; }

std::size_t Listeners::close_sessions(const std::function<bool(const AuthContext&)>& match) {
  return reaper_->close_matching(match);
}

void Listeners::write_metrics(MetricsWriter& w, const std::string& role) const {
  w.family("m2msec_sessions_total", "counter", "(D)TLS sessions established, by transport and peer credential");
  for (std::size_t t = 0; t < kTransports.size(); ++t) {
    for (std::size_t p = 0; p < kPeerKinds.size(); ++p) {
      const std::uint64_t n = counters_->sessions[t][p].load(std::memory_order_relaxed);
      if (n > 0) w.sample({{"role", role}, {"transport", kTransports[t]}, {"peer", kPeerKinds[p]}}, n);
    }
  }
  w.family("m2msec_handshake_failures_total", "counter", "(D)TLS handshakes that failed, by transport and reason");
  for (const auto& [k, n] : counters_->failures.snapshot()) {
    w.sample({{"role", role}, {"transport", k[0]}, {"reason", k[1]}}, n);
  }
  w.family("m2msec_sessions_open", "gauge", "(D)TLS sessions open now");
  w.sample({{"role", role}}, static_cast<double>(counters_->open.load()));
}

Result<std::unique_ptr<AdminServer>> start_role_admin(const ListenerSettings& settings, const std::string& role,
                                                      const Listeners* listeners, store::Store* store,
                                                      std::function<std::string()> metrics) {
  (void)process_start_time();  // the role starts now
  AdminHandlers h;
  h.ready = [listeners, store]() -> Status {
    if (!listeners->serving()) return fail(Errc::connection_closed, "listeners stopped");
    if (store != nullptr) {
      if (Status ping = store->ping(); !ping) return fail(ping.error().code(), "store: " + ping.error().message());
    }
    return {};
  };
  h.metrics = [role, metrics = std::move(metrics)] {
    MetricsWriter w;
    write_process_metrics(w, role);
    return w.text() + (metrics ? metrics() : std::string());
  };
  return start_admin_listener(settings.admin_listen, role, std::move(h));
}

void Listeners::stop() {
  serving_ = false;
  if (tls_) tls_->stop();
  if (dtls_) dtls_->stop();
}

}  // namespace m2msec::service
