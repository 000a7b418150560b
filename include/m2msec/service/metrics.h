// m2msec/service/metrics.h: the metric families every role shares, for
// its admin listener's /metrics (service/admin.h). Names and labels are
// listed in docs/operations.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "m2msec/link/link.h"
#include "m2msec/service/admin.h"
#include "m2msec/store/records.h"

namespace m2msec::service {

// write_process_metrics: m2msec_build_info{version} and
// m2msec_start_time_seconds (when this process started serving: restarts
// show as jumps).
void write_process_metrics(MetricsWriter& w, const std::string& role);

// process_start_time returns the unix time of its first call; the roles
// call it when they start.
std::int64_t process_start_time();

// write_store_metrics: the store's write path (group commit).
void write_store_metrics(MetricsWriter& w, const std::string& role, const store::WriteStats& s);

// NamedLink is one of a role's links ("keys", "feeds") and its name.
using NamedLink = std::pair<std::string, const link::Link*>;

// write_link_metrics: calls, handshakes and rejections per link, and each
// peer's pool (connections idle and busy, calls in flight, breaker).
void write_link_metrics(MetricsWriter& w, const std::string& role, const std::vector<NamedLink>& links);

}  // namespace m2msec::service
