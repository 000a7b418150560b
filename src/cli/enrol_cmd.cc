// enrol_cmd.cc: "m2msec enrol", the device side of Remote Security
// Provisioning.
#include <iostream>

#include "cli.h"
#include "m2msec/client/enrolee.h"
#include "m2msec/client/gba.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/service/runtime.h"
#include "m2msec/tls/credentials.h"

namespace m2msec::cli {
namespace {

struct EnrolOpts {
  std::string mef, mef_fqdn, kpm_id, kpm_file, maf, state, cert, key, ca, encoding = "base64";
  bool dtls = false;
  std::string binding;
  int timeout_ms = 10000;
  // GBA (8.3.2.3): a simulated UICC.
  bool gba = false;
  std::string impi, k_file, opc_file, entity_id, maf_address;
};

// run_gba bootstraps on Ub at the MEF (the BSF) and keeps Ks under the
// B-TID in the state directory; Km (or Kpsa) is derived per NAF when the
// device associates (m2msec associate).
int run_gba(Context& ctx, const EnrolOpts& o, const service::Endpoint& ep) {
  if (o.impi.empty() || o.k_file.empty() || o.opc_file.empty() || o.entity_id.empty()) {
    return usage_error("--gba needs --impi, --k-file, --opc-file and --entity-id");
  }
  if (o.ca.empty()) return usage_error("--gba needs --ca to verify the MEF's certificate");
  if (!o.kpm_id.empty() || !o.cert.empty()) return usage_error("--gba takes no --kpm-id or --cert");
  if (o.maf.empty() != o.maf_address.empty()) return usage_error("give --maf and --maf-address together");
  if (o.k_file == "-" && o.opc_file == "-") return usage_error("only one of --k-file and --opc-file may be '-'");
  if (!EntityId::parse(o.entity_id)) return usage_error("--entity-id is not a CSE-ID or AE-ID");
  client::Usim usim;
  auto k = read_hex_key_file(o.k_file, 16);
  if (!k) return usage_error(k.error());
  auto opc = read_hex_key_file(o.opc_file, 16);
  if (!opc) return usage_error(opc.error());
  usim.k = std::move(*k);
  usim.opc = std::move(*opc);
  // The USIM's SQN_MS survives in the state directory.
  client::DeviceState st;
  auto old = client::load_device_state(o.state);
  if (old && old->impi == o.impi) usim.sqn_ms = old->sqn_ms;
  auto ta = tls::load_trust_anchors(o.ca);
  if (!ta) return usage_error(ta.error());
  client::UbOptions ub;
  ub.transport = o.dtls ? tls::Transport::dtls : tls::Transport::tls;
  ub.host = ep.host;
  ub.port = ep.port;
  ub.bsf_fqdn = o.mef_fqdn;
  ub.trust = *ta;
  ub.impi = o.impi;
  ub.timeout = std::chrono::milliseconds(o.timeout_ms);
  const std::uint64_t sqn_before = usim.sqn_ms;
  auto boot = client::gba_bootstrap(ub, usim);
  if (!boot) {
    // A verified challenge moved SQN_MS even if the run failed later: the
    // USIM does not accept that SQN again, so it is kept: in the existing
    // state of this IMPI, or in a state that holds only the UICC's.
    if (usim.sqn_ms != sqn_before) {
      if (!old || old->impi != o.impi) {
        old = client::DeviceState{};
        old->enrolee_id = o.entity_id;
        old->mef_fqdn = o.mef_fqdn;
        old->target_kind = "gba";
        old->impi = o.impi;
      }
      old->sqn_ms = usim.sqn_ms;
      if (auto saved = client::save_device_state(o.state, *old, {}, {}, {}); !saved) {
        std::cerr << "m2msec: warning: SQN_MS not saved: " << saved.error().message() << "\n";
      }
    }
    return failure(boot.error());
  }
  st = client::gba_device_state(*boot, o.mef_fqdn, o.entity_id, o.maf, o.maf_address, usim.sqn_ms);
  if (auto s = client::save_device_state(o.state, st, boot->ks, {}, {}); !s) return failure(s.error());
  if (ctx.json) {
    print_json({{"impi", o.impi}, {"b_tid", boot->b_tid}, {"expiry", boot->expires_at}, {"entity_id", o.entity_id},
                {"target_kind", st.target_kind}, {"target", st.target}, {"sqn_ms", usim.sqn_ms}, {"state", o.state}});
  } else {
    std::cout << "bootstrapped  " << o.impi << "\nB-TID         " << boot->b_tid << "\nentity        " << o.entity_id
              << "\n" << (o.maf.empty() ? "" : "MAF           " + o.maf + "\n") << "expires       "
              << boot->expires_at << " (unix)\nstate in      " << o.state << "\n";
  }
  return kExitOk;
}

int run_enrol(Context& ctx, const EnrolOpts& o) {
  auto addr = proto::parse_service_address(o.mef);
  if (!addr) return usage_error(Error(addr.error().code(), "--mef: " + addr.error().detail()));
  const tls::Transport transport = addr->transport_or(o.dtls ? tls::Transport::dtls : tls::Transport::tls);
  if (o.gba) {
    if (addr->binding == proto::Binding::coap) {
      return usage_error("--gba: Ub is HTTP (TS 24.109); give --mef HOST:PORT (with --dtls for HTTP over DTLS)");
    }
    return run_gba(ctx, o, service::Endpoint{addr->host, addr->port});
  }
  auto enc = parse_id_encoding(o.encoding);
  if (!enc) return usage_error(enc.error());
  client::EnrolOptions eo;
  eo.transport = transport;
  std::optional<proto::Binding> preferred;
  if (!o.binding.empty()) preferred = *proto::parse_binding(o.binding);  // CLI checked the value
  eo.binding = addr->binding_or(transport, preferred);
  eo.host = addr->host;
  eo.port = addr->port;
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
      "derive Ke/KeID, run the enrolment exchange, derive Km (or Kpsa) and store it under --state; "
      "or, with --gba, bootstrap by GBA (the MEF as BSF)");
  cmd->add_option("--mef", o.mef,
                  "MEF address: HOST:PORT (TLS, or DTLS with --dtls), coaps://HOST:PORT (CoAP over DTLS) or "
                  "https://HOST:PORT (HTTP over TLS)")
      ->required();
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
  cmd->add_flag("--dtls", o.dtls, "Use DTLS 1.2 over UDP instead of TLS 1.2 over TCP (for a HOST:PORT address)");
  cmd->add_option("--binding", o.binding,
                  "oneM2M binding for a HOST:PORT address: coap (TS-0008, the default over DTLS) or http (TS-0009, "
                  "the default over TLS; over DTLS the legacy HTTP-in-DTLS)")
      ->check(CLI::IsMember({"http", "coap"}));
  cmd->add_option("--timeout-ms", o.timeout_ms, "Handshake and response timeout");
  cmd->add_flag("--gba", o.gba,
                "GBA-based bootstrap (TS-0003 8.3.2.3): run Ub at the MEF as BSF with a simulated UICC "
                "(--impi, --k-file, --opc-file), keep Ks under the B-TID; Km for the MAF (or Kpsa for Entity B) "
                "is derived per association (m2msec associate)");
  cmd->add_option("--impi", o.impi, "GBA: the IMPI (private user identity) the MEF knows the UICC by");
  cmd->add_option("--k-file", o.k_file, "GBA: file with the UICC's MILENAGE K (32 hex digits, mode 0600; '-' for stdin)");
  cmd->add_option("--opc-file", o.opc_file, "GBA: file with the UICC's OPc (32 hex digits, mode 0600; '-' for stdin)");
  cmd->add_option("--entity-id", o.entity_id, "GBA: this device's CSE-ID/AE-ID, as the MEF's subscriber record names it");
  cmd->add_option("--maf-address", o.maf_address, "GBA: the MAF's HOST:PORT (with --maf), for m2msec associate");
  add_json_flag(cmd, ctx);
  cmd->callback([&ctx] { ctx.run = [&ctx] { return run_enrol(ctx, o); }; });
}

}  // namespace m2msec::cli
