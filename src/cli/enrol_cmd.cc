// enrol_cmd.cc: "m2msec enrol", the device side of Remote Security
// Provisioning.
#include <iostream>

#include "cli.h"
#include "m2msec/client/enrolee.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/service/runtime.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::cli {
namespace {

struct EnrolOpts {
  std::string mef, mef_fqdn, kpm_id, kpm_file, maf, state, cert, key, ca, encoding = "base64";
  bool dtls = false;
  int timeout_ms = 10000;
};

int run_enrol(Context& ctx, const EnrolOpts& o) {
  auto ep = service::parse_endpoint(o.mef);
  if (!ep) return usage_error(ep.error());
  auto enc = parse_id_encoding(o.encoding);
  if (!enc) return usage_error(enc.error());
  client::EnrolOptions eo;
  eo.transport = o.dtls ? tls::Transport::dtls : tls::Transport::tls;
  eo.host = ep->host;
  eo.port = ep->port;
  eo.mef_fqdn = o.mef_fqdn;
  eo.maf_fqdn = o.maf;
  eo.id_encoding = *enc;
  eo.timeout = std::chrono::milliseconds(o.timeout_ms);
  if (!o.kpm_id.empty()) {
    auto kpm = read_hex_key_file(o.kpm_file);
    if (!kpm) return usage_error(kpm.error());
    eo.psk = tls::ClientPsk{o.kpm_id, std::move(*kpm)};
  } else if (!o.cert.empty()) {
    auto ck = tls::load_certificate_key(o.cert, o.key);
    if (!ck) return usage_error(ck.error());
    eo.certificate = *ck;
  } else {
    return usage_error("give --kpm-id/--kpm-file or --cert/--key/--ca");
  }
  if (!o.ca.empty()) {
    auto ta = tls::load_trust_anchors(o.ca);
    if (!ta) return usage_error(ta.error());
    eo.trust = *ta;
  } else if (!o.cert.empty()) {
    return usage_error("--cert needs --ca to verify the MEF");
  }
  auto result = client::enrol(eo);
  if (!result) return failure(result.error());
  if (auto st = client::save_device_state(o.state, result->state, result->ke, result->km, result->kpsa); !st) {
    return failure(st.error());
  }
  const auto& s = result->state;
  if (ctx.json) {
    print_json({{"enrolee_id", s.enrolee_id}, {"ke_id", s.ke_id}, {"target_kind", s.target_kind},
                {"target", s.target}, {"key_id", s.key_id}, {"expiry", s.expiry}, {"state", o.state}});
  } else {
    std::cout << "enrolled as   " << s.enrolee_id << "\nKeID          " << s.ke_id << "\n"
              << (s.target_kind == "maf" ? "MAF           " : "Enrolee B     ") << s.target << "\n"
              << "present as    " << s.key_id << "\nexpires       " << s.expiry << " (unix)\nstate in      "
              << o.state << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_enrol_command(CLI::App& app, Context& ctx) {
  static EnrolOpts o;
  CLI::App* cmd = app.add_subcommand(
      "enrol",
      "Enrol this device with a MEF (Remote Security Provisioning): handshake with Kpm or a certificate, "
      "derive Ke/KeID, run the enrolment exchange, derive Km (or Kpsa) and store it under --state");
  cmd->add_option("--mef", o.mef, "MEF address HOST:PORT")->required();
  cmd->add_option("--mef-fqdn", o.mef_fqdn, "MEF's FQDN (SNI, KeID domain)")->required();
  cmd->add_option("--kpm-id", o.kpm_id, "KpmID (pre-provisioned symmetric key)");
  cmd->add_option("--kpm-file", o.kpm_file, "File with Kpm (hex, mode 0600; '-' for stdin)");
  cmd->add_option("--cert", o.cert, "Enrolee certificate (PEM) for the certificate-based framework");
  cmd->add_option("--key", o.key, "Enrolee private key (PEM, mode 0600)");
  cmd->add_option("--ca", o.ca, "Trust anchors for the MEF's certificate (PEM)");
  cmd->add_option("--maf", o.maf, "FQDN of the MAF to enrol for (IdMAF)");
  cmd->add_option("--state", o.state, "Directory for the device's credential state")->required();
  cmd->add_option("--id-encoding", o.encoding, "KeID encoding: base64 (seeds) or hex (V3.18)")
      ->check(CLI::IsMember({"base64", "hex"}));
  cmd->add_flag("--dtls", o.dtls, "Use DTLS 1.2 over UDP instead of TLS 1.2 over TCP");
  cmd->add_option("--timeout-ms", o.timeout_ms, "Handshake and response timeout");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_enrol(ctx, o); }; });
}

}  // namespace m2msec::cli
