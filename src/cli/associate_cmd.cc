// associate_cmd.cc: "m2msec associate", Entity A.
#include <fstream>
#include <iostream>

#include "cli.h"
#include "m2msec/client/associate.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::cli {
namespace {

struct AssocOpts {
  std::string state, maf, cse, cse_id, cse_fqdn, framework = "maf", cert, key, ca, entity_id, encoding = "base64";
  std::string op = "retrieve", to, body, from, content;
  int ty = 0;
  int hold_ms = 0;
  int repeat = 1;
  int interval_ms = 0;
  bool dtls = false;
  std::string binding;
  int timeout_ms = 10000;
  std::int64_t kc_lifetime = 0;
};

// read_content_arg returns --content's text: as given, or the contents of
// the file after '@' ("@-": stdin), at most 1 MiB.
Result<std::string> read_content_arg(const std::string& arg) {
  if (!arg.starts_with('@')) return arg;
  const std::string path = arg.substr(1);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return fail(Errc::io_error, "cannot read " + path);
    in = &file;
  }
  std::string text;
  char buf[4096];
  while (in->read(buf, sizeof(buf)) || in->gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in->gcount()));
    if (text.size() > (1u << 20)) return fail(Errc::invalid_length, "--content is larger than 1 MiB");
  }
  return text;
}

int run(Context& ctx, const AssocOpts& o) {
  auto fw = client::parse_framework(o.framework);
  if (!fw) return usage_error(fw.error());
  auto enc = parse_id_encoding(o.encoding);
  if (!enc) return usage_error(enc.error());
  client::AssociateOptions a;
  a.framework = *fw;
  a.state_dir = o.state;
  a.transport = o.dtls ? tls::Transport::dtls : tls::Transport::tls;
  if (!o.binding.empty()) a.binding = *proto::parse_binding(o.binding);
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
  a.request.to = o.to;
  if (o.op == "create-ae") {
    a.request.op = proto::Operation::create;
    a.request.ty = 2;
    nlohmann::json ae = {{"api", "Nm2msec"}, {"rr", false}};
    if (!o.body.empty()) ae["rn"] = o.body;  // else the CSE names it after the AE-ID
    a.request.content = {{"m2m:ae", ae}};
  } else {
    a.request.op = o.op == "create"   ? proto::Operation::create
                   : o.op == "update" ? proto::Operation::update
                   : o.op == "delete" ? proto::Operation::del
                                      : proto::Operation::retrieve;
    if (o.op == "create" && o.ty <= 0) return usage_error("--request create needs --ty (e.g. 3 for a container)");
    if (o.op != "create" && o.ty != 0) return usage_error("--ty is for --request create");
    a.request.ty = o.ty;
    const bool wants_content = o.op == "create" || o.op == "update";
    if (wants_content != !o.content.empty()) {
      return usage_error(wants_content ? "--request " + o.op + " needs --content" : "--content is for create and update");
    }
    if (wants_content) {
      auto text = read_content_arg(o.content);
      if (!text) return usage_error(text.error());
      a.request.content = nlohmann::json::parse(*text, nullptr, false);
      if (a.request.content.is_discarded() || !a.request.content.is_object()) {
        return usage_error("--content is not a JSON object");
      }
    }
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
  cmd->add_option("--maf", o.maf,
                  "MAF address: HOST:PORT, coaps://HOST:PORT (CoAP over DTLS) or https://HOST:PORT (default: from "
                  "the enrolment instruction)");
  cmd->add_option("--cse", o.cse,
                  "Entity B address: HOST:PORT (TLS, or DTLS with --dtls), coaps://HOST:PORT (CoAP over DTLS) or "
                  "https://HOST:PORT (HTTP over TLS)")
      ->required();
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
  cmd->add_option("--request", o.op,
                  "retrieve (default), create, update, delete, or create-ae (registers an AE named --ae-name)")
      ->check(CLI::IsMember({"retrieve", "create", "update", "delete", "create-ae"}));
  cmd->add_option("--to", o.to,
                  "Target: a resource path such as /in-name/Cae1/data, a resource ID, or the CSE-ID "
                  "(default: Entity B's CSE-ID, i.e. its CSEBase)");
  cmd->add_option("--ty", o.ty, "Resource type to create: 1 accessControlPolicy, 2 AE, 3 container, "
                                "4 contentInstance, 9 group")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--content", o.content,
                  "Request body (create, update): a JSON object such as '{\"m2m:cnt\":{\"rn\":\"data\"}}', "
                  "or @FILE to read it from a file, or @- from stdin");
  cmd->add_option("--ae-name", o.body, "Resource name for --request create-ae");
  cmd->add_option("--kc-lifetime", o.kc_lifetime, "Requested Kc lifetime in seconds (MAF caps it)");
  cmd->add_option("--id-encoding", o.encoding, "KcID encoding: base64 (seeds) or hex (V3.18)")->check(CLI::IsMember({"base64", "hex"}));
  cmd->add_option("--from", o.from, "X-M2M-Origin to send (default: our identity; another value is refused by Entity B)");
  cmd->add_option("--hold-ms", o.hold_ms, "Wait between getting the key and contacting Entity B (tests key expiry)");
  cmd->add_option("--repeat", o.repeat, "Send the request this many times on the one session (stay connected)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--interval-ms", o.interval_ms, "Wait between repeated requests")->check(CLI::Range(0, 3600000));
  cmd->add_flag("--dtls", o.dtls, "Use DTLS 1.2 over UDP for HOST:PORT addresses");
  cmd->add_option("--binding", o.binding,
                  "oneM2M binding for HOST:PORT addresses: coap (TS-0008, the default over DTLS) or http (TS-0009, "
                  "the default over TLS; over DTLS the legacy HTTP-in-DTLS)")
      ->check(CLI::IsMember({"http", "coap"}));
  cmd->add_option("--timeout-ms", o.timeout_ms, "Per-step timeout");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run(ctx, o); }; });
}

}  // namespace m2msec::cli
