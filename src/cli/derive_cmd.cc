// derive_cmd.cc: "m2msec derive ...", the TS-0003 clause 10.3 derivations.
//
// These commands exist to print keys: an operator or a test harness uses
// them to check a device's keys against the specification. The inputs are
// secrets and come only from files or stdin.
#include <iostream>

#include "cli.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/ids.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/crypto/derive.h"

namespace m2msec::cli {
namespace {

struct DeriveOpts {
  std::string key_file;
  std::string id;
  std::string fqdn;
  std::string encoding = "base64";
  unsigned suid = 0;
};

// emit prints one derived key: "<hex>" or {"<name>": "<hex>"}.
int emit(const Context& ctx, const char* name, const Result<SecretBytes>& key) {
  if (!key) return usage_error(key.error());
  const std::string hex = hex_encode(key->view());
  if (ctx.json) {
    print_json({{name, hex}});
  } else {
    std::cout << hex << "\n";
  }
  return kExitOk;
}

// require_id refuses an empty identifier (exit 2). Every derivation here
// binds its key to an identifier; HMAC over the label alone is defined but
// is never what an operator means, so "--enrolee-b-id ''" is an error
// rather than a key for nobody.
bool require_id(std::string_view option, const std::string& value) {
  if (!value.empty()) return true;
  usage_error(std::string(option) + " must not be empty");
  return false;
}

// key_command adds a derivation subcommand with --json.
CLI::App* key_command(CLI::App* derive, Context& ctx, const char* name, const char* help) {
  CLI::App* cmd = derive->add_subcommand(name, help);
  add_json_flag(cmd, ctx);
  return cmd;
}

}  // namespace

void add_derive_commands(CLI::App& app, Context& ctx) {
  static DeriveOpts o;
  CLI::App* derive = app.add_subcommand(
      "derive",
      "TS-0003 clause 10.3 key derivations. Key files hold hex text (whitespace ignored) and "
      "must be mode 0600; '-' reads stdin.");
  derive->require_subcommand(1);

  CLI::App* km = key_command(derive, ctx, "km",
                             "Km = HMAC-SHA-256(Ke, \"oneM2M Enrolment Key to Master Credential "
                             "derivation\" || NFKC(MAF-ID))  (10.3.2), the MAF-ID being the MAF-FQDN "
                             "with ASCII letters lowercased, as the MEF forms it");
  km->add_option("--ke-file", o.key_file, "File holding Ke (32 bytes, hex)")->required();
  km->add_option("--maf-id", o.id, "MAF-FQDN (UTF-8; ASCII letters are lowercased, then NFKC is applied)")
      ->required();
  km->callback([&ctx] {
    ctx.run = [&ctx] {
      if (!require_id("--maf-id", o.id)) return kExitUsage;
      auto ke = read_hex_key_file(o.key_file, crypto::kKeySize);
      if (!ke) return usage_error(ke.error());
      return emit(ctx, "km", crypto::derive_km(ke->view(), crypto::maf_id_for_km(o.id)));
    };
  });

  CLI::App* kpsa = key_command(derive, ctx, "kpsa",
                               "Kpsa = HMAC-SHA-256(Ke, \"oneM2M Enrolment Key to Provisioned Secure "
                               "Connection Key derivation\" || NFKC(Enrolee-B-ID))  (10.3.3)");
  kpsa->add_option("--ke-file", o.key_file, "File holding Ke (32 bytes, hex)")->required();
  kpsa->add_option("--enrolee-b-id", o.id, "Enrolee B's CSE-ID or AE-ID (UTF-8; NFKC is applied)")
      ->required();
  kpsa->callback([&ctx] {
    ctx.run = [&ctx] {
      if (!require_id("--enrolee-b-id", o.id)) return kExitUsage;
      auto ke = read_hex_key_file(o.key_file, crypto::kKeySize);
      if (!ke) return usage_error(ke.error());
      return emit(ctx, "kpsa", crypto::derive_kpsa(ke->view(), o.id));
    };
  });

  CLI::App* split = derive->add_subcommand(
      "split",
      "Split a 48-byte TLS exporter output (10.3.1): ID = bytes 0..15, key = bytes 16..47; "
      "ID = encode(relative)@FQDN (10.3.4, 10.3.5)");
  add_json_flag(split, ctx);
  split->add_option("--exported-file", o.key_file, "File holding the exporter output (96 hex characters)")
      ->required();
  split->add_option("--fqdn", o.fqdn, "MEF-FQDN (for a KeID) or MAF-FQDN (for a KcID)")->required();
  split->add_option("--id-encoding", o.encoding, "base64 (seed default) or hex (V3.18)")
      ->check(CLI::IsMember({"base64", "hex"}));
  split->callback([&ctx] {
    ctx.run = [&ctx] {
      auto enc = parse_id_encoding(o.encoding);
      if (!enc) return usage_error(enc.error());
      auto fqdn = Fqdn::parse(o.fqdn);
      if (!fqdn) return usage_error(fqdn.error());
      auto exported = read_hex_key_file(o.key_file, crypto::kExportedSize);
      if (!exported) return usage_error(exported.error());
      auto parts = crypto::split_exported(exported->view());
      if (!parts) return usage_error(parts.error());
      auto id = KeyId::from_relative(KeyIdKind::ke, parts->relative_id, *fqdn, *enc);
      if (!id) return usage_error(id.error());
      const std::string key_hex = hex_encode(parts->key.view());
      if (ctx.json) {
        print_json({{"key", key_hex}, {"id", id->str()}});
      } else {
        std::cout << "key " << key_hex << "\nid  " << id->str() << "\n";
      }
      return kExitOk;
    };
  });

  CLI::App* usage = key_command(derive, ctx, "usage-key",
                                "Usage-constrained key (10.3.7): HMAC-SHA-256(Ke, \"oneM2M Enrolment "
                                "Key to Usage-Constrained Symmetric Key derivation\" || SUID || "
                                "NFKC(Enrolment-Target-ID)); SUID as decimal ASCII");
  usage->add_option("--ke-file", o.key_file, "File holding Ke (32 bytes, hex)")->required();
  usage->add_option("--suid", o.suid, "Security Usage Identifier, 1..999")->required();
  usage->add_option("--target-id", o.id, "Enrolment-Target-ID: an FQDN (UTF-8; NFKC is applied)")
      ->required();
  usage->callback([&ctx] {
    ctx.run = [&ctx] {
      if (!require_id("--target-id", o.id)) return kExitUsage;
      auto ke = read_hex_key_file(o.key_file, crypto::kKeySize);
      if (!ke) return usage_error(ke.error());
      return emit(ctx, "key", crypto::derive_usage_constrained(ke->view(), o.suid, o.id));
    };
  });

  CLI::App* e2e = key_command(derive, ctx, "e2e",
                              "End-to-end keys (10.3.6): Ke2e_master = HMAC-SHA-256(NFKC(source "
                              "ID), Kpsa), then the four expanded keys");
  e2e->add_option("--kpsa-file", o.key_file, "File holding Kpsa (32 bytes, hex)")->required();
  e2e->add_option("--source-id", o.id, "Source ESF End-Point-B-ID (UTF-8; NFKC is applied)")->required();
  e2e->callback([&ctx] {
    ctx.run = [&ctx] {
      if (!require_id("--source-id", o.id)) return kExitUsage;
      auto kpsa_key = read_hex_key_file(o.key_file, crypto::kKeySize);
      if (!kpsa_key) return usage_error(kpsa_key.error());
      auto master = crypto::derive_e2e_master(kpsa_key->view(), o.id);
      if (!master) return usage_error(master.error());
      auto keys = crypto::expand_e2e(master->view());
      if (!keys) return usage_error(keys.error());
      const nlohmann::json j = {{"master", hex_encode(master->view())},
                                {"msg_auth", hex_encode(keys->msg_auth.view())},
                                {"msg_conf", hex_encode(keys->msg_conf.view())},
                                {"att_auth", hex_encode(keys->att_auth.view())},
                                {"att_conf", hex_encode(keys->att_conf.view())}};
      if (ctx.json) {
        print_json(j);
      } else {
        for (const char* k : {"master", "msg_auth", "msg_conf", "att_auth", "att_conf"}) {
          std::cout << k << std::string(9 - std::string_view(k).size(), ' ') << j[k].get<std::string>() << "\n";
        }
      }
      return kExitOk;
    };
  });
}

}  // namespace m2msec::cli
