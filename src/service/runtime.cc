#include "m2msec/service/runtime.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <charconv>

#include "m2msec/core/ids.h"
#include "m2msec/core/printable.h"

#include <spdlog/spdlog.h>

namespace m2msec::service {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct WorkerPool::Impl {
  explicit Impl(unsigned n) : pool(n == 0 ? 1 : n) {}
  boost::asio::thread_pool pool;
};

WorkerPool::WorkerPool(unsigned threads) : impl_(std::make_unique<Impl>(threads)) {}

WorkerPool::~WorkerPool() { impl_->pool.join(); }

void WorkerPool::post(std::move_only_function<void()> job) {
  // The pool's exception barrier: a job that throws is logged once and
  // dropped; a Reply it held answers 5000 as it is destroyed.
  boost::asio::post(impl_->pool, [job = std::move(job)]() mutable {
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("worker: job failed: {}", printable(e.what()));
    } catch (...) {
      spdlog::error("worker: job failed with a non-standard exception");
    }
  });
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (text.starts_with("[")) {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return fail(Errc::invalid_argument, "want [v6addr]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(Errc::invalid_argument, "want host:port, got '" + std::string(text) + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc{} || p != port.data() + port.size() || value > 65535) {
    return fail(Errc::invalid_argument, "want host:port with port 0..65535, got '" + std::string(text) + "'");
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

Result<std::string> cse_public_domain_name(std::string_view cse_id, std::string_view sp_domain) {
  auto id = EntityId::parse(cse_id);
  if (!id || id->kind() != EntityKind::cse || !cse_id.starts_with("/") || cse_id.starts_with("//")) {
    return fail(Errc::invalid_identifier, "not an SP-relative CSE-ID: " + std::string(cse_id));
  }
  std::string fqdn = std::string(cse_id.substr(1)) + "." + std::string(sp_domain);
  if (!Fqdn::parse(fqdn)) return fail(Errc::invalid_identifier, "CSE-ID has no DNS form: " + std::string(cse_id));
  return fqdn;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}
}  // namespace

Result<std::string> peer_entity_id(const tls::PeerIdentity& peer, std::string_view sp_domain) {
  if (peer.kind != tls::PeerIdentity::Kind::certificate) {
    return fail(Errc::peer_name_mismatch, "peer did not present a certificate");
  }
  if (!peer.san_uris.empty()) return peer.san_uris.front();
  const std::string suffix = "." + std::string(sp_domain);
  for (const std::string& dns : peer.dns_names) {
    if (dns.size() > suffix.size() && iequals(std::string_view(dns).substr(dns.size() - suffix.size()), suffix)) {
      const std::string label = dns.substr(0, dns.size() - suffix.size());
      if (label.find('.') == std::string::npos) return "/" + label;
    }
  }
  return fail(Errc::peer_name_mismatch, "certificate names no CSE-ID under " + std::string(sp_domain));
}

bool peer_has_fqdn(const tls::PeerIdentity& peer, std::string_view fqdn) {
  if (peer.kind != tls::PeerIdentity::Kind::certificate) return false;
  for (const std::string& dns : peer.dns_names) {
    if (iequals(dns, fqdn)) return true;
  }
  return false;
}

}  // namespace m2msec::service

namespace m2msec::service {

Result<std::int64_t> parse_duration(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_argument, "empty duration");
  std::int64_t mult = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      mult = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      mult = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      mult = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc{} || p != text.data() + text.size() || n <= 0 ||
      n > 100LL * 365 * 86400 / mult) {
    return fail(Errc::invalid_argument, "duration must look like 3600, 90m, 12h or 30d");
  }
  return n * mult;
}

}  // namespace m2msec::service
