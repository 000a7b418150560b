// mef_import_cmd.cc: "m2msec mef enrolee import", bulk registration of a
// factory's device list (CSV or JSON), all or nothing.
#include <unistd.h>

#include <iostream>
#include <set>

#include "cli.h"
#include "import_rows.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {
namespace {

// kMaxImportFileSize bounds an import file; the whole file is held in
// (wiped) memory while it is checked.

struct ImportOpts {
  std::string config, file, format;
};

// Progress draws "label [#####-----] n/total" on stderr when it is a tty.
class Progress {
 public:
  Progress(std::string label, std::size_t total) : label_(std::move(label)), total_(total), tty_(::isatty(2)) {}
  void update(std::size_t n) {
    if (!tty_ || total_ == 0 || (n != total_ && n % 256 != 0)) return;
    const std::size_t width = 30, filled = width * n / total_;
    std::cerr << "\r" << label_ << " [" << std::string(filled, '#') << std::string(width - filled, '-') << "] " << n
              << "/" << total_ << std::flush;
    if (n == total_) std::cerr << "\n";
  }

 private:
  std::string label_;
  std::size_t total_;
  bool tty_;
};

Result<store::Enrolee> to_enrolee(ImportRow& r, std::int64_t now) {
  static const std::set<std::string> known = {"enrolee_id", "kpm_id", "kpm", "cert_subject", "cert_ca",
                                              "target",     "target_kind", "expiry"};
  for (const auto& [k, v] : r.f) {
    if (!known.count(k)) return fail(Errc::invalid_argument, "unknown column " + k);
  }
  store::Enrolee e;
  e.enrolee_id = r.f["enrolee_id"];
  e.target = r.f["target"];
  if (r.f.count("target_kind")) {
    auto k = store::parse_target_kind(r.f["target_kind"]);
    if (!k) return std::unexpected(k.error());
    e.target_kind = *k;
  } else {
    e.target_kind = Fqdn::parse(e.target) ? store::TargetKind::maf : store::TargetKind::kpsa;
  }
  if (r.f.count("kpm_id")) {
    e.auth_kind = store::AuthKind::psk;
    e.kpm_id = r.f["kpm_id"];
    auto kpm = hex_decode_secret(r.f["kpm"]);
    if (!kpm || kpm->empty()) return fail(Errc::invalid_hex, "kpm must be hex");
    e.kpm = std::move(*kpm);
  } else {
    e.auth_kind = store::AuthKind::cert;
    if (r.f.count("cert_subject")) e.cert_subject = r.f["cert_subject"];
    // cert_ca is the root of trust's fingerprint, sha256:<hex> (no file
    // paths: a device list names CAs, it does not point into the disk).
    if (r.f.count("cert_ca")) {
      auto fp = fingerprint_argument(r.f["cert_ca"]);
      if (!fp) return fail(Errc::invalid_argument, "cert_ca: " + fp.error().detail());
      e.cert_trust_anchor = std::move(*fp);
    }
  }
  if (r.f.count("expiry")) {
    auto d = service::parse_duration(r.f["expiry"]);
    if (!d) return std::unexpected(d.error());
    e.expires_at = now + *d;
  }
  if (auto st = store::validate_enrolee(e); !st) return std::unexpected(st.error());
  return e;
}

int run_import(Context& ctx, const ImportOpts& o) {
  auto file = service::ConfigFile::load(o.config);
  if (!file) return usage_error(file.error());
  auto cfg = mef::load_mef_config(*file);
  if (!cfg) return usage_error(cfg.error());
  std::string format = o.format;
  if (format.empty()) format = o.file.ends_with(".json") ? "json" : "csv";
  // The file holds Kpm values: it is a secret file (mode 0600). A factory
  // list is far larger than a key file: allow 256 MiB (~2 million rows).
  auto text = read_secret_file(o.file, kMaxImportFileSize);
  if (!text) return usage_error(text.error());
  auto rows = read_import_rows(text->view(), format);
  if (!rows) return usage_error(rows.error());

  const std::int64_t now = service::now_unix();
  std::vector<store::Enrolee> enrolees;
  std::vector<std::string> errors;
  Progress check("checking ", rows->size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto e = to_enrolee((*rows)[i], now);
    if (!e) {
      errors.push_back("row " + std::to_string(i + 1) + " (line " + std::to_string((*rows)[i].line) +
                       "): " + e.error().message());
    } else {
      enrolees.push_back(std::move(*e));
    }
    check.update(i + 1);
  }
  std::size_t imported = 0;
  if (errors.empty()) {
    auto db = mef::open_mef_store(*cfg, /*create_kek=*/true);
    if (!db) return failure(db.error());
    std::vector<store::RowError> row_errors;
    auto n = (*db)->mef().import_enrolees(enrolees, now, &row_errors);
    for (const auto& re : row_errors) errors.push_back("row " + std::to_string(re.row) + ": " + re.error.message());
    if (!n && errors.empty()) return failure(n.error());
    if (n) imported = *n;
    service::AuditEvent ev = service::operator_event("import", "enrolee", "");
    ev.count = n ? static_cast<std::int64_t>(*n) : 0;
    if (n && !record_operator(cfg->audit_file, "mef", "", std::move(ev))) return kExitFailure;
  }
  return report_import(ctx, {{"file", o.file}, {"rows", rows->size()}, {"imported", imported}}, errors,
                       "imported " + std::to_string(imported) + " enrolees from " + o.file);
}

}  // namespace

void add_mef_enrolee_import(CLI::App* enrolee, Context& ctx) {
  static ImportOpts o;
  CLI::App* cmd = enrolee->add_subcommand(
      "import",
      "Bulk-register enrolees from CSV (header: enrolee_id,kpm_id,kpm,target[,target_kind,expiry,"
      "cert_subject,cert_ca]) or a JSON array of objects with those keys; cert_ca is the fingerprint "
      "sha256:<hex> of the enrolee's root of trust. All or nothing; every bad row "
      "is reported. The file holds Kpm values: mode 0600.");
  cmd->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  cmd->add_option("--file", o.file, "CSV or JSON file ('-' for stdin)")->required();
  cmd->add_option("--format", o.format, "csv|json (default: from the file name)")
      ->check(CLI::IsMember({"csv", "json"}));
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_import(ctx, o); }; });
}

int report_import(const Context& ctx, nlohmann::json fields, const std::vector<std::string>& errors,
                  const std::string& done) {
  if (ctx.json) {
    fields["errors"] = errors;
    print_json(fields);
  } else {
    for (const auto& e : errors) std::cerr << "m2msec: error: " << e << "\n";
    if (errors.empty()) {
      std::cout << done << "\n";
    } else {
      std::cerr << "m2msec: error: import rejected, nothing was imported (" << errors.size() << " bad rows)\n";
    }
  }
  return errors.empty() ? kExitOk : kExitUsage;
}

}  // namespace m2msec::cli
