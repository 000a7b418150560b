// all_in_one.h: loading and starting several roles from one config file
// ("m2msec serve" and "m2msec demo").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/entityb/entityb.h"
#include "m2msec/maf/maf.h"
#include "m2msec/mef/mef.h"

namespace m2msec::cli {

struct AllInOne {
  std::optional<mef::MefConfig> mef;
  std::optional<maf::MafConfig> maf;
  std::optional<entityb::CseConfig> cse;
  std::string pki_dir;  // "" without a [pki] table
};

// load_all_in_one reads every role table of |path|. With |out_created|
// (the servers' start) and a [pki] table, it also creates the demo CAs and
// the roles' certificates that do not exist yet, listing the files it
// created there; without it (operator and status commands) it creates
// nothing.
Result<AllInOne> load_all_in_one(const std::string& path, std::vector<std::string>* out_created);

struct RunningAllInOne {
  RunningAllInOne();
  RunningAllInOne(RunningAllInOne&&) noexcept;
  ~RunningAllInOne();
  std::unique_ptr<mef::MefServer> mef;
  std::unique_ptr<maf::MafServer> maf;
  std::unique_ptr<entityb::CseServer> cse;
};

// start_all_in_one starts the configured roles: MEF, then MAF, then
// Entity B. Fails with the first role's error, prefixed by its name.
Result<RunningAllInOne> start_all_in_one(AllInOne a);

}  // namespace m2msec::cli
