// audit_cmd.cc: "m2msec audit", reading the roles' audit trails
// (docs/audit.md), and record_operator, which the operator commands use to
// append their actions.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "m2msec/core/printable.h"
#include "m2msec/entityb/entityb.h"
#include "m2msec/maf/maf.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {

bool record_operator(const std::string& audit_file, const std::string& role, const std::string& mas_id,
                     service::AuditEvent e) {
  if (audit_file.empty()) return true;
  auto log = service::AuditLog::open(audit_file, role, mas_id);
  if (!log) {
    failure(Error(Errc::io_error, "the action was done but not audited: " + log.error().message()));
    return false;
  }
  e.event = "operator";
  (*log)->record(e);
  if ((*log)->failed_writes() != 0) {
    failure(Error(Errc::io_error, "the action was done but not audited: cannot write " + audit_file));
    return false;
  }
  return true;
}

namespace {

struct AuditOpts {
  std::string config, role, since, entity, event;
};

struct Source {
  std::string role;
  std::string path;
};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// parse_since reads --since: Unix seconds ("1796000000"), an RFC 3339 UTC
// time ("2026-11-30T07:00:00Z") or a date ("2026-11-30", midnight UTC), or
// a duration with a unit ("30m", "12h", "7d") meaning that long ago.
Result<std::int64_t> parse_since(const std::string& text, std::int64_t now) {
  if (all_digits(text)) {
    if (text.size() > 12) return fail(Errc::invalid_argument, "--since: Unix time out of range");
    return std::stoll(text);
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  if (text.size() == 10 && std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &mo, &d) == 3) {
  } else if (text.size() == 20 && std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z) == 7 &&
             z == 'Z') {
  } else {
    auto ago = service::parse_duration(text);
    if (!ago) {
      return fail(Errc::invalid_argument,
                  "--since: want Unix seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or a duration such as 12h");
    }
    return now - *ago;
  }
  auto t = utc_to_unix(y, mo, d, h, mi, s);
  if (!t) return fail(Errc::invalid_argument, "--since: not a valid date or time");
  return *t;
}

// sources lists the audit files of the roles in |path| (no PKI is made,
// no store is opened).
Result<std::vector<Source>> sources(const std::string& path, const std::string& only) {
  auto file = service::ConfigFile::load(path);
  if (!file) return std::unexpected(file.error());
  std::vector<Source> out;
  if (file->has("mef") && (only.empty() || only == "mef")) {
    auto c = mef::load_mef_config(*file);
    if (!c) return std::unexpected(c.error());
    out.push_back({"mef", c->audit_file});
  }
  if (file->has("maf") && (only.empty() || only == "maf")) {
    auto c = maf::load_maf_config(*file);
    if (!c) return std::unexpected(c.error());
    out.push_back({"maf", c->audit_file});
  }
  if (file->has("cse") && (only.empty() || only == "cse")) {
    auto c = entityb::load_cse_config(*file);
    if (!c) return std::unexpected(c.error());
    if (c->audit_file.empty()) {
      std::cerr << "m2msec: note: [cse] has no audit_file: Entity B keeps no audit trail\n";
    } else {
      out.push_back({"cse", c->audit_file});
    }
  }
  if (out.empty() && !only.empty()) return fail(Errc::invalid_argument, path + ": no [" + only + "] table with an audit trail");
  if (out.empty()) return fail(Errc::invalid_argument, path + ": no [mef], [maf] or [cse] table with an audit trail");
  return out;
}

std::string str_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? printable(it->get<std::string>(), 256) : std::string();
}


int run_audit(Context& ctx, const AuditOpts& o) {
  if (!o.role.empty() && o.role != "mef" && o.role != "maf" && o.role != "cse") {
    return usage_error("--role must be mef, maf or cse");
  }
  if (!o.event.empty() && o.event != "grant" && o.event != "refusal" && o.event != "operator") {
    return usage_error("--event must be grant, refusal or operator");
  }
  const std::int64_t now = service::now_unix();
  std::optional<std::int64_t> since;
  if (!o.since.empty()) {
    auto s = parse_since(o.since, now);
    if (!s) return usage_error(s.error());
    since = *s;
  }
  auto srcs = sources(o.config, o.role);
  if (!srcs) return usage_error(srcs.error());

  std::vector<nlohmann::json> records;
  std::size_t missing = 0;
  for (const Source& src : *srcs) {
    std::ifstream in(src.path);
    if (!in) {
      std::cerr << "m2msec: note: no " << src.role << " audit log at " << src.path << " (nothing recorded yet?)\n";
      ++missing;
      continue;
    }
    std::string line;
    std::size_t bad = 0, lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      auto ts = j.is_object() ? j.find("ts") : j.end();
      if (!j.is_object() || ts == j.end() || !ts->is_number_integer() || !j.contains("event")) {
        ++bad;
        continue;
      }
      if (since && ts->get<std::int64_t>() < *since) continue;
      if (!o.entity.empty() && str_field(j, "to") != o.entity && str_field(j, "entity") != o.entity) continue;
      if (!o.event.empty() && str_field(j, "event") != o.event) continue;
      if (!j.contains("role")) j["role"] = src.role;
      records.push_back(std::move(j));
    }
    if (bad != 0) {
      std::cerr << "m2msec: warning: skipped " << bad << " malformed line(s) of " << lineno << " in " << src.path
                << "\n";
    }
  }
  if (missing == srcs->size() && !o.role.empty()) {
    return failure(Error(Errc::not_found, "no audit log for role " + o.role));
  }
  std::stable_sort(records.begin(), records.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["ts"].get<std::int64_t>() < b["ts"].get<std::int64_t>();
  });
  if (ctx.json) {
    for (const auto& j : records) print_json(j);
    return kExitOk;
  }
  // str_field makes every cell printable (a file edited by hand too).
  std::vector<std::vector<std::string>> table = {{"TIME", "ROLE", "EVENT", "WHAT", "KEY-ID", "TO", "EXPIRES", "REASON"}};
  for (const auto& j : records) {
    std::string what = str_field(j, "event") == "operator" ? str_field(j, "action") : str_field(j, "kind");
    std::string to = str_field(j, "to");
    if (const std::string ent = str_field(j, "entity"); !ent.empty()) to += to.empty() ? ent : " (" + ent + ")";
    std::string expires;
    if (auto it = j.find("expires_at"); it != j.end() && it->is_number_integer()) expires = format_utc(it->get<std::int64_t>());
    std::string reason = str_field(j, "reason");
    if (auto it = j.find("count"); it != j.end() && it->is_number_integer()) reason = std::to_string(it->get<std::int64_t>()) + " rows";
    table.push_back({format_utc(j["ts"].get<std::int64_t>()), str_field(j, "role"), str_field(j, "event"), what,
                     str_field(j, "key_id"), to, expires, reason});
  }
  print_table(table);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void add_audit_command(CLI::App& app, Context& ctx) {
  static AuditOpts o;
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "Read the audit trails of the roles in a config: every key grant (which key identifier, to whom, under which "
      "framework, until when), every refusal class, every operator action; never a key value (docs/audit.md)");
  cmd->footer(
      "Each role appends to its own audit_file (MEF and MAF: <data_dir>/audit.jsonl; Entity B: [cse] audit_file).\n"
      "Records from all roles in the config are merged by time.\n\n"
      "Examples:\n"
      "  m2msec audit --config all-in-one.toml --since 1h\n"
      "  m2msec audit --config maf.toml --entity /dev-1 --json\n"
      "  m2msec audit --config all-in-one.toml --role mef --event operator");
  cmd->add_option("--config", o.config, "TOML file with [mef], [maf] and/or [cse] tables")->required();
  cmd->add_option("--role", o.role, "Only this role's trail: mef, maf or cse");
  cmd->add_option("--since", o.since,
                  "Only records at or after: Unix seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC), or a duration "
                  "such as 30m, 12h, 7d (that long ago)");
  cmd->add_option("--entity", o.entity, "Only records granting to, refusing, or about this CSE-ID/AE-ID/FQDN");
  cmd->add_option("--event", o.event, "Only grant, refusal or operator records");
  cmd->add_flag("--json", ctx.json, "Print the records as JSON lines (one object per line) instead of a table");
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_audit(ctx, o); }; });
}

}  // namespace m2msec::cli
