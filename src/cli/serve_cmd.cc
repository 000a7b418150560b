// serve_cmd.cc: "m2msec serve", the MEF, the MAF and an Entity B in one
// process, from one config file, with a demo PKI made on first start.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "all_in_one.h"
#include "cli.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/maf/maf.h"
#include "m2msec/mef/mef.h"
#include "m2msec/tls/pki.h"
#include "serve_util.h"

namespace m2msec::cli {
namespace {

namespace fs = std::filesystem;

// issue_for makes the leaf certificate a role's config names, in the PKI
// directory, for the role's FQDN.
Status issue_for(const std::string& pki_dir, const std::string& certificate, const std::string& fqdn,
                 std::vector<std::string>& created) {
  if (certificate.empty()) return {};
  const fs::path p(certificate);
  if (fs::weakly_canonical(p.parent_path()) != fs::weakly_canonical(pki_dir)) {
    return fail(Errc::invalid_argument, certificate + ": a generated certificate must live in [pki].dir");
  }
  auto made = tls::issue_leaf(pki_dir, tls::LeafSpec{p.stem().string(), {fqdn}, {}, 825, "ca"});
  if (!made) return std::unexpected(made.error());
  if (*made) created.push_back(certificate);
  return {};
}

}  // namespace

Result<AllInOne> load_all_in_one(const std::string& path) {
  auto file = service::ConfigFile::load(path);
  if (!file) return std::unexpected(file.error());
  AllInOne a;
  if (file->has("mef")) {
    auto c = mef::load_mef_config(*file);
    if (!c) return std::unexpected(c.error());
    a.mef = std::move(*c);
  }
  if (file->has("maf")) {
    auto c = maf::load_maf_config(*file);
    if (!c) return std::unexpected(c.error());
    a.maf = std::move(*c);
  }
  if (file->has("cse")) {
    auto c = entityb::load_cse_config(*file);
    if (!c) return std::unexpected(c.error());
    a.cse = std::move(*c);
  }
  if (!a.mef && !a.maf && !a.cse) return fail(Errc::invalid_argument, path + ": no [mef], [maf] or [cse] table");
  if (file->has("pki")) {
    auto t = file->table("pki");
    a.pki_dir = t->path("dir", "", true);
    a.ca_name = t->str("ca_name", "m2msec demo CA");
    a.device_ca_name = t->str("device_ca_name", "m2msec demo device CA");
    if (auto st = t->finish(); !st) return std::unexpected(st.error());
    if (a.device_ca_name == a.ca_name) {
      return fail(Errc::invalid_argument, "pki.device_ca_name: must differ from pki.ca_name");
    }
  }
  return a;
}

Result<std::vector<std::string>> make_demo_pki(const AllInOne& a) {
  std::vector<std::string> created;
  if (a.pki_dir.empty()) return created;
  // Two roots (issue 11 item 3): ca.crt vouches for the servers
  // (trust_anchors), device-ca.crt for device certificates
  // (device_trust_anchors).
  for (const auto& [stem, name] : {std::pair{std::string("ca"), a.ca_name}, std::pair{std::string("device-ca"), a.device_ca_name}}) {
    const bool had = fs::exists(a.pki_dir + "/" + stem + ".crt");
    if (auto st = tls::ensure_ca(a.pki_dir, name, stem); !st) return std::unexpected(st.error());
    if (!had) created.push_back(a.pki_dir + "/" + stem + ".crt");
  }
  Status st;
  if (a.mef) st = issue_for(a.pki_dir, a.mef->listen.certificate, a.mef->listen.fqdn, created);
  if (st && a.maf) st = issue_for(a.pki_dir, a.maf->listen.certificate, a.maf->listen.fqdn, created);
  if (st && a.cse) st = issue_for(a.pki_dir, a.cse->listen.certificate, a.cse->listen.fqdn, created);
  if (!st) return std::unexpected(st.error());
  return created;
}

Result<RunningAllInOne> start_all_in_one(AllInOne a) {
  RunningAllInOne r;
  // The MAF and Entity B reach the others as clients, so the MEF starts
  // first and Entity B last; each makes its own KEK on first start.
  if (a.mef) {
    auto s = mef::MefServer::start(*a.mef);
    if (!s) return fail(s.error().code(), "mef: " + s.error().detail());
    r.mef = std::move(*s);
  }
  if (a.maf) {
    auto s = maf::MafServer::start(*a.maf);
    if (!s) return fail(s.error().code(), "maf: " + s.error().detail());
    r.maf = std::move(*s);
  }
  if (a.cse) {
    auto s = entityb::CseServer::start(*a.cse);
    if (!s) return fail(s.error().code(), "cse: " + s.error().detail());
    r.cse = std::move(*s);
  }
  return r;
}

RunningAllInOne::RunningAllInOne() = default;
RunningAllInOne::RunningAllInOne(RunningAllInOne&&) noexcept = default;
RunningAllInOne::~RunningAllInOne() {
  cse.reset();  // stop in reverse order of start
  maf.reset();
  mef.reset();
}

namespace {

int run_serve(Context& ctx, const std::string& config, const std::string& log_level) {
  block_signals();  // before init_logging starts spdlog's flusher thread
  if (!init_logging(log_level)) return usage_error("unknown --log-level " + log_level);
  auto a = load_all_in_one(config);
  if (!a) return usage_error(a.error());
  auto made = make_demo_pki(*a);
  if (!made) return usage_error(made.error());
  const std::vector<std::string>& created = *made;
  service::log_open_file_limit("all-in-one");
  std::vector<std::string> keks;
  for (const std::string& k : {a->mef ? a->mef->kek_file : "", a->maf ? a->maf->kek_file : ""}) {
    if (!k.empty() && !fs::exists(k)) keks.push_back(k);
  }
  nlohmann::json j = {{"role", "all-in-one"}};
  const std::string pki_dir = a->pki_dir;
  auto running = start_all_in_one(std::move(*a));
  if (!running) return failure(running.error());
  auto ports = [](const auto& server) {
    return nlohmann::json{
        {"tls_port", server->tls_port()}, {"dtls_port", server->dtls_port()}, {"admin_port", server->admin_port()}};
  };
  if (running->mef) j["mef"] = ports(running->mef);
  if (running->maf) j["maf"] = ports(running->maf);
  if (running->cse) j["cse"] = ports(running->cse);
  j["created"] = created;
  j["created_keks"] = keks;
  j["pki_dir"] = pki_dir;
  if (ctx.json) {
    print_json(j);
  } else {
    for (const auto& c : created) std::cout << "created demo certificate " << c << "\n";
    for (const auto& k : keks) std::cout << "created key-encryption key " << k << " (mode 0600; keep it safe)\n";
    if (!pki_dir.empty()) {
      std::cout << "demo PKI in " << pki_dir << " (infrastructure trust anchor: " << pki_dir
                << "/ca.crt; device trust anchor: " << pki_dir << "/device-ca.crt)\n";
    }
    for (const char* role : {"mef", "maf", "cse"}) {
      if (j.contains(role)) {
        std::cout << role << " serving: tls port " << j[role]["tls_port"] << ", dtls port " << j[role]["dtls_port"]
                  << ", admin port " << j[role]["admin_port"] << "\n";
      }
    }
    std::cout << std::flush;
  }
  const std::string signal = wait_for_signal();
  // Every role drains at once, for the longest drain time any asks for.
  std::vector<std::function<void()>> drain;
  std::chrono::milliseconds drain_time{0};
  auto add = [&](auto& server) {
    if (!server) return;
    drain.push_back([s = server.get()] { s->drain(); });
    drain_time = std::max(drain_time, server->drain_time());
  };
  add(running->mef);
  add(running->maf);
  add(running->cse);
  drain_then_stop("all-in-one", signal, drain, drain_time);
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  static std::string config, log_level = "info";
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Run the MEF, the MAF and an Entity B in one process from one config (see examples/all-in-one.toml). "
      "With a [pki] table, a demo CA and the servers' certificates are created on first start.");
  cmd->add_option("--config", config, "TOML file with [mef], [maf], [cse] and optionally [pki] tables")->required();
  cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_serve(ctx, config, log_level); }; });
}

}  // namespace m2msec::cli
