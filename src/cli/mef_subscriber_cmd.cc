// mef_subscriber_cmd.cc: "m2msec mef subscriber add|import|remove", the GBA
// subscribers of the MEF acting as a BSF (TS 33.220): IMPI, MILENAGE K and
// OPc, SQN and AMF, and the GUSS of TS-0003 8.3.2.3 (the enrolee the
// subscriber is, and the one Enrolment Target that may get its Ks_NAF).
// K and OP/OPc come only from 0600 files (or stdin), are held in wiping
// memory and are never printed; given OP, only OPc = E_K(OP) xor OP
// (TS 35.206) is stored. ("subscriber list" is with the
// other read-only views in mef_list_cmd.cc.)
#include <charconv>
#include <iostream>
#include <set>

#include "cli.h"
#include "store_views.h"
#include "import_rows.h"
#include "m2msec/core/encoding.h"
#include "m2msec/core/secret_file.h"
#include "m2msec/crypto/milenage.h"
#include "m2msec/mef/mef.h"
#include "m2msec/service/runtime.h"

namespace m2msec::cli {
namespace {

// kMaxImportFileSize bounds an import file (held in wiped memory).

struct SubscriberOpts {
  std::string config, impi, k_file, opc_file, op_file, sqn = "0", amf = "0000", enrolee_id, target, target_kind,
      file, format;
};

Result<mef::MefConfig> load_config(const std::string& path) {
  auto file = service::ConfigFile::load(path);
  if (!file) return std::unexpected(file.error());
  return mef::load_mef_config(*file);
}

// parse_sqn reads a decimal SQN below 2^48.
Result<std::uint64_t> parse_sqn(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v >= store::kSqnLimit) {
    return fail(Errc::invalid_argument, "sqn must be a decimal number below 2^48 (281474976710656)");
  }
  return v;
}

// parse_amf reads an AMF as 4 hex digits (e.g. 8000).
Result<std::uint16_t> parse_amf(std::string_view text) {
  std::uint16_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (text.size() != 4 || ec != std::errc() || end != text.data() + text.size()) {
    return fail(Errc::invalid_argument, "amf must be 4 hex digits, e.g. 8000");
  }
  return v;
}

// Guss is a subscriber's GBA User Security Settings as TS-0003 8.3.2.3
// uses them: the enrolee it is and its Enrolment Target, whose kind is
// guessed from the target when not given (enrolee_target_kind).
struct Guss {
  std::string enrolee_id, target, target_kind;
};

// make_subscriber builds and checks one subscriber. |op_or_opc| is OP if
// |is_op| (then OPc is derived from it and it is dropped), else OPc.
Result<store::GbaSubscriber> make_subscriber(const std::string& impi, SecretBytes k, SecretBytes op_or_opc,
                                             bool is_op, std::string_view sqn, std::string_view amf,
                                             const Guss& guss) {
  store::GbaSubscriber s;
  s.impi = impi;
  s.enrolee_id = guss.enrolee_id;
  s.target = guss.target;
  auto kind = enrolee_target_kind(guss.target, guss.target_kind);
  if (!kind) return std::unexpected(kind.error());
  s.target_kind = *kind;
  if (is_op) {
    auto opc = crypto::milenage_opc(k.view(), op_or_opc.view());
    if (!opc) return fail(opc.error().code(), "K and OP must be 16 bytes (32 hex digits) each");
    s.opc = std::move(*opc);
  } else {
    s.opc = std::move(op_or_opc);
  }
  s.k = std::move(k);
  auto n = parse_sqn(sqn);
  if (!n) return std::unexpected(n.error());
  s.sqn = *n;
  auto a = parse_amf(amf);
  if (!a) return std::unexpected(a.error());
  s.amf = *a;
  if (auto st = store::validate_gba_subscriber(s); !st) return std::unexpected(st.error());
  return s;
}

// input_error says whether a refusal is the operator's input (exit 2)
// rather than an operational failure (exit 1).
bool input_error(Errc code) {
  switch (code) {
    case Errc::already_exists:
    case Errc::not_found:
    case Errc::invalid_argument:
    case Errc::invalid_identifier:
    case Errc::invalid_fqdn:
    case Errc::invalid_length:
      return true;
    default:
      return false;
  }
}

int add(Context& ctx, const SubscriberOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  if (o.opc_file.empty() == o.op_file.empty()) return usage_error("give exactly one of --opc-file and --op-file");
  const std::string& second_file = o.op_file.empty() ? o.opc_file : o.op_file;
  if (o.k_file == "-" && second_file == "-") return usage_error("only one key file can be '-' (stdin)");
  auto k = read_hex_key_file(o.k_file, crypto::kMilenageKeySize);
  if (!k) return usage_error(k.error());
  auto second = read_hex_key_file(second_file, crypto::kMilenageKeySize);
  if (!second) return usage_error(second.error());
  auto s = make_subscriber(o.impi, std::move(*k), std::move(*second), !o.op_file.empty(), o.sqn, o.amf,
                           {o.enrolee_id, o.target, o.target_kind});
  if (!s) return usage_error(s.error());
  auto db = mef::open_mef_store(*cfg, /*create_kek=*/true);
  if (!db) return failure(db.error());
  const std::int64_t now = service::now_unix();
  if (auto st = (*db)->mef().add_subscriber(*s, now); !st) {
    return input_error(st.error().code()) ? usage_error(st.error()) : failure(st.error());
  }
  if (!record_operator(cfg->audit_file, "mef", "", service::operator_event("add", "gba_subscriber", s->impi))) {
    return kExitFailure;
  }
  if (ctx.json) {
    print_json({{"impi", s->impi},
                {"sqn", s->sqn},
                {"amf", amf_hex(s->amf)},
                {"enrolee_id", s->enrolee_id},
                {"target_kind", store::target_kind_name(s->target_kind)},
                {"target", s->target},
                {"created_at", now}});
  } else {
    std::cout << "added GBA subscriber " << s->impi << " (SQN " << s->sqn << ", AMF " << amf_hex(s->amf)
              << ") for enrolee " << s->enrolee_id << ", Ks_NAF for " << store::target_kind_name(s->target_kind)
              << " target " << s->target << " only\n";
  }
  return kExitOk;
}

// to_subscriber reads one import row: impi, k, and opc or op (32 hex
// digits each), enrolee_id and target, optional sqn (decimal), amf (4 hex
// digits) and target_kind (maf|kpsa, else guessed from target).
Result<store::GbaSubscriber> to_subscriber(ImportRow& r) {
  static const std::set<std::string> known = {"impi", "k",          "opc",    "op",         "sqn",
                                              "amf",  "enrolee_id", "target", "target_kind"};
  for (const auto& [name, value] : r.f) {
    if (!known.count(name)) return fail(Errc::invalid_argument, "unknown column " + printable_text(name));
  }
  if (r.f.count("opc") == r.f.count("op")) return fail(Errc::invalid_argument, "give exactly one of opc and op");
  const bool is_op = r.f.count("op") != 0;
  auto k = hex_decode_secret(r.f["k"]);
  if (!k) return fail(Errc::invalid_hex, "k must be hex");
  auto second = hex_decode_secret(r.f[is_op ? "op" : "opc"]);
  if (!second) return fail(Errc::invalid_hex, is_op ? "op must be hex" : "opc must be hex");
  return make_subscriber(r.f["impi"], std::move(*k), std::move(*second), is_op,
                         r.f.count("sqn") ? r.f["sqn"] : "0", r.f.count("amf") ? r.f["amf"] : "0000",
                         {r.f["enrolee_id"], r.f["target"], r.f.count("target_kind") ? r.f["target_kind"] : ""});
}

int import(Context& ctx, const SubscriberOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  std::string format = o.format;
  if (format.empty()) format = o.file.ends_with(".json") ? "json" : "csv";
  // The file holds K and OP/OPc values: a secret file (mode 0600).
  auto text = read_secret_file(o.file, kMaxImportFileSize);
  if (!text) return usage_error(text.error());
  auto rows = read_import_rows(text->view(), format);
  if (!rows) return usage_error(rows.error());

  std::vector<store::GbaSubscriber> subscribers;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    auto s = to_subscriber((*rows)[i]);
    if (!s) {
      errors.push_back("row " + std::to_string(i + 1) + " (line " + std::to_string((*rows)[i].line) +
                       "): " + s.error().message());
    } else {
      subscribers.push_back(std::move(*s));
    }
  }
  std::size_t imported = 0;
  if (errors.empty()) {
    auto db = mef::open_mef_store(*cfg, /*create_kek=*/true);
    if (!db) return failure(db.error());
    std::vector<store::RowError> row_errors;
    auto n = (*db)->mef().import_subscribers(subscribers, service::now_unix(), &row_errors);
    for (const auto& re : row_errors) {
      errors.push_back("row " + std::to_string(re.row) + " (line " + std::to_string((*rows)[re.row - 1].line) +
                       "): " + re.error.message());
    }
    if (!n && errors.empty()) return failure(n.error());
    if (n) imported = *n;
    service::AuditEvent ev = service::operator_event("import", "gba_subscriber", "");
    ev.count = static_cast<std::int64_t>(imported);
    if (n && !record_operator(cfg->audit_file, "mef", "", std::move(ev))) return kExitFailure;
  }
  return report_import(ctx, {{"file", o.file}, {"rows", rows->size()}, {"imported", imported}}, errors,
                       "imported " + std::to_string(imported) + " GBA subscribers from " + o.file);
}

int remove(Context& ctx, const SubscriberOpts& o) {
  auto cfg = load_config(o.config);
  if (!cfg) return usage_error(cfg.error());
  auto db = open_existing_mef(*cfg);
  if (!db) return failure(db.error());
  if (auto st = (*db)->mef().remove_subscriber(o.impi); !st) {
    return st.error().code() == Errc::not_found ? usage_error(st.error()) : failure(st.error());
  }
  if (!record_operator(cfg->audit_file, "mef", "", service::operator_event("remove", "gba_subscriber", o.impi))) {
    return kExitFailure;
  }
  if (ctx.json) {
    print_json({{"removed", o.impi}});
  } else {
    std::cout << "removed GBA subscriber " << o.impi
              << " and its bootstrapping sessions; its B-TIDs no longer resolve, and the MAF or Entity B that "
                 "holds a Ks_NAF of one drops it (revocation feed)\n";
  }
  return kExitOk;
}

}  // namespace

std::string amf_hex(std::uint16_t amf) {
  const std::uint8_t b[2] = {static_cast<std::uint8_t>(amf >> 8), static_cast<std::uint8_t>(amf)};
  return hex_encode(b);
}

void add_mef_subscriber_commands(CLI::App* subscriber, Context& ctx) {
  static SubscriberOpts o;
  CLI::App* add_cmd = subscriber->add_subcommand(
      "add",
      "Register a GBA subscriber: its IMPI and MILENAGE K and OPc (or OP, from which OPc is computed and stored "
      "instead), and its GUSS (TS-0003 8.3.2.3): the enrolee it is (one IMPI per enrolee) and its Enrolment "
      "Target, the only NAF that may get this subscriber's Ks_NAF (Zn). Never replaces");
  add_cmd->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  add_cmd->add_option("--impi", o.impi, "IMPI, e.g. 001010123456789@ims.mnc001.mcc001.3gppnetwork.org")->required();
  add_cmd->add_option("--k-file", o.k_file, "File holding K (32 hex digits, mode 0600; '-' for stdin)")->required();
  add_cmd->add_option("--opc-file", o.opc_file, "File holding OPc (32 hex digits, mode 0600; '-' for stdin)");
  add_cmd->add_option("--op-file", o.op_file,
                      "File holding the operator's OP (32 hex digits, mode 0600; '-' for stdin); OPc = E_K(OP) xor "
                      "OP is stored, OP is not");
  add_cmd->add_option("--sqn", o.sqn, "Highest SQN already used with this K, decimal below 2^48 (default 0)");
  add_cmd->add_option("--amf", o.amf, "AMF of the challenges, 4 hex digits (default 0000)");
  add_cmd->add_option("--enrolee-id", o.enrolee_id, "The device's CSE-ID/AE-ID (at most one IMPI each)")->required();
  add_cmd->add_option("--target", o.target,
                      "Enrolment Target, the only NAF that may get this subscriber's Ks_NAF (Zn): a MAF-FQDN, or "
                      "Enrolee B's CSE-ID/AE-ID")
      ->required();
  add_cmd->add_option("--target-kind", o.target_kind, "maf|kpsa (default: guessed from --target)")
      ->check(CLI::IsMember({"maf", "kpsa"}));
  add_json_flag(add_cmd, ctx);
  add_cmd->callback([&ctx] { ctx.run = [&ctx] { return add(ctx, o); }; });

  CLI::App* imp = subscriber->add_subcommand(
      "import",
      "Bulk-register GBA subscribers from CSV (header: impi,k,opc or impi,k,op, then enrolee_id,target, then "
      "optional target_kind,sqn,amf, in any order) or a JSON array of objects with those keys (string values). K, OP "
      "and OPc are 32 hex digits; sqn decimal, amf 4 hex digits; target_kind maf|kpsa (default: guessed from "
      "target). The target is the only NAF that may get the subscriber's Ks_NAF (Zn); one IMPI per enrolee_id. All "
      "or nothing; every bad row is reported. The file holds keys: mode 0600.");
  imp->add_option("file,--file", o.file, "CSV or JSON file ('-' for stdin)")->required();
  imp->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  imp->add_option("--format", o.format, "csv|json (default: from the file name)")
      ->check(CLI::IsMember({"csv", "json"}));
  add_json_flag(imp, ctx);
  imp->callback([&ctx] { ctx.run = [&ctx] { return import(ctx, o); }; });

  CLI::App* rm = subscriber->add_subcommand(
      "remove", "Remove a GBA subscriber, its keys and its bootstrapping sessions: their B-TIDs stop resolving and "
      "every Ks_NAF derived from them (Km at the MAF, Kpsa at Entity B) is revoked through the revocation feed");
  rm->add_option("--config", o.config, "TOML file with a [mef] table")->required();
  rm->add_option("--impi", o.impi, "IMPI")->required();
  add_json_flag(rm, ctx);
  rm->callback([&ctx] { ctx.run = [&ctx] { return remove(ctx, o); }; });
}

}  // namespace m2msec::cli
