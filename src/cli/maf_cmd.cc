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

// open_store opens the MAF store of |config| for a listing; a bad config
// is a usage error (exit 2), a missing or unreadable store a failure
// (exit 1). Nothing is created.
Result<std::unique_ptr<store::Store>> open_store(const std::string& config, int& exit_code) {
  auto file = service::ConfigFile::load(config);
  auto cfg = file ? maf::load_maf_config(*file) : std::unexpected(file.error());
  if (!cfg) {
    exit_code = usage_error(cfg.error());
    return std::unexpected(cfg.error());
  }
  auto db = open_existing_maf(*cfg);
  if (!db) exit_code = failure(db.error());
  return db;
}

nlohmann::json opt_time(const std::optional<std::int64_t>& t) { return t ? nlohmann::json(format_utc(*t)) : nullptr; }

int list_clients(Context& ctx, const MafOpts& o) {
  if (o.limit == 0) return usage_error("--limit must be at least 1");
  int exit_code = kExitOk;
  auto db = open_store(o.config, exit_code);
  if (!db) return exit_code;
  auto paged = page_through<store::MafClientSummary>(
      o.limit, o.after, [&](const store::Page& p) { return (*db)->maf().list_clients(p); },
      [](const store::MafClientSummary& c) { return c.entity_id; });
  if (!paged) return failure(paged.error());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : paged->rows) {
      arr.push_back({{"km_id", r.km_id},
                     {"entity_id", r.entity_id},
                     {"source", store::km_source_name(r.source)},
                     {"expires_at", r.expires_at ? nlohmann::json(*r.expires_at) : nlohmann::json()},
                     {"expires", opt_time(r.expires_at)},
                     {"registered_at", r.registered_at},
                     {"registered", format_utc(r.registered_at)},
                     {"app_id", r.app_id ? nlohmann::json(*r.app_id) : nlohmann::json()}});
    }
    print_json({{"clients", arr},
                {"count", paged->rows.size()},
                {"next_after", paged->next ? nlohmann::json(*paged->next) : nlohmann::json()}});
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {{"ENTITY", "KMID", "SOURCE", "APP-ID", "EXPIRES", "REGISTERED"}};
  for (const auto& r : paged->rows) {
    table.push_back({printable_text(r.entity_id), printable_text(r.km_id), std::string(store::km_source_name(r.source)),
                     r.app_id ? printable_text(*r.app_id) : "-", r.expires_at ? format_utc(*r.expires_at) : "-",
                     format_utc(r.registered_at)});
  }
  print_table(table);
  more_follow("clients", paged->next);
  return kExitOk;
}

int list_keys(Context& ctx, const MafOpts& o) {
  if (o.limit == 0) return usage_error("--limit must be at least 1");
  int exit_code = kExitOk;
  auto db = open_store(o.config, exit_code);
  if (!db) return exit_code;
  auto paged = page_through<store::KcSummary>(
      o.limit, o.after, [&](const store::Page& p) { return (*db)->maf().list_kc(p); },
      [](const store::KcSummary& k) { return k.kc_id; });
  if (!paged) return failure(paged.error());
  if (ctx.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : paged->rows) {
      arr.push_back({{"kc_id", r.kc_id},
                     {"entity_a_id", r.entity_a_id},
                     {"targets", r.targets},
                     {"expires_at", r.expires_at},
                     {"expires", format_utc(r.expires_at)},
                     {"created_at", r.created_at},
                     {"created", format_utc(r.created_at)}});
    }
    print_json({{"keys", arr},
                {"count", paged->rows.size()},
                {"next_after", paged->next ? nlohmann::json(*paged->next) : nlohmann::json()}});
    return kExitOk;
  }
  // A Kc lives as long as its connection (seed 000): once the device's
  // session closes, Entity B de-registers it and it leaves this list.
  std::vector<std::vector<std::string>> table = {{"KCID", "ENTITY A", "TARGETS", "EXPIRES", "CREATED"}};
  for (const auto& r : paged->rows) {
    std::string targets;
    for (const std::string& t : r.targets) targets += (targets.empty() ? "" : ",") + printable_text(t);
    table.push_back({printable_text(r.kc_id), printable_text(r.entity_a_id), targets.empty() ? "-" : targets,
                     format_utc(r.expires_at), format_utc(r.created_at)});
  }
  print_table(table);
  more_follow("keys", paged->next);
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
    c->add_option("--limit", o.limit, "At most this many rows (default 100)");
    add_json_flag(c, ctx);
  }
  clients->add_option("--after", o.after, "Start after this entity ID (paging)");
  keys->add_option("--after", o.after, "Start after this KcID (paging)");
  clients->callback([&ctx] { ctx.run = [&ctx] { return list_clients(ctx, o); }; });
  keys->callback([&ctx] { ctx.run = [&ctx] { return list_keys(ctx, o); }; });
  add_maf_client_commands(maf, ctx);
}

}  // namespace m2msec::cli
