// associate_cmd.cc: "m2msec associate", Entity A.
#include <iostream>

#include "cli.h"
#include "m2msec/client/associate.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::cli {
namespace {

struct AssocOpts {
  std::string state, maf, cse, cse_id, cse_fqdn, framework = "maf", cert, key, ca, entity_id, encoding = "base64";
  std::string op = "retrieve", to, body, from;
  int hold_ms = 0;
  int repeat = 1;
  int interval_ms = 0;
  bool dtls = false;
  int timeout_ms = 10000;
  std::int64_t kc_lifetime = 0;
};

int run(Context& ctx, const AssocOpts& o) {
  auto fw = client::parse_framework(o.framework);
  if (!fw) return usage_error(fw.error());
  auto enc = parse_id_encoding(o.encoding);
  if (!enc) return usage_error(enc.error());
  client::AssociateOptions a;
  a.framework = *fw;
  a.state_dir = o.state;
  a.transport = o.dtls ? tls::Transport::dtls : tls::Transport::tls;
  a.maf_address = o.maf;
  a.cse_address = o.cse;
  a.cse_id = o.cse_id;
  a.cse_fqdn = o.cse_fqdn;
  a.id_encoding = *enc;
  a.kc_lifetime = o.kc_lifetime;
  a.entity_id = o.entity_id;
  a.timeout = std::chrono::milliseconds(o.timeout_ms);
  a.hold = std::chrono::milliseconds(o.hold_ms);
  a.repeat = o.repeat;
  a.interval = std::chrono::milliseconds(o.interval_ms);
  a.request.from = o.from;
  if (*fw == client::Framework::cert) {
    if (o.cert.empty() || o.key.empty() || o.ca.empty()) return usage_error("--framework cert needs --cert, --key and --ca");
    auto ck = tls::load_certificate_key(o.cert, o.key);
    if (!ck) return usage_error(ck.error());
    auto ta = tls::load_trust_anchors(o.ca);
    if (!ta) return usage_error(ta.error());
    a.certificate = *ck;
    a.trust = *ta;
    if (o.entity_id.empty()) return usage_error("--framework cert needs --entity-id (our CSE-ID/AE-ID)");
  } else if (o.state.empty()) {
    return usage_error("--framework " + o.framework + " needs --state");
  }
  if (o.op == "create-ae") {
    a.request.op = proto::Operation::create;
    a.request.ty = 2;
    a.request.to = o.to;
    a.request.content = {{"m2m:ae", {{"rn", o.body.empty() ? "" : o.body}, {"api", "Nm2msec"}, {"rr", false}}}};
  } else {
    a.request.op = proto::Operation::retrieve;
    a.request.to = o.to;
  }
  auto r = client::associate(std::move(a));
  if (!r) return failure(r.error());
  const bool ok = proto::is_success(r->response.rsc);
  if (ctx.json) {
    print_json({{"framework", client::framework_name(r->framework)}, {"key_id", r->key_id},
                {"entity_id", r->entity_id}, {"km_id", r->km_id}, {"key_expiry", r->key_expiry},
                {"rsc", static_cast<int>(r->response.rsc)}, {"served", r->served},
                {"response", r->response.content}});
  } else {
    std::cout << "framework   " << client::framework_name(r->framework) << "\n";
    if (!r->key_id.empty()) {
      const char* label = r->framework == client::Framework::maf   ? "KcID        "
                          : r->framework == client::Framework::gba ? "B-TID       "
                                                                    : "KpsaID      ";
      std::cout << label << r->key_id << "\n";
    }
    std::cout << "as          " << r->entity_id << "\nRSC         " << static_cast<int>(r->response.rsc) << "\n"
              << "response    " << r->response.content.dump() << "\n";
  }
  return ok ? kExitOk : kExitFailure;
}

}  // namespace

void add_associate_command(CLI::App& app, Context& ctx) {
  static AssocOpts o;
  CLI::App* cmd = app.add_subcommand(
      "associate",
      "Entity A: establish a security association with Entity B (MAF-based: MAF handshake, client and key "
      "registration, then TLS-PSK with the KcID; kpsa: TLS-PSK with the KpsaID; cert: certificates; gba: "
      "TLS-PSK with the B-TID and Entity B's Ks_NAF) and send "
      "one authenticated oneM2M request. Keys are never printed.");
  cmd->add_option("--state", o.state, "Device state directory (from 'm2msec enrol')");
  cmd->add_option("--maf", o.maf, "MAF address HOST:PORT (default: from the enrolment instruction)");
  cmd->add_option("--cse", o.cse, "Entity B address HOST:PORT")->required();
  cmd->add_option("--cse-id", o.cse_id, "Entity B's SP-relative CSE-ID, e.g. /in-cse")->required();
  cmd->add_option("--cse-fqdn", o.cse_fqdn, "Entity B's FQDN for SNI (default: <cse>.<MEF's domain>)");
  cmd->add_option("--framework", o.framework,
                  "maf (default; a GBA-bootstrapped device derives Km as the MAF's Ks_NAF), kpsa, cert, or gba "
                  "(GBA-based SAEF: Kpsa = Entity B's Ks_NAF under the B-TID from m2msec enrol --gba)")
      ->check(CLI::IsMember({"maf", "kpsa", "cert", "gba"}));
  cmd->add_option("--cert", o.cert, "Our certificate (PEM), cert framework");
  cmd->add_option("--key", o.key, "Our private key (PEM, mode 0600), cert framework");
  cmd->add_option("--ca", o.ca, "Trust anchors for Entity B's certificate, cert framework");
  cmd->add_option("--entity-id", o.entity_id, "Our CSE-ID/AE-ID, cert framework");
  cmd->add_option("--request", o.op, "retrieve (default: the CSEBase) or create-ae")->check(CLI::IsMember({"retrieve", "create-ae"}));
  cmd->add_option("--to", o.to, "Target path (default: Entity B's CSE-ID, i.e. its CSEBase)");
  cmd->add_option("--ae-name", o.body, "Resource name for --request create-ae");
  cmd->add_option("--kc-lifetime", o.kc_lifetime, "Requested Kc lifetime in seconds (MAF caps it)");
  cmd->add_option("--id-encoding", o.encoding, "KcID encoding: base64 (seeds) or hex (V3.18)")->check(CLI::IsMember({"base64", "hex"}));
  cmd->add_option("--from", o.from, "X-M2M-Origin to send (default: our identity; another value is refused by Entity B)");
  cmd->add_option("--hold-ms", o.hold_ms, "Wait between getting the key and contacting Entity B (tests key expiry)");
  cmd->add_option("--repeat", o.repeat, "Send the request this many times on the one session (stay connected)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--interval-ms", o.interval_ms, "Wait between repeated requests")->check(CLI::Range(0, 3600000));
  cmd->add_flag("--dtls", o.dtls, "Use DTLS 1.2 over UDP");
  cmd->add_option("--timeout-ms", o.timeout_ms, "Per-step timeout");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run(ctx, o); }; });
}

}  // namespace m2msec::cli
