// m2msec/service/listener.h: the settings every m2msec server role shares
// (listen addresses, credentials, timeouts) and the (D)TLS listeners built
// from them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/proto/coap_server.h"
#include "m2msec/proto/http_server.h"
#include "m2msec/service/auth_context.h"
#include "m2msec/service/admin.h"
#include "m2msec/service/session_reaper.h"
#include "m2msec/service/config.h"
#include "m2msec/store/store.h"
#include "m2msec/tls/server.h"

namespace m2msec::service {

// ListenerSettings are read from a role's table:
//   fqdn, tls_listen, dtls_listen, certificate, private_key, trust_anchors,
//   device_trust_anchors, threads, handshake_timeout_ms, flight_timeout_ms, idle_timeout_ms,
//   max_handshakes, max_sessions, dtls_mtu, require_extended_master_secret,
//   admin_listen, drain_ms, dtls_cookie_secret_file, dtls_binding
struct ListenerSettings {
  std::string fqdn;
  std::string tls_listen;    // "host:port"; "" disables TLS
  std::string dtls_listen;   // "host:port"; "" disables DTLS
  std::string certificate;   // PEM; "" means PSK only
  std::string private_key;   // PEM, mode 0600
  // trust_anchors: PEM CA certificates that vouch for infrastructure
  // certificates (MEF, MAF, Entity B): infra peers connecting here, and
  // the servers this role calls. device_trust_anchors: PEM CA
  // certificates that vouch for device certificates (enrolees, Entity A)
  // connecting here. The listener accepts chains ending at either; the
  // session records which set (tls::PeerIdentity::anchor_role). One CA in
  // both is refused when the listener starts.
  std::string trust_anchors;
  std::string device_trust_anchors;
  unsigned threads = 0;
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds flight_timeout{2000};
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_handshakes = 256;
  std::size_t max_sessions = 10000;
  std::size_t dtls_mtu = 1200;
  // require_extended_master_secret: refuse peers without RFC 7627 (see
  // tls::ServerOptions); also applied to the role's calls to other servers.
  bool require_extended_master_secret = true;
  // admin_listen: the admin listener ("host:port", an IP literal; port 0
  // picks a free one, printed at start); "off" disables it. drain: after
  // SIGTERM, how long /readyz answers 503 "draining" while the listeners
  // keep serving, before the process stops.
  std::string admin_listen = "127.0.0.1:0";
  std::chrono::milliseconds drain{0};
  // dtls_cookie_secret_file: a 0600 file with the hex HMAC key of the
  // DTLS cookies (at least 16 bytes), the same file for every replica
  // behind one address; "" is a random key per process.
  std::string dtls_cookie_secret_file;
  // dtls_binding: what the DTLS listener speaks (proto::DtlsBinding):
  // "coap" (TS-0008), "http" (HTTP/1.1 inside DTLS records, m2msec's
  // legacy binding) or "auto" (the default: CoAP, or HTTP for a session
  // whose first datagram is an HTTP request, such as GBA's Ub).
  proto::DtlsBinding dtls_binding = proto::DtlsBinding::automatic;
};

// read_listener_settings reads the shared keys from |t| (the caller still
// calls t.finish()). |default_tls| is used when tls_listen is absent.
ListenerSettings read_listener_settings(ConfigTable& t, const std::string& default_tls);

// check_trust_anchor_sets refuses, at config load, a listener whose
// trust_anchors and device_trust_anchors name the same file, or (when both
// files exist already) share a CA certificate: a CA trusted for devices
// must not vouch for infrastructure. Files not yet there (a demo PKI made
// on first start) are checked when the listener starts. Fails with
// Errc::invalid_argument or Errc::invalid_credentials, prefixed "<role>.".
Status check_trust_anchor_sets(const ListenerSettings& s, const std::string& role);

// ListenerHandlers are what a role plugs into its listeners.
struct ListenerHandlers {
  std::string role;                   // "mef", "maf", "cse": log prefix and listener names
  tls::PskLookup psk_lookup;          // empty: no PSK suites
  // client_auth applies when trust anchors are configured: certificate
  // suites then need a verified client certificate (PSK suites carry none).
  tls::ClientAuth client_auth = tls::ClientAuth::required;
  // export_label, if set, is the RFC 5705 label whose 48-byte output the
  // listener exports once per session into AuthContext::exported.
  std::string export_label;
  ServiceHandler handler;
  std::function<void(const Error&)> on_handshake_error;
  // on_session_start, if set, runs once per authenticated session before
  // its first request is read; it may bind the session to an entity
  // (AuthContext::entity_id). After it the context is immutable.
  std::function<void(AuthContext&)> on_session_start;
  // on_session_end, if set, runs once when an authenticated session's
  // request loop ends (peer closed, idle timeout, bad request).
  std::function<void(const AuthContext&)> on_session_end;
  // track_sessions keeps every serving session findable by
  // Listeners::close_sessions (a role that revokes keys: the MAF, Entity
  // B); off, the handshake path pays nothing for it.
  bool track_sessions = false;
  // http_limits bound each session's HTTP reader; allow_plain lets plain
  // HTTP requests (no X-M2M-RI) reach the handler (the MEF's BSF).
  proto::HttpLimits http_limits;
};

// log_handshake_failure returns an on_handshake_error that logs at info
// level, prefixed with |role|.
std::function<void(const Error&)> log_handshake_failure(std::string role);

// log_open_file_limit raises the open file limit to its hard limit
// (tls::raise_open_file_limit) and logs the result, prefixed with |role|.
// Call once at start, before the listeners.
void log_open_file_limit(const std::string& role);

// handlers_for wires a role's service object (with psk_lookup(req, done)
// and handle(ctx, req, reply)) into ListenerHandlers. |svc| must outlive
// the listeners. |export_label| is the exporter label the role derives
// keys from ("" for none).
template <typename Service>
ListenerHandlers handlers_for(Service* svc, std::string role, std::string export_label = {}) {
  ListenerHandlers h;
  h.role = role;
  h.psk_lookup = [svc](const tls::PskRequest& r, std::function<void(Result<SecretBytes>)> done) {
    svc->psk_lookup(r, std::move(done));
  };
  h.client_auth = tls::ClientAuth::required;
  h.export_label = std::move(export_label);
  h.handler = [svc](const AuthRef& ctx, const proto::Request& r, proto::Reply reply) {
    svc->handle(ctx, r, std::move(reply));
  };
  h.on_handshake_error = log_handshake_failure(std::move(role));
  return h;
}

// ListenerCounters count what a role's listeners did since start: the
// sessions established (by transport "tls"/"dtls" and peer kind
// "psk"/"certificate"/"none"), the handshakes that failed (by transport and
// reason, an Errc name), and the sessions open now.
struct ListenerCounters {
  // sessions[transport][peer]: transport 0 tls, 1 dtls; peer 0 psk,
  // 1 certificate, 2 none. Plain atomics: counted on every handshake.
  std::array<std::array<std::atomic<std::uint64_t>, 3>, 2> sessions{};
  Counters failures;
  std::atomic<std::int64_t> open{0};
};

// Listeners owns the TLS and DTLS servers of one role.
class Listeners {
 public:
  // start builds and starts one server per configured address. Fails with
  // the first server's error (bind, credentials).
  static Result<std::unique_ptr<Listeners>> start(const ListenerSettings& s, ListenerHandlers h);
  ~Listeners();

  std::uint16_t tls_port() const;   // 0 if TLS is off
  std::uint16_t dtls_port() const;  // 0 if DTLS is off
  // close_sessions closes the serving sessions whose AuthContext |match|
  // accepts (see SessionReaper::close_matching); returns how many. Only
  // sessions of handlers with track_sessions are found.
  std::size_t close_sessions(const std::function<bool(const AuthContext&)>& match);
  void stop();
  // serving is true from start until stop.
  bool serving() const { return serving_.load(); }
  // write_metrics adds the listener families (m2msec_sessions_total,
  // m2msec_handshake_failures_total, m2msec_sessions_open) for |role|.
  void write_metrics(MetricsWriter& w, const std::string& role) const;

 private:
  Listeners() = default;
  std::atomic<bool> serving_{false};
  std::shared_ptr<ListenerCounters> counters_ = std::make_shared<ListenerCounters>();
  std::shared_ptr<SessionReaper> reaper_ = std::make_shared<SessionReaper>();
  std::unique_ptr<tls::TlsServer> tls_;
  std::unique_ptr<tls::TlsServer> dtls_;
};

// start_role_admin starts a role's admin listener (settings.admin_listen;
// null for "off"): ready while |listeners| serve and |store| (if not null)
// answers a ping; /metrics is |metrics|(). The pointers are borrowed and
// must outlive the returned server.
Result<std::unique_ptr<AdminServer>> start_role_admin(const ListenerSettings& settings, const std::string& role,
                                                      const Listeners* listeners, store::Store* store,
                                                      std::function<std::string()> metrics);

}  // namespace m2msec::service
