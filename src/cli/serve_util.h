// serve_util.h: helpers for the long-running "serve" commands.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace m2msec::cli {

// block_signals blocks SIGINT and SIGTERM in the calling thread and the
// threads it starts later. Call it first, before anything starts a thread
// (init_logging starts spdlog's flusher): a thread that leaves SIGTERM
// unblocked takes a signal the main thread is not waiting for at that
// moment, and SIGTERM's default action ends the process.
void block_signals();

// wait_for_signal waits for SIGINT or SIGTERM (blocked by block_signals)
// and returns its name.
std::string wait_for_signal();

// drain_then_stop logs the stop signal, runs every |drain| (each role's
// readiness turns to "draining"), and waits |drain_time| while the
// listeners keep serving, so that a load balancer stops sending new
// connections before they close.
void drain_then_stop(const std::string& who, const std::string& signal, const std::vector<std::function<void()>>& drain,
                     std::chrono::milliseconds drain_time);

// init_logging sets spdlog's level ("trace".."off") and a stderr sink with
// timestamps. Returns false for an unknown level.
bool init_logging(const std::string& level);

}  // namespace m2msec::cli

#include <spdlog/spdlog.h>

#include <iostream>

#include "cli.h"
#include "m2msec/service/config.h"
#include "m2msec/service/listener.h"

namespace m2msec::cli {

// serve_role loads |config| with |load| (a load_<role>_config function),
// starts |Server|, prints one ready line (JSON with --json), and runs until
// SIGINT/SIGTERM.
template <typename Server, typename LoadFn>
int serve_role(Context& ctx, const char* role, const std::string& config, const std::string& log_level, LoadFn load) {
  block_signals();  // before init_logging starts spdlog's flusher thread
  if (!init_logging(log_level)) return usage_error("unknown --log-level " + log_level);
  auto file = service::ConfigFile::load(config);
  if (!file) return usage_error(file.error());
  auto cfg = load(*file);
  if (!cfg) return usage_error(cfg.error());
  const std::string fqdn = cfg->listen.fqdn;
  service::log_open_file_limit(role);
  auto server = Server::start(std::move(*cfg));
  if (!server) return failure(server.error());
  // Entity B may also serve security gateways over plain HTTP.
  std::uint16_t gateway_port = 0;
  if constexpr (requires { (*server)->gateway_port(); }) gateway_port = (*server)->gateway_port();
  if (ctx.json) {
    nlohmann::json j = {{"role", role},
                        {"fqdn", fqdn},
                        {"tls_port", (*server)->tls_port()},
                        {"dtls_port", (*server)->dtls_port()},
                        {"admin_port", (*server)->admin_port()}};
    if (gateway_port != 0) j["gateway_port"] = gateway_port;
    print_json(j);
  } else {
    std::cout << role << " " << fqdn << " serving: tls port " << (*server)->tls_port() << ", dtls port "
              << (*server)->dtls_port() << ", admin port " << (*server)->admin_port();
    if (gateway_port != 0) std::cout << ", gateway port " << gateway_port << " (plain HTTP)";
    std::cout << std::endl;
  }
  const std::string signal = wait_for_signal();
  drain_then_stop(role, signal, {[&] { (*server)->drain(); }}, (*server)->drain_time());
  return kExitOk;
}

}  // namespace m2msec::cli
