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
#include "m2msec/service/admin.h"
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
  if (!l.dtls_listen.empty()) {  // UDP: no connect probe
    j["dtls"] = {{"listen", l.dtls_listen}, {"binding", proto::dtls_binding_name(l.dtls_binding)}};
  }
  return j;
}

template <typename Cfg, typename Open, typename Fill>
void store_status(nlohmann::json& j, const Cfg& cfg, const std::string& db_name, Open open, Fill fill, bool& healthy) {
  if (!service::store_exists(cfg.store, cfg.data_dir, db_name, cfg.kek_file)) {
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

// fixed_admin returns the role's admin address if it has a fixed port, or
// "" (off, or port 0: chosen at start, so unknown here).
std::string fixed_admin(const service::ListenerSettings& l) {
  if (l.admin_listen == "off") return "";
  auto ep = service::parse_endpoint(l.admin_listen);
  if (!ep || ep->port == 0) return "";
  return l.admin_listen;
}

// admin_status asks the role's admin listener: /readyz, then /metrics,
// summarised. No database is opened and no handshake made.
nlohmann::json admin_status(const std::string& ep, bool& healthy) {
  nlohmann::json j = {{"listen", ep}};
  auto ready = service::admin_get(ep, "/readyz");
  if (!ready) {
    j["up"] = false;
    j["error"] = ready.error().message();
    healthy = false;
    return j;
  }
  j["up"] = true;
  j["ready"] = ready->status == 200;
  std::string why = ready->body;
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  j["readiness"] = why;
  if (ready->status != 200) healthy = false;
  auto text = service::admin_get(ep, "/metrics");
  if (!text || text->status != 200) {
    j["metrics_error"] = text ? "HTTP " + std::to_string(text->status) : text.error().message();
    return j;
  }
  auto samples = service::parse_metrics(text->body);
  if (!samples) {
    j["metrics_error"] = samples.error().message();
    return j;
  }
  auto sum = [&](std::string_view name) {
    double v = 0;
    for (const auto& m : *samples) {
      if (m.name == name) v += m.value;
    }
    return v;
  };
  nlohmann::json m;
  m["sessions"] = static_cast<std::uint64_t>(sum("m2msec_sessions_total"));
  m["sessions_open"] = static_cast<std::int64_t>(sum("m2msec_sessions_open"));
  m["handshake_failures"] = static_cast<std::uint64_t>(sum("m2msec_handshake_failures_total"));
  nlohmann::json grants = nlohmann::json::object();
  for (const auto& s : *samples) {
    if (s.name != "m2msec_key_grants_total") continue;
    auto kind = s.labels.find("kind");
    const std::string k = kind == s.labels.end() ? "" : kind->second;
    grants[k] = grants.value(k, std::uint64_t{0}) + static_cast<std::uint64_t>(s.value);
  }
  m["grants"] = std::move(grants);
  m["refusals"] = static_cast<std::uint64_t>(sum("m2msec_refusals_total"));
  m["revocations"] = static_cast<std::uint64_t>(sum("m2msec_revocations_total"));
  const double batches = sum("m2msec_store_batches_total");
  if (batches > 0 || sum("m2msec_store_writes_total") > 0) {
    const double writes = sum("m2msec_store_writes_total");
    m["store"] = {{"writes", static_cast<std::uint64_t>(writes)},
                  {"write_failures", static_cast<std::uint64_t>(sum("m2msec_store_write_failures_total"))},
                  {"groups", static_cast<std::uint64_t>(batches)},
                  {"mean_group", batches > 0 ? writes / batches : 0.0},
                  {"mean_commit_ms", batches > 0 ? sum("m2msec_store_commit_seconds_total") / batches * 1000 : 0.0}};
  }
  m["link_breakers_open"] = static_cast<std::uint64_t>(sum("m2msec_link_breaker_open"));
  j["metrics"] = std::move(m);
  return j;
}

void print_admin(const nlohmann::json& a) {
  std::cout << "  admin " << a["listen"].get<std::string>();
  if (!a["up"].get<bool>()) {
    std::cout << " DOWN (" << a["error"].get<std::string>() << ")";
    return;
  }
  std::cout << (a["ready"].get<bool>() ? " ready" : " NOT READY (" + a["readiness"].get<std::string>() + ")");
  if (!a.contains("metrics")) return;
  const auto& m = a["metrics"];
  std::cout << "\n    sessions " << m["sessions"].dump() << " (" << m["sessions_open"].dump() << " open), handshake failures "
            << m["handshake_failures"].dump() << ", grants";
  if (m["grants"].empty()) std::cout << " none";
  for (auto& [k, v] : m["grants"].items()) std::cout << " " << k << " " << v.dump();
  std::cout << ", refusals " << m["refusals"].dump() << ", revocations " << m["revocations"].dump();
  if (m.contains("store")) {
    const auto& st = m["store"];
    char buf[128];
    std::snprintf(buf, sizeof buf, "%.1f writes per group, %.2f ms per commit", st["mean_group"].get<double>(),
                  st["mean_commit_ms"].get<double>());
    std::cout << "\n    store " << st["writes"].dump() << " writes (" << st["write_failures"].dump() << " failed) in "
              << st["groups"].dump() << " groups: " << buf;
  }
  if (m["link_breakers_open"].get<std::uint64_t>() > 0) {
    std::cout << "\n    link breakers open: " << m["link_breakers_open"].dump();
  }
}

void print_text(const nlohmann::json& j) {
  for (const char* role : {"mef", "maf", "cse"}) {
    if (!j.contains(role)) continue;
    const auto& r = j[role];
    std::cout << role << " " << r["fqdn"].get<std::string>();
    if (r.contains("mas_id")) std::cout << "  mas " << r["mas_id"].get<std::string>();
    if (r.contains("admin") && r["admin"].contains("up")) {
      print_admin(r["admin"]);
      std::cout << "\n";
      continue;
    }
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
    if (r.contains("admin")) std::cout << "\n  (" << r["admin"]["note"].get<std::string>() << ")";
    std::cout << "\n";
  }
}

int run_status(Context& ctx, const std::string& config) {
  auto a = load_all_in_one(config);
  if (!a) return usage_error(a.error());
  nlohmann::json j = nlohmann::json::object();
  bool healthy = true;
  // A role with a fixed admin port is asked over it; the others are
  // probed the old way (a TCP connection, the store file opened read-only).
  auto via_admin = [&](const char* role, const service::ListenerSettings& l) {
    const std::string ep = fixed_admin(l);
    if (ep.empty()) return false;
    j[role] = {{"fqdn", l.fqdn}, {"admin", admin_status(ep, healthy)}};
    return true;
  };
  const char* kNote = "no fixed admin port: set admin_listen = \"127.0.0.1:<port>\" for readiness and metrics";
  if (a->mef && !via_admin("mef", a->mef->listen)) {
    j["mef"] = listener_status(a->mef->listen);
    j["mef"]["admin"] = {{"note", kNote}};
    store_status(j["mef"], *a->mef, "mef.db", mef::open_mef_store, [](store::Store& db, nlohmann::json& s) {
      if (auto c = db.mef().counts()) {
        s["active_enrolees"] = c->active_enrolees;
        s["removed_enrolees"] = c->removed_enrolees;
        s["enrolments"] = c->enrolments;
      }
    }, healthy);
  }
  if (a->maf && via_admin("maf", a->maf->listen)) j["maf"]["mas_id"] = a->maf->mas_id;
  if (a->maf && !j.contains("maf")) {
    j["maf"] = listener_status(a->maf->listen);
    j["maf"]["admin"] = {{"note", kNote}};
    j["maf"]["mas_id"] = a->maf->mas_id;  // the key store's identity (seed 004)
    store_status(j["maf"], *a->maf, "maf.db", maf::open_maf_store, [](store::Store& db, nlohmann::json& s) {
      if (auto c = db.maf().counts()) {
        s["clients"] = c->clients;
        s["kc_keys"] = c->kc_keys;
      }
    }, healthy);
  }
  if (a->cse && !via_admin("cse", a->cse->listen)) {
    j["cse"] = listener_status(a->cse->listen);
    j["cse"]["admin"] = {{"note", kNote}};
  }
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
      "Status of the servers a config describes. A role with a fixed admin_listen port is asked over its admin "
      "listener (/readyz, and a summary of /metrics: sessions, grants, refusals, store commits); the others are "
      "probed: listeners accepting connections, store counts and integrity. Never a key. Exit 1 if anything is "
      "down, not ready or damaged.");
  cmd->add_option("--config", config, "TOML file with [mef], [maf] and/or [cse] tables")->required();
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_status(ctx, config); }; });
}

}  // namespace m2msec::cli
