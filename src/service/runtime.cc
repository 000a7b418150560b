#include "m2msec/service/runtime.h"

#include <malloc.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <charconv>

#include "m2msec/core/ids.h"
#include "m2msec/core/printable.h"
#include "m2msec/core/thread.h"

#include <spdlog/spdlog.h>

namespace m2msec::service {

bool tune_allocator_for_serving() {
  // Setting either threshold also turns glibc's dynamic adjustment off.
  const bool trim = mallopt(M_TRIM_THRESHOLD, 32 << 20) == 1;
  const bool mmap = mallopt(M_MMAP_THRESHOLD, 4 << 20) == 1;
  return trim && mmap;
}

struct WorkerPool::Impl {
  Impl(unsigned n, std::string thread_name) : pool(n == 0 ? 1 : n), name(std::move(thread_name)) {}
  boost::asio::thread_pool pool;
  const std::string name;
};

WorkerPool::WorkerPool(unsigned threads, std::string name)
    : impl_(std::make_unique<Impl>(threads, std::move(name))) {}

WorkerPool::~WorkerPool() { impl_->pool.join(); }

void WorkerPool::post(std::move_only_function<void()> job) {
  // The pool's exception barrier: a job that throws is logged once and
  // dropped; a Reply it held answers 5000 as it is destroyed.
  boost::asio::post(impl_->pool, [job = std::move(job), &name = impl_->name]() mutable {
    // Named once per thread, for top -H and perf.
    static thread_local const bool named = (set_thread_name(name), true);
    (void)named;
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("worker: job failed: {}", printable(e.what()));
    } catch (...) {
      spdlog::error("worker: job failed with a non-standard exception");
    }
  });
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

Status check_anchor_role(const tls::PeerIdentity& peer, tls::AnchorRole required) {
  if (peer.kind != tls::PeerIdentity::Kind::certificate) {
    return fail(Errc::certificate_rejected, "peer did not present a certificate");
  }
  if (required == tls::AnchorRole::none || peer.anchor_role != required) {
    const auto named = [](tls::AnchorRole r) {
      switch (r) {
        case tls::AnchorRole::infrastructure:
          return std::string("an infrastructure trust anchor (trust_anchors)");
        case tls::AnchorRole::device:
          return std::string("a device trust anchor (device_trust_anchors)");
        case tls::AnchorRole::none:
        default:
          return std::string("no configured trust anchor set");
      }
    };
    return fail(Errc::certificate_rejected,
                "certificate chains to " + named(peer.anchor_role) + ", not to " + named(required));
  }
  return {};
}

Result<std::string> peer_entity_id(const tls::PeerIdentity& peer, std::string_view sp_domain,
                                   tls::AnchorRole required) {
  if (Status st = check_anchor_role(peer, required); !st) return std::unexpected(st.error());
  // AE-ID certificate: the absolute AE-ID, exactly.
  const std::string prefix = "//" + std::string(sp_domain) + "/";
  for (const std::string& uri : peer.san_uris) {
    if (uri.size() <= prefix.size() || !iequals(std::string_view(uri).substr(0, prefix.size()), prefix)) continue;
    auto id = EntityId::parse(uri);
    if (!id) continue;
    const std::string relative = uri.substr(prefix.size() - 1);  // "/S…" or "/<cse>/C…"
    const std::size_t last = relative.rfind('/');
    const char stem = relative[last + 1];
    const bool s_type = last == 0 && stem == 'S';
    const bool c_type = last != 0 && relative.find('/', 1) == last && stem == 'C';
    if (s_type || c_type) return relative;
  }
  // CSE-ID certificate: the CSE-ID's public domain name.
  const std::string suffix = "." + std::string(sp_domain);
  for (const std::string& dns : peer.dns_names) {
    if (dns.size() > suffix.size() && iequals(std::string_view(dns).substr(dns.size() - suffix.size()), suffix)) {
      const std::string label = dns.substr(0, dns.size() - suffix.size());
      if (label.find('.') == std::string::npos) return "/" + label;
    }
  }
  return fail(Errc::peer_name_mismatch,
              "certificate names no absolute AE-ID of " + std::string(sp_domain) + " and no CSE-ID under it");
}

bool peer_has_fqdn(const tls::PeerIdentity& peer, std::string_view fqdn, tls::AnchorRole required) {
  if (!check_anchor_role(peer, required)) return false;
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
