#include "m2msec/client/remote.h"

#include "m2msec/proto/http_client.h"
#include "m2msec/core/endpoint.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::client {

Result<RemotePeer> load_link(const std::string& certificate, const std::string& private_key,
                             const std::string& trust_anchors) {
  RemotePeer link;
  if (!certificate.empty()) {
    auto ck = tls::load_certificate_key(certificate, private_key);
    if (!ck) return std::unexpected(ck.error());
    link.certificate = *ck;
  }
  if (!trust_anchors.empty()) {
    auto ta = tls::load_trust_anchors(trust_anchors);
    if (!ta) return std::unexpected(ta.error());
    link.trust = *ta;
  }
  return link;
}

Result<proto::Response> call_remote(const RemotePeer& peer, proto::Request req) {
  auto ep = parse_endpoint(peer.address);
  if (!ep) return std::unexpected(ep.error());
  tls::ClientOptions o;
  o.host = ep->host;
  o.port = ep->port;
  o.sni = peer.fqdn;
  o.certificate = peer.certificate;
  o.trust = peer.trust;
  o.timeout = peer.timeout;
  auto conn = tls::TlsClient::connect(std::move(o));
  if (!conn) return std::unexpected(conn.error());
  proto::HttpClient http(*conn, peer.fqdn, peer.timeout);
  auto rsp = http.call(std::move(req));
  conn->close();
  return rsp;
}

}  // namespace m2msec::client
