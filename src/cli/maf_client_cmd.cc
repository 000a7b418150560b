// maf_client_cmd.cc: "m2msec maf client add|import", root keys by
// pre-provisioning (TS-0003 5.3.x.2 option 1: "M2M Root Key may be securely
// provisioned during manufacturing or deployment"). The operator loads Km,
// KmID, the entity and (for an AE) its App-ID straight into the MAF's key
// store, the MAS (seed 004), with no MEF involved. Secrets come only from
// 0600 files and are never printed.
#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "cli.h"
#include "import_rows.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/maf/maf.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {
namespace {

// kMaxImportFileSize bounds an import file (held in wiped memory).

struct ClientOpts {
  std::string config, entity, km_id, km_file, expires, lifetime, app_id, file;
};

Result<maf::MafConfig> load_config(const std::string& path) {
  auto file = service::ConfigFile::load(path);
  if (!file) return std::unexpected(file.error());
  return maf::load_maf_config(*file);
}

// maf_km_id accepts a KmID of this MAF (10.6: "RelativeKmID@MAF-FQDN") and
// returns its canonical form; a KmID of another MAF is refused.
Result<std::string> maf_km_id(std::string_view text, const Fqdn& maf_fqdn) {
  auto id = KeyId::parse(KeyIdKind::km, text);
  if (!id) return std::unexpected(id.error());
  if (!id->fqdn().matches(maf_fqdn)) {
    return fail(Errc::invalid_identifier, "km_id must end in @" + maf_fqdn.str() + " (this MAF), not @" + id->fqdn().str());
  }
  return id->canonical();
}

// expiry_of reads an absolute oneM2M time (YYYYMMDDTHHMMSS) or a lifetime
// (3600, 90m, 30d) from now; neither gives no expiry. A time at or before
// now is refused.
Result<std::optional<std::int64_t>> expiry_of(const std::string& expires, const std::string& lifetime,
                                              std::int64_t now) {
  if (!expires.empty() && !lifetime.empty()) return fail(Errc::invalid_argument, "give expires or lifetime, not both");
  std::optional<std::int64_t> at;
  if (!expires.empty()) {
    auto t = proto::parse_time(expires);
    if (!t) return fail(Errc::invalid_argument, "expires: " + t.error().message());
    at = *t;
  } else if (!lifetime.empty()) {
    auto d = service::parse_duration(lifetime);
    if (!d) return fail(Errc::invalid_argument, "lifetime: " + d.error().message());
    at = now + *d;
  }
  if (at && *at <= now) return fail(Errc::invalid_argument, "expiry " + proto::format_time(*at) + " is not in the future");
  return at;
}

// make_client checks the fields the store does not know about (the MAF's
// own domain, the key size, the expiry) and builds the row.
Result<store::MafClient> make_client(const Fqdn& maf_fqdn, const std::string& entity, const std::string& km_id,
                                     SecretBytes km, const std::string& expires, const std::string& lifetime,
                                     const std::string& app_id, std::int64_t now) {
  auto eid = EntityId::parse(entity);
  if (!eid) return fail(Errc::invalid_identifier, "entity: " + eid.error().message());
  auto id = maf_km_id(km_id, maf_fqdn);
  if (!id) return std::unexpected(id.error());
  if (km.size() != 32) return fail(Errc::invalid_length, "km must be 32 bytes (64 hex digits)");
  auto at = expiry_of(expires, lifetime, now);
  if (!at) return std::unexpected(at.error());
  store::MafClient c;
  c.km_id = *id;
  c.km = std::move(km);
  c.entity_id = eid->str();
  c.source = store::KmSource::preprovisioned;
  c.expires_at = *at;
  if (!app_id.empty()) c.app_id = app_id;
  return c;
}

nlohmann::json client_json(const store::MafClient& c) {
  return {{"entity_id", c.entity_id},
          {"km_id", c.km_id},
          {"source", store::km_source_name(c.source)},
          {"app_id", c.app_id ? nlohmann::json(*c.app_id) : nlohmann::json()},
          {"expires_at", c.expires_at ? nlohmann::json(*c.expires_at) : nlohmann::json()}};
}

int add(Context& ctx, const ClientOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  auto maf_fqdn = Fqdn::parse(cfg->listen.fqdn);
  if (!maf_fqdn) return usage_error(maf_fqdn.error());
  auto km = read_hex_key_file(o.km_file);
  if (!km) return usage_error(km.error());
  const std::int64_t now = service::now_unix();
  auto c = make_client(*maf_fqdn, o.entity, o.km_id, std::move(*km), o.expires, o.lifetime, o.app_id, now);
  if (!c) return usage_error(c.error());
  auto db = maf::open_maf_store(*cfg, /*create_kek=*/true);
  if (!db) return failure(db.error());
  auto n = (*db)->maf().add_clients(std::span(&*c, 1), now, nullptr);
  if (!n) {
    const Errc code = n.error().code();
    const bool input = code == Errc::already_exists || code == Errc::invalid_argument ||
                       code == Errc::invalid_identifier;
    return input ? usage_error(n.error()) : failure(n.error());
  }
  service::AuditEvent ev = service::operator_event("add", "km", c->entity_id, c->km_id);
  ev.expires_at = c->expires_at;
  if (!record_operator(cfg->audit_file, "maf", cfg->mas_id, std::move(ev))) return kExitFailure;
  if (ctx.json) {
    nlohmann::json j = client_json(*c);
    j["mas_id"] = cfg->mas_id;
    print_json(j);
  } else {
    std::cout << "added pre-provisioned client " << c->entity_id << " (" << c->km_id << ") to MAS " << cfg->mas_id
              << "\n";
  }
  return kExitOk;
}

// read_rows reads the CSV (import_rows.h: a header line, blank lines and
// '#' lines skipped) and checks its header: entity_id, km_id and km_hex
// are required, expires, lifetime and app_id optional, nothing else.
Result<std::vector<ImportRow>> read_rows(std::string_view text) {
  static const std::set<std::string> known = {"entity_id", "km_id", "km_hex", "expires", "lifetime", "app_id"};
  std::vector<std::string> header;
  auto rows = read_import_rows(text, "csv", &header);
  if (!rows) return rows;
  if (header.empty()) return fail(Errc::malformed_message, "no header line");
  for (const std::string& h : header) {
    if (!known.count(h)) return fail(Errc::malformed_message, "unknown column '" + printable_text(h) + "'");
  }
  for (const char* need : {"entity_id", "km_id", "km_hex"}) {
    if (std::find(header.begin(), header.end(), need) == header.end()) {
      return fail(Errc::malformed_message, std::string("header lacks column ") + need);
    }
  }
  return rows;
}

int import(Context& ctx, const ClientOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  auto maf_fqdn = Fqdn::parse(cfg->listen.fqdn);
  if (!maf_fqdn) return usage_error(maf_fqdn.error());
  // The file holds Km values: a secret file (mode 0600).
  auto text = read_secret_file(o.file, kMaxImportFileSize);
  if (!text) return usage_error(text.error());
  auto rows = read_rows(text->view());
  if (!rows) return usage_error(rows.error());
  const std::int64_t now = service::now_unix();
  std::vector<store::MafClient> clients;
  std::vector<std::size_t> lines;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    ImportRow& r = (*rows)[i];
    const std::string where = "row " + std::to_string(i + 1) + " (line " + std::to_string(r.line) + "): ";
    auto km = hex_decode_secret(r.f["km_hex"]);
    if (!km) {
      errors.push_back(where + "km_hex must be hex");
      continue;
    }
    auto c = make_client(*maf_fqdn, r.f["entity_id"], r.f["km_id"], std::move(*km), r.f["expires"], r.f["lifetime"],
                         r.f["app_id"], now);
    if (!c) {
      errors.push_back(where + c.error().message());
      continue;
    }
    clients.push_back(std::move(*c));
    lines.push_back(i);
  }
  std::size_t imported = 0;
  if (errors.empty()) {
    auto db = maf::open_maf_store(*cfg, /*create_kek=*/true);
    if (!db) return failure(db.error());
    std::vector<store::RowError> row_errors;
    auto n = (*db)->maf().add_clients(clients, now, &row_errors);
    for (const auto& re : row_errors) {
      const ImportRow& r = (*rows)[lines[re.row - 1]];
      errors.push_back("row " + std::to_string(lines[re.row - 1] + 1) + " (line " + std::to_string(r.line) +
                       "): " + re.error.message());
    }
    if (!n && errors.empty()) return failure(n.error());
    if (n) imported = *n;
    for (std::size_t i = 0; n && i < clients.size(); ++i) {
      service::AuditEvent ev = service::operator_event("import", "km", clients[i].entity_id, clients[i].km_id);
      ev.expires_at = clients[i].expires_at;
      if (!record_operator(cfg->audit_file, "maf", cfg->mas_id, std::move(ev))) return kExitFailure;
    }
  }
  return report_import(ctx, {{"file", o.file}, {"mas_id", cfg->mas_id}, {"rows", rows->size()}, {"imported", imported}},
                       errors,
                       "imported " + std::to_string(imported) + " pre-provisioned clients from " + o.file + " into MAS " +
                           cfg->mas_id);
}

}  // namespace

void add_maf_client_commands(CLI::App* maf, Context& ctx) {
  static ClientOpts o;
  CLI::App* client = maf->add_subcommand(
      "client", "Root keys by pre-provisioning: load Km/KmID made at the factory into the MAS, no MEF involved");
  client->require_subcommand(1);
  CLI::App* add_cmd = client->add_subcommand(
      "add", "Add one pre-provisioned client: its CSE-ID/AE-ID, KmID (…@this MAF's FQDN) and Km. Never replaces");
  add_cmd->add_option("--config", o.config, "TOML file with a [maf] table")->required();
  add_cmd->add_option("--entity", o.entity, "The client's CSE-ID or AE-ID")->required();
  add_cmd->add_option("--km-id", o.km_id, "KmID: RelativeKmID@<this MAF's FQDN>")->required();
  add_cmd->add_option("--km-file", o.km_file, "File holding Km (64 hex digits, mode 0600; '-' for stdin)")->required();
  add_cmd->add_option("--expires", o.expires, "Km expiry, YYYYMMDDTHHMMSS (UTC)");
  add_cmd->add_option("--lifetime", o.lifetime, "Km lifetime from now: 3600, 90m, 12h, 365d");
  add_cmd->add_option("--app-id", o.app_id, "An AE's App-ID (R... or N...), kept beside its root key");
  add_json_flag(add_cmd, ctx);
  add_cmd->callback([&ctx] { ctx.run = [&ctx] { return add(ctx, o); }; });

  CLI::App* imp = client->add_subcommand(
      "import",
      "Bulk-add pre-provisioned clients from CSV (header: entity_id,km_id,km_hex[,expires,lifetime,app_id]). "
      "All or nothing; every bad row is reported. The file holds Km values: mode 0600.");
  imp->add_option("--config", o.config, "TOML file with a [maf] table")->required();
  imp->add_option("--file,--csv", o.file, "CSV file ('-' for stdin)")->required();
  add_json_flag(imp, ctx);
  imp->callback([&ctx] { ctx.run = [&ctx] { return import(ctx, o); }; });
}

}  // namespace m2msec::cli
