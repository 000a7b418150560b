// mef_cmd.cc: "m2msec mef serve" and "m2msec mef enrolee ..." (operator);
// "m2msec mef subscriber ..." is in mef_subscriber_cmd.cc.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <system_error>

#include "cli.h"
#include "store_views.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/mef/mef.h"
#include "m2msec/core/encoding.h"
#include "m2msec/service/runtime.h"
#include "m2msec/tls/credentials.h"
#include "serve_util.h"

namespace m2msec::cli {

Result<std::string> fingerprint_argument(const std::string& text) {
  constexpr std::string_view kPrefix = "sha256:";
  std::string out = text;
  if (out.size() >= kPrefix.size() && out.compare(0, kPrefix.size(), "SHA256:") == 0) {
    out.replace(0, kPrefix.size(), kPrefix);
  }
  for (std::size_t i = kPrefix.size(); i < out.size(); ++i) {
    if (out[i] >= 'A' && out[i] <= 'F') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  if (!is_certificate_fingerprint(out)) {
    return fail(Errc::invalid_argument, "a CA fingerprint looks like sha256:<64 hex digits>");
  }
  return out;
}

Result<std::string> trust_anchor_argument(const std::string& text) {
  if (text.starts_with("sha256:") || text.starts_with("SHA256:")) return fingerprint_argument(text);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(text, ec)) {
    return fail(Errc::invalid_argument, "--cert-ca: no such file: " + text +
                                            " (give the CA's PEM file or its sha256:<hex> fingerprint; a CA name "
                                            "is no longer accepted)");
  }
  auto fps = tls::read_certificate_fingerprints(text);
  if (!fps) return std::unexpected(fps.error());
  if (fps->size() != 1) {
    return fail(Errc::invalid_argument, text + " holds " + std::to_string(fps->size()) +
                                            " certificates; --cert-ca wants exactly one CA certificate (or its "
                                            "sha256:<hex> fingerprint)");
  }
  return std::move(fps->front());
}

namespace {

struct MefOpts {
  std::string config;
  std::string log_level = "info";
  std::string kpm_id, kpm_file, enrolee_id, target, target_kind, expiry, cert_subject, cert_ca;
};

Result<mef::MefConfig> load_config(const std::string& path) {
  auto file = service::ConfigFile::load(path);
  if (!file) return std::unexpected(file.error());
  return mef::load_mef_config(*file);
}

int serve(Context& ctx, const MefOpts& o) {
  return serve_role<mef::MefServer>(ctx, "mef", o.config, o.log_level, mef::load_mef_config);
}

int add(Context& ctx, const MefOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  store::Enrolee e;
  e.enrolee_id = o.enrolee_id;
  e.target = o.target;
  auto kind = enrolee_target_kind(o.target, o.target_kind);
  if (!kind) return usage_error(kind.error());
  e.target_kind = *kind;
  const std::int64_t now = service::now_unix();
  if (!o.expiry.empty()) {
    auto d = service::parse_duration(o.expiry);
    if (!d) return usage_error(d.error());
    e.expires_at = now + *d;
  }
  if (!o.kpm_id.empty()) {
    if (!o.cert_subject.empty()) return usage_error("give either --kpm-id/--kpm-file or --cert-subject, not both");
    if (o.kpm_file.empty()) return usage_error("--kpm-id needs --kpm-file");
    auto kpm = read_hex_key_file(o.kpm_file);
    if (!kpm) return usage_error(kpm.error());
    e.auth_kind = store::AuthKind::psk;
    e.kpm_id = o.kpm_id;
    e.kpm = std::move(*kpm);
  } else if (!o.cert_subject.empty()) {
    if (o.cert_ca.empty()) {
      return usage_error("--cert-subject needs --cert-ca (the enrolee's root of trust: a PEM file with its CA "
                         "certificate, or sha256:<hex>)");
    }
    auto anchor = trust_anchor_argument(o.cert_ca);
    if (!anchor) return usage_error(anchor.error());
    e.auth_kind = store::AuthKind::cert;
    e.cert_subject = o.cert_subject;
    e.cert_trust_anchor = std::move(*anchor);
  } else {
    return usage_error("give --kpm-id and --kpm-file (pre-provisioned key) or --cert-subject (certificate)");
  }
  if (auto st = store::validate_enrolee(e); !st) return usage_error(st.error());
  auto db = mef::open_mef_store(*cfg, /*create_kek=*/true);
  if (!db) return failure(db.error());
  if (auto st = (*db)->mef().add_enrolee(e, now); !st) {
    return st.error().code() == Errc::already_exists ? usage_error(st.error()) : failure(st.error());
  }
  service::AuditEvent ev =
      service::operator_event("add", e.auth_kind == store::AuthKind::psk ? "kpm" : "enrolee", e.enrolee_id,
                              e.kpm_id.value_or(""));
  ev.expires_at = e.expires_at;
  if (!record_operator(cfg->audit_file, "mef", "", std::move(ev))) return kExitFailure;
  const nlohmann::json j = {{"enrolee_id", e.enrolee_id},
                            {"auth", store::auth_kind_name(e.auth_kind)},
                            {"target_kind", store::target_kind_name(e.target_kind)},
                            {"target", e.target},
                            {"expires_at", e.expires_at ? nlohmann::json(*e.expires_at) : nlohmann::json()}};
  if (ctx.json) {
    print_json(j);
  } else {
    std::cout << "added enrolee " << e.enrolee_id << " (" << store::auth_kind_name(e.auth_kind) << ", target "
              << store::target_kind_name(e.target_kind) << " " << e.target << ")\n";
  }
  return kExitOk;
}

int remove(Context& ctx, const MefOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  auto db = open_existing_mef(*cfg);
  if (!db) return failure(db.error());
  if (auto st = (*db)->mef().remove_enrolee(o.enrolee_id); !st) {
    return st.error().code() == Errc::not_found ? usage_error(st.error()) : failure(st.error());
  }
  if (!record_operator(cfg->audit_file, "mef", "", service::operator_event("remove", "enrolee", o.enrolee_id))) {
    return kExitFailure;
  }
  if (ctx.json) {
    print_json({{"removed", o.enrolee_id}});
  } else {
    std::cout << "removed enrolee " << o.enrolee_id << "; its KeID no longer resolves\n";
  }
  return kExitOk;
}

}  // namespace

Result<store::TargetKind> enrolee_target_kind(const std::string& target, const std::string& kind) {
  if (!kind.empty()) return store::parse_target_kind(kind);
  if (Fqdn::parse(target)) return store::TargetKind::maf;
  if (EntityId::parse(target)) return store::TargetKind::kpsa;
  return fail(Errc::invalid_argument, "--target must be a MAF-FQDN or an Enrolee-B CSE-ID/AE-ID");
}

void add_mef_enrolee_import(CLI::App* enrolee, Context& ctx);
void add_mef_subscriber_commands(CLI::App* subscriber, Context& ctx);
void add_mef_list_commands(CLI::App* mef, CLI::App* enrolee, CLI::App* subscriber, Context& ctx);

void add_mef_commands(CLI::App& app, Context& ctx) {
  static MefOpts o;
  CLI::App* mef = app.add_subcommand("mef", "M2M Enrolment Function: server and operator commands");
  mef->require_subcommand(1);

  CLI::App* serve_cmd = mef->add_subcommand("serve", "Run the MEF until SIGINT/SIGTERM");
  serve_cmd->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  serve_cmd->add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off");
  add_json_flag(serve_cmd, ctx);
  serve_cmd->callback([&ctx] { ctx.run = [&ctx] { return serve(ctx, o); }; });

  CLI::App* enrolee = mef->add_subcommand("enrolee", "Bootstrap credential and instruction configuration");
  enrolee->require_subcommand(1);
  CLI::App* add_cmd = enrolee->add_subcommand(
      "add",
      "Register an enrolee: a pre-provisioned key (--kpm-id, --kpm-file) or a certificate name "
      "(--cert-subject), its assigned CSE-ID/AE-ID, and its target: a MAF-FQDN (Km) or an Enrolee-B "
      "CSE-ID/AE-ID (Kpsa)");
  add_cmd->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  add_cmd->add_option("--enrolee-id", o.enrolee_id, "CSE-ID or AE-ID assigned to the enrolee")->required();
  add_cmd->add_option("--target", o.target, "MAF-FQDN, or Enrolee B's CSE-ID/AE-ID")->required();
  add_cmd->add_option("--target-kind", o.target_kind, "maf|kpsa (default: guessed from --target)")
      ->check(CLI::IsMember({"maf", "kpsa"}));
  add_cmd->add_option("--kpm-id", o.kpm_id, "KpmID, the PSK identity of the bootstrap handshake");
  add_cmd->add_option("--kpm-file", o.kpm_file, "File holding Kpm (hex, mode 0600; '-' for stdin)");
  add_cmd->add_option("--cert-subject", o.cert_subject, "Name in the enrolee's certificate (SAN URI or dNSName)");
  add_cmd->add_option("--cert-ca", o.cert_ca,
                      "Root of trust of the enrolee's certificate, the CA its chain must end at (one of the MEF's "
                      "device_trust_anchors): a PEM file holding that one CA certificate, or its fingerprint "
                      "sha256:<64 hex digits>");
  add_cmd->add_option("--expiry", o.expiry, "Enrolment expiry from now: 3600, 90m, 12h, 30d");
  add_json_flag(add_cmd, ctx);
  add_cmd->callback([&ctx] { ctx.run = [&ctx] { return add(ctx, o); }; });

  CLI::App* rm = enrolee->add_subcommand("remove", "De-enrol: remove an enrolee and its Ke; its KeID stops resolving");
  rm->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  rm->add_option("--enrolee-id", o.enrolee_id, "CSE-ID or AE-ID")->required();
  add_json_flag(rm, ctx);
  rm->callback([&ctx] { ctx.run = [&ctx] { return remove(ctx, o); }; });

  add_mef_enrolee_import(enrolee, ctx);

  CLI::App* subscriber = mef->add_subcommand(
      "subscriber",
      "GBA subscribers of the MEF as a BSF (TS 33.220): IMPI, MILENAGE K and OPc, SQN, AMF, and the enrolee and "
      "Enrolment Target of their GUSS (TS-0003 8.3.2.3)");
  subscriber->require_subcommand(1);
  add_mef_subscriber_commands(subscriber, ctx);
  add_mef_list_commands(mef, enrolee, subscriber, ctx);
}

}  // namespace m2msec::cli
