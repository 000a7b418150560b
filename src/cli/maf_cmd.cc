// maf_cmd.cc: "m2msec maf serve" and the MAF operator commands.
#include <iostream>

#include "cli.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/endpoint.h"
#include "m2msec/maf/maf.h"
#include "serve_util.h"
#include "store_views.h"

namespace m2msec::cli {
namespace {

struct MafOpts {
  std::string config, log_level = "info", after;
  std::size_t limit = 100;
};

// open_store opens the MAF store of |config| for a listing. A bad config
// is a usage error (exit 2), a missing or unreadable store a failure
// (exit 1); the exit code is in |exit_code| when it returns no store.
// Nothing is created.
std::unique_ptr<store::Store> open_store(const std::string& config, int& exit_code) {
  auto file = service::ConfigFile::load(config);
  auto cfg = file ? maf::load_maf_config(*file) : std::unexpected(file.error());
  if (!cfg) {
    exit_code = usage_error(cfg.error());
    return nullptr;
  }
  auto db = open_existing_maf(*cfg);
  if (!db) {
    exit_code = failure(db.error());
    return nullptr;
  }
  return std::move(*db);
}

int list_clients(Context& ctx, const MafOpts& o) {
  int exit_code = kExitOk;
  auto db = open_store(o.config, exit_code);
  if (!db) return exit_code;
  auto paged = page_through<store::MafClientSummary>(
      o.limit, o.after, [&](const store::Page& p) { return db->maf().list_clients(p); },
      [](const store::MafClientSummary& c) { return c.entity_id; });
  if (!paged) return failure(paged.error());
  return print_page(
      ctx, "clients", *paged,
      [](const store::MafClientSummary& r) {
        return nlohmann::json{{"km_id", r.km_id},
                              {"entity_id", r.entity_id},
                              {"source", store::km_source_name(r.source)},
                              {"expires_at", opt(r.expires_at)},
                              {"expires", opt_time(r.expires_at)},
                              {"registered_at", r.registered_at},
                              {"registered", format_utc(r.registered_at)},
                              {"app_id", opt(r.app_id)}};
      },
      {"ENTITY", "KMID", "SOURCE", "APP-ID", "EXPIRES", "REGISTERED"},
      [](const store::MafClientSummary& r) {
        return std::vector<std::string>{printable_text(r.entity_id), printable_text(r.km_id),
                                        std::string(store::km_source_name(r.source)),
                                        r.app_id ? printable_text(*r.app_id) : "-",
                                        r.expires_at ? format_utc(*r.expires_at) : "-", format_utc(r.registered_at)};
      });
}

// list_keys: a Kc lives as long as its connection (seed 000); once the
// device's session closes, Entity B de-registers it and it leaves the list.
int list_keys(Context& ctx, const MafOpts& o) {
  int exit_code = kExitOk;
  auto db = open_store(o.config, exit_code);
  if (!db) return exit_code;
  auto paged = page_through<store::KcSummary>(
      o.limit, o.after, [&](const store::Page& p) { return db->maf().list_kc(p); },
      [](const store::KcSummary& k) { return k.kc_id; });
  if (!paged) return failure(paged.error());
  return print_page(
      ctx, "keys", *paged,
      [](const store::KcSummary& r) {
        return nlohmann::json{{"kc_id", r.kc_id},
                              {"entity_a_id", r.entity_a_id},
                              {"targets", r.targets},
                              {"expires_at", r.expires_at},
                              {"expires", format_utc(r.expires_at)},
                              {"created_at", r.created_at},
                              {"created", format_utc(r.created_at)}};
      },
      {"KCID", "ENTITY A", "TARGETS", "EXPIRES", "CREATED"},
      [](const store::KcSummary& r) {
        std::string targets;
        for (const std::string& t : r.targets) targets += (targets.empty() ? "" : ",") + printable_text(t);
        return std::vector<std::string>{printable_text(r.kc_id), printable_text(r.entity_a_id),
                                        targets.empty() ? "-" : targets, format_utc(r.expires_at),
                                        format_utc(r.created_at)};
      });
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
    add_json_flag(c, ctx);
  }
  add_paging_options(clients, o.limit, o.after, "clients", "entity ID");
  add_paging_options(keys, o.limit, o.after, "keys", "KcID");
  clients->callback([&ctx] { ctx.run = [&ctx] { return list_clients(ctx, o); }; });
  keys->callback([&ctx] { ctx.run = [&ctx] { return list_keys(ctx, o); }; });
  add_maf_client_commands(maf, ctx);
}

}  // namespace m2msec::cli
