// store_views.cc: see store_views.h.
#include "store_views.h"

#include "m2msec/core/encoding.h"
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

void more_follow(const std::string& what, const std::optional<std::string>& next) {
  if (next) std::cerr << "more " << what << " follow; continue with --after '" << printable_text(*next) << "'\n";
}

}  // namespace m2msec::cli
