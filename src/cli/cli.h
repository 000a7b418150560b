// cli.h: shared plumbing for the m2msec command line.
//
// Each command group adds its subcommands to the root CLI::App and sets
// Context::run for the leaf that was chosen; main() runs it after parsing.
// Exit codes: 0 success, 1 operational failure (peer, network, refusal),
// 2 bad input or usage. Errors are one line on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/service/audit.h"
#include "m2msec/store/records.h"

namespace m2msec::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Context {
  bool json = false;          // --json: machine-readable output on stdout
  std::function<int()> run;   // set by the chosen leaf command
};

// usage_error prints "m2msec: error: <message>" to stderr; returns 2.
int usage_error(const Error& err);
int usage_error(const std::string& message);

// failure prints "m2msec: error: <message>" to stderr; returns 1.
int failure(const Error& err);

// print_json writes |j| as one line to stdout; ill-formed UTF-8 in strings
// is written as U+FFFD instead of throwing.
void print_json(const nlohmann::json& j);

// print_table writes rows to stdout as left-aligned columns separated by
// two spaces, each column as wide as its widest cell; the caller makes
// the cells printable.
void print_table(const std::vector<std::vector<std::string>>& rows);

// add_json_flag registers --json on |cmd|, bound to ctx.json.
void add_json_flag(CLI::App* cmd, Context& ctx);

void add_derive_commands(CLI::App& app, Context& ctx);
void add_id_commands(CLI::App& app, Context& ctx);
void add_mef_commands(CLI::App& app, Context& ctx);
void add_enrol_command(CLI::App& app, Context& ctx);
void add_maf_commands(CLI::App& app, Context& ctx);
void add_cse_commands(CLI::App& app, Context& ctx);
void add_associate_command(CLI::App& app, Context& ctx);
void add_state_init_command(CLI::App& app, Context& ctx);
void add_serve_command(CLI::App& app, Context& ctx);
void add_demo_command(CLI::App& app, Context& ctx);
void add_operator_commands(CLI::App& app, Context& ctx);
void add_status_command(CLI::App& app, Context& ctx);
void add_audit_command(CLI::App& app, Context& ctx);

// enrolee_target_kind reads --target-kind (|kind|), or guesses it from
// |target|: an FQDN names a MAF, a CSE-ID/AE-ID an Enrolee B (Kpsa, 10.3.3).
Result<store::TargetKind> enrolee_target_kind(const std::string& target, const std::string& kind);

// report_import ends a bulk import: with --json one object, |fields| plus
// "errors"; otherwise one "m2msec: error:" line per error and a summary
// (|done| when there were none). Returns kExitOk, or kExitUsage when any
// row was refused (then nothing was imported).
int report_import(const Context& ctx, nlohmann::json fields, const std::vector<std::string>& errors,
                  const std::string& done);

// record_operator appends |e| as an "operator" event to the audit trail
// |audit_file| of |role| (with |mas_id| for the MAF). If it cannot, it
// prints an error (the action itself was done) and returns false.
bool record_operator(const std::string& audit_file, const std::string& role, const std::string& mas_id,
                     service::AuditEvent e);

// amf_hex shows a GBA subscriber's AMF as 4 lower-case hex digits.
std::string amf_hex(std::uint16_t amf);

// fingerprint_argument normalises "sha256:<64 hex digits>" (either case)
// to the stored form, lower case. Fails with Errc::invalid_argument.
Result<std::string> fingerprint_argument(const std::string& text);

// trust_anchor_argument reads an enrolee's root of trust: a literal
// "sha256:<hex>" (fingerprint_argument), or a PEM file holding exactly one
// CA certificate, whose fingerprint it returns. Fails with
// Errc::invalid_argument (several certificates, malformed fingerprint),
// Errc::io_error or Errc::invalid_credentials.
Result<std::string> trust_anchor_argument(const std::string& text);

}  // namespace m2msec::cli
