// id_cmd.cc: "m2msec id check", validation of TS-0003 identifiers.
#include <iostream>

#include "cli.h"
#include "m2msec/core/ids.h"

namespace m2msec::cli {
namespace {

struct IdOpts {
  std::string kind;
  std::string text;
  std::string encoding = "base64";
};

}  // namespace

void add_id_commands(CLI::App& app, Context& ctx) {
  static IdOpts o;
  CLI::App* id = app.add_subcommand("id", "Identifier tools");
  id->require_subcommand(1);
  CLI::App* check = id->add_subcommand(
      "check",
      "Validate an identifier: keid/kcid (10.3.4-5), kmid (10.6), kpsaid (10.5), credential "
      "(10.4), entity (CSE-ID/AE-ID) or fqdn. Exit 0 if valid, 2 if not.");
  add_json_flag(check, ctx);
  check->add_option("--kind", o.kind, "keid|kcid|kmid|kpsaid|credential|entity|fqdn")
      ->required()
      ->check(CLI::IsMember({"keid", "kcid", "kmid", "kpsaid", "credential", "entity", "fqdn"}));
  check->add_option("--id-encoding", o.encoding, "Relative-ID encoding for keid/kcid: base64 or hex")
      ->check(CLI::IsMember({"base64", "hex"}));
  check->add_option("id", o.text, "The identifier")->required();
  check->callback([&ctx] {
    ctx.run = [&ctx] {
      nlohmann::json j = {{"valid", true}, {"kind", o.kind}, {"id", o.text}};
      if (o.kind == "credential") {
        auto c = CredentialId::parse(o.text);
        if (!c) return usage_error(c.error());
        j["type_id"] = c->type_id();
        j["value"] = std::string(c->value());
      } else if (o.kind == "entity") {
        auto e = EntityId::parse(o.text);
        if (!e) return usage_error(e.error());
        j["entity"] = e->kind() == EntityKind::cse ? "cse" : "ae";
      } else if (o.kind == "fqdn") {
        auto f = Fqdn::parse(o.text);
        if (!f) return usage_error(f.error());
      } else {
        auto kind = parse_key_id_kind(o.kind);
        if (!kind) return usage_error(kind.error());
        auto enc = parse_id_encoding(o.encoding);
        if (!enc) return usage_error(enc.error());
        auto k = KeyId::parse(*kind, o.text, *enc);
        if (!k) return usage_error(k.error());
        j["relative"] = std::string(k->relative());
        j["fqdn"] = k->fqdn().str();
        j["canonical"] = k->canonical();
      }
      if (ctx.json) {
        print_json(j);
      } else {
        for (auto& [k, v] : j.items()) std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace m2msec::cli
