// maf_cmd.cc: "m2msec maf serve" and the MAF operator commands.
#include <iostream>

#include "cli.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/primitive.h"
#include "serve_util.h"

namespace m2msec::cli {
namespace {

struct MafOpts {
  std::string config, log_level = "info", after;
  std::size_t limit = 100;
};

Result<std::unique_ptr<store::Store>> open_store(const std::string& config) {
  auto file = service::ConfigFile::load(config);
  if (!file) return std::unexpected(file.error());
  auto cfg = maf::load_maf_config(*file);
  if (!cfg) return std::unexpected(cfg.error());
  return maf::open_maf_store(*cfg, /*create_kek=*/false);
}

std::string when(const std::optional<std::int64_t>& t) { return t ? proto::format_time(*t) : "-"; }

int list_clients(Context& ctx, const MafOpts& o) {
  auto db = open_store(o.config);
  if (!db) return usage_error(db.error());
  auto rows = (*db)->maf().list_clients(store::Page{o.after, o.limit});
  if (!rows) return usage_error(rows.error());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : *rows) {
    arr.push_back({{"km_id", r.km_id}, {"entity_id", r.entity_id}, {"source", store::km_source_name(r.source)},
                   {"expires_at", r.expires_at ? nlohmann::json(*r.expires_at) : nlohmann::json()},
                   {"registered_at", r.registered_at},
                   {"app_id", r.app_id ? nlohmann::json(*r.app_id) : nlohmann::json()}});
    if (!ctx.json) {
      std::cout << r.entity_id << "  " << r.km_id << "  " << store::km_source_name(r.source) << "  expires "
                << when(r.expires_at) << (r.app_id ? "  app " + *r.app_id : "") << "\n";
    }
  }
  if (ctx.json) print_json({{"clients", arr}});
  return kExitOk;
}

int list_keys(Context& ctx, const MafOpts& o) {
  auto db = open_store(o.config);
  if (!db) return usage_error(db.error());
  auto rows = (*db)->maf().list_kc(store::Page{o.after, o.limit});
  if (!rows) return usage_error(rows.error());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : *rows) {
    arr.push_back({{"kc_id", r.kc_id}, {"entity_a_id", r.entity_a_id}, {"targets", r.targets},
                   {"expires_at", r.expires_at}, {"created_at", r.created_at}});
    if (!ctx.json) {
      std::cout << r.kc_id << "  " << r.entity_a_id << " -> " << (r.targets.empty() ? "-" : r.targets.front())
                << "  expires " << proto::format_time(r.expires_at) << "\n";
    }
  }
  if (ctx.json) print_json({{"keys", arr}});
  return kExitOk;
}

}  // namespace

void add_maf_client_commands(CLI::App* maf, Context& ctx);

void add_maf_commands(CLI::App& app, Context& ctx) {
  static MafOpts o;
  CLI::App* maf = app.add_subcommand("maf", "M2M Authentication Function (with its MAS key store)");
  maf->require_subcommand(1);
  CLI::App* serve = maf->add_subcommand("serve", "Run the MAF until SIGINT/SIGTERM");
  serve->add_option("--config", o.config, "TOML file with a [maf] table")->required();
  serve->add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off");
  add_json_flag(serve, ctx);
  serve->callback([&ctx] {
    ctx.run = [&ctx] { return serve_role<maf::MafServer>(ctx, "maf", o.config, o.log_level, maf::load_maf_config); };
  });
  CLI::App* clients = maf->add_subcommand("clients", "List MAF clients (root keys Km, never shown) with expiry");
  CLI::App* keys = maf->add_subcommand("keys", "List registered connection keys (Kc, never shown) with targets");
  for (CLI::App* c : {clients, keys}) {
    c->add_option("--config", o.config, "TOML file with a [maf] table")->required();
    c->add_option("--limit", o.limit, "Rows per page (1..1000)");
    c->add_option("--after", o.after, "Continue after this key");
    add_json_flag(c, ctx);
  }
  clients->callback([&ctx] { ctx.run = [&ctx] { return list_clients(ctx, o); }; });
  keys->callback([&ctx] { ctx.run = [&ctx] { return list_keys(ctx, o); }; });
  add_maf_client_commands(maf, ctx);
}

}  // namespace m2msec::cli
