// m2msec/service/admin.h: a role's admin listener, for load balancers,
// orchestrators and Prometheus (docs/operations.md "Admin listener").
//
// Plain HTTP/1.1 on a separate port, loopback by default (it carries no
// secret and needs no client authentication, so it must not face the
// devices' network):
//   GET /healthz  200 "ok": the process is alive and its admin thread runs.
//   GET /readyz   200 "ready": the listeners are up and the store answers;
//                 503 with the reason otherwise, and while the process is
//                 draining after SIGTERM (so a load balancer stops sending
//                 new connections before the listeners close).
//   GET /metrics  200, the Prometheus text exposition format 0.0.4.
// Any other path is 404; any other method 405. Requests are bounded (8 KiB
// of headers, no body, 10 s to send a request, 64 connections); anything
// else is refused and closed, and never affects the role's own listeners.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::service {

// AdminHandlers are the role's answers. Both run on the admin thread and
// must be quick (no network call).
struct AdminHandlers {
  std::function<Status()> ready;          // empty: always ready (unless draining)
  std::function<std::string()> metrics;   // the exposition text; empty: none
};

class AdminServer {
 public:
  // start binds |listen| ("host:port"; port 0 picks a free one) and serves
  // on its own thread. |role| names the thread's log lines. Fails with
  // Errc::invalid_argument (bad endpoint) or Errc::io_error (bind).
  static Result<std::unique_ptr<AdminServer>> start(const std::string& listen, std::string role,
                                                    AdminHandlers handlers);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  std::uint16_t port() const;
  // set_draining makes /readyz answer 503 "draining" from now on.
  void set_draining();
  bool draining() const;

  struct Impl;  // opaque

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// start_admin_listener is AdminServer::start, or null when |listen| is
// "off". Errors name the setting ("admin_listen ...").
Result<std::unique_ptr<AdminServer>> start_admin_listener(const std::string& listen, std::string role,
                                                          AdminHandlers handlers);

// AdminReply is an admin listener's answer.
struct AdminReply {
  int status = 0;
  std::string body;
};

// admin_get sends "GET |path|" to the admin listener at |endpoint|
// ("host:port", an IP literal) and returns the answer, within |timeout|
// for the whole exchange. Errc::connect_failed, Errc::timeout or
// Errc::malformed_message.
Result<AdminReply> admin_get(const std::string& endpoint, const std::string& path,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// MetricSample is one sample line of an exposition text.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// parse_metrics reads the samples of a Prometheus text exposition (as
// MetricsWriter writes it); comment lines are skipped. Errc::malformed_message
// for a line it cannot read.
Result<std::vector<MetricSample>> parse_metrics(std::string_view text);

// MetricsWriter builds the Prometheus text exposition format (0.0.4):
// each family once with its HELP and TYPE lines, then its samples. Label
// values are escaped (backslash, double quote, newline).
class MetricsWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // family starts a metric family; |type| is "counter" or "gauge".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // sample adds one sample of the current family.
  void sample(const Labels& labels, double value);
  void sample(const Labels& labels, std::uint64_t value);
  const std::string& text() const { return out_; }

 private:
  void write_labels(const Labels& labels);
  std::string out_;
  std::string name_;
};

// Counters is a thread-safe set of labelled counters (a map from a label
// set to a count), for what a role counts as it happens (handshake
// failures by reason, audit events by kind).
class Counters {
 public:
  using Key = std::vector<std::string>;  // label values, in the family's label order
  void add(const Key& key, std::uint64_t n = 1);
  std::map<Key, std::uint64_t> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<Key, std::uint64_t> counts_;
};

}  // namespace m2msec::service
