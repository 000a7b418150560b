#include "m2msec/proto/channel.h"

#include "m2msec/core/endpoint.h"
#include "m2msec/proto/coap_client.h"
#include "m2msec/proto/http_client.h"

namespace m2msec::proto {

std::string_view binding_name(Binding b) { return b == Binding::coap ? "coap" : "http"; }

Result<Binding> parse_binding(std::string_view text) {
  if (text == "http") return Binding::http;
  if (text == "coap") return Binding::coap;
  return fail(Errc::invalid_argument, "binding must be http or coap, got '" + std::string(text) + "'");
}

std::unique_ptr<Channel> open_channel(Binding binding, tls::TlsClient& conn, std::string host,
                                      std::chrono::milliseconds timeout) {
  if (binding == Binding::coap) return std::make_unique<CoapClient>(conn, timeout);
  return std::make_unique<HttpClient>(conn, std::move(host), timeout);
}

Result<ServiceAddress> parse_service_address(std::string_view text) {
  ServiceAddress out;
  std::string_view rest = text;
  if (const std::size_t sep = text.find("://"); sep != std::string_view::npos) {
    const std::string_view scheme = text.substr(0, sep);
    if (scheme == "coaps") {
      out.transport = tls::Transport::dtls;
      out.binding = Binding::coap;
    } else if (scheme == "https") {
      out.transport = tls::Transport::tls;
      out.binding = Binding::http;
    } else {
      return fail(Errc::invalid_argument, "unknown scheme '" + std::string(scheme) + "' (want coaps:// or https://)");
    }
    rest = text.substr(sep + 3);
    rest = rest.substr(0, rest.find('/'));
  }
  auto ep = parse_endpoint(rest);
  if (!ep) return std::unexpected(ep.error());
  if (ep->port == 0) return fail(Errc::invalid_argument, "port 0 in '" + std::string(text) + "'");
  out.host = ep->host;
  out.port = ep->port;
  return out;
}

std::string service_uri(const std::string& host, std::uint16_t port, tls::Transport t, Binding b) {
  const std::string hp = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  if (t == tls::Transport::dtls && b == Binding::coap) return "coaps://" + hp;
  if (t == tls::Transport::tls && b == Binding::http) return "https://" + hp;
  return hp;
}

}  // namespace m2msec::proto
