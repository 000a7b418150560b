#include "m2msec/service/metrics.h"

#include "m2msec/core/endpoint.h"

namespace m2msec::service {

std::int64_t process_start_time() {
  static const std::int64_t started = now_unix();
  return started;
}

void write_process_metrics(MetricsWriter& w, const std::string& role) {
  w.family("m2msec_build_info", "gauge", "the m2msec version serving (always 1)");
  w.sample({{"role", role}, {"version", M2MSEC_VERSION}}, std::uint64_t{1});
  w.family("m2msec_start_time_seconds", "gauge", "unix time this process started serving");
  w.sample({{"role", role}}, static_cast<double>(process_start_time()));
}

void write_store_metrics(MetricsWriter& w, const std::string& role, const store::WriteStats& s) {
  const MetricsWriter::Labels r{{"role", role}};
  w.family("m2msec_store_transactions_total", "counter", "store transactions committed (one flush each)");
  w.sample({{"role", role}, {"durability", "full"}}, s.transactions - s.relaxed_transactions);
  w.sample({{"role", role}, {"durability", "relaxed"}}, s.relaxed_transactions);
  w.family("m2msec_store_writes_total", "counter", "store write operations");
  w.sample(r, s.ops);
  w.family("m2msec_store_write_failures_total", "counter", "store write operations that failed or were refused");
  w.sample(r, s.ops_failed);
  w.family("m2msec_store_commit_failures_total", "counter", "store transactions that could not commit");
  w.sample(r, s.commit_failures);
  w.family("m2msec_store_batches_total", "counter",
           "groups of writes committed together (writes / batches: the mean group size)");
  w.sample(r, s.batches);
  w.family("m2msec_store_commit_seconds_total", "counter",
           "time spent writing and committing the groups, flush included (/ batches: the mean commit latency)");
  w.sample(r, static_cast<double>(s.commit_us) / 1e6);
  w.family("m2msec_store_largest_batch", "gauge", "largest group of writes committed together since start");
  w.sample(r, s.largest_batch);
}

void write_link_metrics(MetricsWriter& w, const std::string& role, const std::vector<NamedLink>& links) {
  std::vector<std::pair<std::string, link::LinkStats>> stats;
  std::vector<std::pair<std::string, std::vector<link::PeerState>>> peers;
  for (const auto& [name, l] : links) {
    if (l == nullptr) continue;
    stats.emplace_back(name, l->stats());
    peers.emplace_back(name, l->peers());
  }
  if (stats.empty()) return;
  w.family("m2msec_link_calls_total", "counter", "calls to other servers over the service links");
  for (const auto& [name, s] : stats) w.sample({{"role", role}, {"link", name}}, s.calls);
  w.family("m2msec_link_handshakes_total", "counter", "link connections opened (certificate handshakes)");
  for (const auto& [name, s] : stats) w.sample({{"role", role}, {"link", name}}, s.handshakes);
  w.family("m2msec_link_reused_total", "counter", "calls served on a pooled connection");
  for (const auto& [name, s] : stats) w.sample({{"role", role}, {"link", name}}, s.reused);
  w.family("m2msec_link_rejects_total", "counter", "calls refused at once: breaker open or too many in flight");
  for (const auto& [name, s] : stats) {
    w.sample({{"role", role}, {"link", name}, {"reason", "breaker"}}, s.breaker_rejects);
    w.sample({{"role", role}, {"link", name}, {"reason", "busy"}}, s.busy_rejects);
  }
  w.family("m2msec_link_broken_total", "counter", "link connections dropped after a failure");
  for (const auto& [name, s] : stats) w.sample({{"role", role}, {"link", name}}, s.broken);
  w.family("m2msec_link_connections", "gauge", "link connections per peer, idle or busy");
  for (const auto& [name, ps] : peers) {
    for (const auto& p : ps) {
      w.sample({{"role", role}, {"link", name}, {"peer", p.fqdn}, {"state", "idle"}}, p.idle);
      w.sample({{"role", role}, {"link", name}, {"peer", p.fqdn}, {"state", "busy"}}, p.open - p.idle);
    }
  }
  w.family("m2msec_link_in_flight", "gauge", "calls admitted per peer");
  for (const auto& [name, ps] : peers) {
    for (const auto& p : ps) w.sample({{"role", role}, {"link", name}, {"peer", p.fqdn}}, p.in_flight);
  }
  w.family("m2msec_link_breaker_open", "gauge", "1 while calls to the peer fail at once");
  for (const auto& [name, ps] : peers) {
    for (const auto& p : ps) {
      w.sample({{"role", role}, {"link", name}, {"peer", p.fqdn}}, std::uint64_t{p.breaker_open ? 1u : 0u});
    }
  }
}

}  // namespace m2msec::service
