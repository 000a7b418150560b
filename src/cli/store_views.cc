// store_views.cc: see store_views.h.
#include "store_views.h"

#include "m2msec/core/encoding.h"
#include "m2msec/core/endpoint.h"
#include "m2msec/service/role_store.h"

namespace m2msec::cli {
namespace {

template <typename Cfg, typename Open>
Result<std::unique_ptr<store::Store>> open_existing(const Cfg& cfg, const std::string& role, const std::string& db_name,
                                                    const std::string& creators, Open open) {
  if (!service::store_exists(cfg.store, cfg.data_dir, db_name, cfg.kek_file)) {
    const std::string where = cfg.store.backend == service::StoreBackend::postgres
                                  ? "yet: no KEK at " + cfg.kek_file
                                  : "in " + cfg.data_dir;
    return fail(Errc::not_found, "no " + role + " database " + where + " (" + creators + " creates it)");
  }
  return open(cfg, /*create_kek=*/false);
}

}  // namespace

Result<std::unique_ptr<store::Store>> open_existing_mef(const mef::MefConfig& cfg) {
  return open_existing(cfg, "MEF", "mef.db", "mef enrolee add/import, mef subscriber add/import or mef serve",
                       mef::open_mef_store);
}

Result<std::unique_ptr<store::Store>> open_existing_maf(const maf::MafConfig& cfg) {
  return open_existing(cfg, "MAF", "maf.db", "maf client add/import or maf serve", maf::open_maf_store);
}

nlohmann::json opt_time(const std::optional<std::int64_t>& t) { return t ? nlohmann::json(format_utc(*t)) : nullptr; }

void add_paging_options(CLI::App* cmd, std::size_t& limit, std::string& after, const std::string& rows,
                        const std::string& key) {
  cmd->add_option("--limit", limit, "At most this many " + rows + " (default " + std::to_string(limit) + ")")
      ->check(CLI::Validator(
          [](std::string& v) {  // digits only ("-1" would wrap to SIZE_MAX), not all zeros
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return std::string("not a number");
            return v.find_first_not_of('0') == std::string::npos ? std::string("must be at least 1") : std::string();
          },
          "", "at least 1"));
  cmd->add_option("--after", after, "Start after this " + key + " (paging)");
}

void more_follow(const std::string& what, const std::optional<std::string>& next) {
  if (next) std::cerr << "more " << what << " follow; continue with --after '" << printable_text(*next) << "'\n";
}

}  // namespace m2msec::cli
