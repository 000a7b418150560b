// cse_cmd.cc: "m2msec cse serve", the Entity B acceptor.
#include "cli.h"
#include "m2msec/entityb/entityb.h"
#include "serve_util.h"

namespace m2msec::cli {

void add_cse_commands(CLI::App& app, Context& ctx) {
  static std::string config, log_level = "info";
  CLI::App* cse = app.add_subcommand("cse", "Entity B: the (D)TLS acceptor a CSE runs in front of itself");
  cse->require_subcommand(1);
  CLI::App* serve = cse->add_subcommand(
      "serve",
      "Accept MAF-based (KcID), provisioned-key (KpsaID), GBA (B-TID) and certificate associations and serve the "
      "CSE behind them (CSEBase, AE, container, contentInstance, accessControlPolicy and group resources, every "
      "request decided by its access control policies; docs/cse.md), or relay to an upstream CSE "
      "([cse.upstream]), until SIGINT/SIGTERM");
  serve->add_option("--config", config, "TOML file with a [cse] table")->required();
  serve->add_option("--log-level", log_level, "trace|debug|info|warn|error|off");
  add_json_flag(serve, ctx);
  serve->callback([&ctx] {
    ctx.run = [&ctx] {
      return serve_role<entityb::CseServer>(ctx, "cse", config, log_level, entityb::load_cse_config);
    };
  });
}

}  // namespace m2msec::cli
