// status_cmd.cc: "m2msec status", the state of every server a config file
// describes: is each listener accepting connections, and what do the
// stores hold (counts and an integrity check). No secret is read.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "all_in_one.h"
#include "cli.h"
#include "m2msec/service/runtime.h"
#include "m2msec/store/listing.h"

namespace m2msec::cli {
namespace {

// tcp_reachable tries a TCP connection to "host:port" for up to 1 s.
bool tcp_reachable(const std::string& listen) {
  auto ep = service::parse_endpoint(listen);
  if (!ep || ep->port == 0) return false;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(ep->host.c_str(), std::to_string(ep->port).c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (addrinfo* a = res; a != nullptr && !ok; a = a->ai_next) {
    const int s = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) continue;
    if (::connect(s, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, 1000) == 1 && ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(s);
  }
  ::freeaddrinfo(res);
  return ok;
}

nlohmann::json listener_status(const service::ListenerSettings& l) {
  nlohmann::json j = {{"fqdn", l.fqdn}};
  if (!l.tls_listen.empty()) j["tls"] = {{"listen", l.tls_listen}, {"up", tcp_reachable(l.tls_listen)}};
  if (!l.dtls_listen.empty()) j["dtls"] = {{"listen", l.dtls_listen}};  // UDP: no connect probe
  return j;
}

template <typename Cfg, typename Open, typename Fill>
void store_status(nlohmann::json& j, const Cfg& cfg, const std::string& db_name, Open open, Fill fill, bool& healthy) {
  if (!std::filesystem::exists(cfg.data_dir + "/" + db_name)) {
    j["store"] = {{"exists", false}};
    return;
  }
  auto db = open(cfg, false);
  if (!db) {
    j["store"] = {{"exists", true}, {"error", db.error().message()}};
    healthy = false;
    return;
  }
  nlohmann::json s = {{"exists", true}};
  const Status integrity = (*db)->check_integrity();
  s["integrity"] = integrity ? "ok" : integrity.error().message();
  healthy = healthy && integrity.has_value();
  fill(**db, s);
  j["store"] = std::move(s);
}

void print_text(const nlohmann::json& j) {
  for (const char* role : {"mef", "maf", "cse"}) {
    if (!j.contains(role)) continue;
    const auto& r = j[role];
    std::cout << role << " " << r["fqdn"].get<std::string>();
    if (r.contains("mas_id")) std::cout << "  mas " << r["mas_id"].get<std::string>();
    if (r.contains("tls")) {
      std::cout << "  tls " << r["tls"]["listen"].get<std::string>() << (r["tls"]["up"].get<bool>() ? " up" : " DOWN");
    }
    if (r.contains("store")) {
      const auto& s = r["store"];
      if (!s["exists"].get<bool>()) {
        std::cout << "  store: none yet";
      } else if (s.contains("error")) {
        std::cout << "  store: " << s["error"].get<std::string>();
      } else {
        std::cout << "  store: integrity " << s["integrity"].get<std::string>();
        for (auto& [k, v] : s.items()) {
          if (v.is_number()) std::cout << ", " << k << " " << v.dump();
        }
      }
    }
    std::cout << "\n";
  }
}

int run_status(Context& ctx, const std::string& config) {
  auto a = load_all_in_one(config, nullptr);
  if (!a) return usage_error(a.error());
  nlohmann::json j = nlohmann::json::object();
  bool healthy = true;
  if (a->mef) {
    j["mef"] = listener_status(a->mef->listen);
    store_status(j["mef"], *a->mef, "mef.db", mef::open_mef_store, [](store::Store& db, nlohmann::json& s) {
      if (auto c = db.mef().counts()) {
        s["active_enrolees"] = c->active_enrolees;
        s["removed_enrolees"] = c->removed_enrolees;
        s["enrolments"] = c->enrolments;
      }
    }, healthy);
  }
  if (a->maf) {
    j["maf"] = listener_status(a->maf->listen);
    j["maf"]["mas_id"] = a->maf->mas_id;  // the key store's identity (seed 004)
    store_status(j["maf"], *a->maf, "maf.db", maf::open_maf_store, [](store::Store& db, nlohmann::json& s) {
      if (auto c = db.maf().counts()) {
        s["clients"] = c->clients;
        s["kc_keys"] = c->kc_keys;
      }
    }, healthy);
  }
  if (a->cse) j["cse"] = listener_status(a->cse->listen);
  for (auto& [role, r] : j.items()) {
    if (r.contains("tls") && !r["tls"]["up"].get<bool>()) healthy = false;
  }
  j["healthy"] = healthy;
  if (ctx.json) {
    print_json(j);
  } else {
    print_text(j);
    std::cout << (healthy ? "healthy" : "NOT healthy") << "\n";
  }
  return healthy ? kExitOk : kExitFailure;
}

}  // namespace

void add_status_command(CLI::App& app, Context& ctx) {
  static std::string config;
  CLI::App* cmd = app.add_subcommand(
      "status",
      "Status of the servers a config describes: listeners accepting connections, store counts and integrity "
      "(never a key). Exit 1 if anything is down or damaged.");
  cmd->add_option("--config", config, "TOML file with [mef], [maf] and/or [cse] tables")->required();
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_status(ctx, config); }; });
}

}  // namespace m2msec::cli
