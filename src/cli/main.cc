// main.cc: the m2msec command line, one binary for every role.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "m2msec/core/printable.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {

int usage_error(const std::string& message) {
  std::fprintf(stderr, "m2msec: error: %s\n", message.c_str());
  return kExitUsage;
}

int usage_error(const Error& err) { return usage_error(err.message()); }

int failure(const Error& err) {
  std::fprintf(stderr, "m2msec: error: %s\n", err.message().c_str());
  return kExitFailure;
}

// Stored text may predate today's validation (a KpmID that is not UTF-8):
// nlohmann's dump() would throw on it, so such bytes become U+FFFD.
void print_json(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);  // empty last cells leave no trailing blanks
    std::cout << line << "\n";
  }
}

void add_json_flag(CLI::App* cmd, Context& ctx) {
  cmd->add_flag("--json", ctx.json, "Print one JSON object on stdout instead of text");
}

}  // namespace m2msec::cli

int main(int argc, char** argv) {
  using namespace m2msec::cli;
  // Before any thread starts (service/runtime.h says why). Under a
  // sanitizer, whose allocator replaces glibc's, it has no effect.
  m2msec::service::tune_allocator_for_serving();
  CLI::App app{
      "m2msec: oneM2M service-layer security (TS-0003).\n"
      "The MEF, the MAF and Entity B (servers and operator commands), the Enrolee and Entity A (enrol, associate),\n"
      "key derivations and identifiers. Start with 'm2msec demo' or 'm2msec serve' (README.md).\n"
      "Secrets are read from files (mode 0600) or stdin ('-'), never from arguments.",
      "m2msec"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "m2msec " M2MSEC_VERSION);
  Context ctx;
  add_derive_commands(app, ctx);
  add_id_commands(app, ctx);
  add_mef_commands(app, ctx);
  add_enrol_command(app, ctx);
  add_maf_commands(app, ctx);
  add_cse_commands(app, ctx);
  add_associate_command(app, ctx);
  add_serve_command(app, ctx);
  add_demo_command(app, ctx);
  add_operator_commands(app, ctx);
  add_state_init_command(app, ctx);  // after it: adds "state init" to its "state" group
  add_status_command(app, ctx);
  add_audit_command(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    usage_error(what);
    std::fprintf(stderr, "Run with --help for more information.\n");
    return kExitUsage;
  }
  if (!ctx.run) return usage_error("no command given; run with --help");
  // The CLI's exception barrier: a library that throws (nlohmann on an odd
  // file, the allocator) ends the command with one line, not an abort.
  try {
    return ctx.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "m2msec: error: internal error: %s\n", m2msec::printable(e.what(), 256).c_str());
    return kExitFailure;
  } catch (...) {
    std::fprintf(stderr, "m2msec: error: internal error\n");
    return kExitFailure;
  }
}
