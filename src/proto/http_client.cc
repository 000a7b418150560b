#include "m2msec/proto/http_client.h"

namespace m2msec::proto {

namespace {
HttpLimits plain_allowed() {
  HttpLimits l;
  l.allow_plain = true;
  return l;
}
}  // namespace

HttpClient::HttpClient(tls::TlsClient& tls, std::string host, std::chrono::milliseconds timeout)
    : tls_(tls), host_(std::move(host)), timeout_(timeout), reader_(plain_allowed()) {}

Result<Response> HttpClient::call(Request req) {
  if (req.rqi.empty()) req.rqi = "m2msec-" + std::to_string(next_rqi_++);
  auto rsp = exchange(encode_request(req, host_));
  if (rsp && rsp->plain) return fail(Errc::malformed_message, "missing or bad X-M2M-RSC");
  return rsp;
}

Result<Response> HttpClient::call_plain(Request req) {
  if (!req.plain) return fail(Errc::invalid_argument, "not a plain request");
  auto plain = std::make_shared<PlainHttp>(*req.plain);
  plain->host = host_;
  req.plain = std::move(plain);
  auto text = encode_plain_request(req);
  if (!text) return std::unexpected(text.error());
  auto rsp = exchange(*text);
  if (rsp && !rsp->plain) return fail(Errc::malformed_message, "a oneM2M answer to a plain request");
  return rsp;
}

Result<Response> HttpClient::exchange(const std::string& text) {
  if (auto st = tls_.write_all({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, timeout_); !st) {
    return std::unexpected(st.error());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    auto rsp = reader_.next();
    if (!rsp) return std::unexpected(rsp.error());
    if (*rsp) return std::move(**rsp);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail(Errc::timeout, "waiting for response");
    auto bytes = tls_.read(64 * 1024, left);
    if (!bytes) return std::unexpected(bytes.error());
    if (auto st = reader_.feed(*bytes); !st) return std::unexpected(st.error());
  }
}

Status expect_success(const Response& rsp) {
  if (is_success(rsp.rsc)) return {};
  std::string detail = "RSC " + std::to_string(static_cast<int>(rsp.rsc));
  if (rsp.content.is_object() && rsp.content.contains("m2m:dbg") && rsp.content["m2m:dbg"].is_string()) {
    detail += ": " + rsp.content["m2m:dbg"].get<std::string>();
  }
  return fail(Errc::request_refused, detail);
}

}  // namespace m2msec::proto
