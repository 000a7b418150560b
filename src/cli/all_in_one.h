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
  std::string ca_name, device_ca_name;  // the demo CAs' names, with a [pki] table
};

// load_all_in_one reads every role table of |path|, and the [pki] table
// if there is one. It creates nothing.
Result<AllInOne> load_all_in_one(const std::string& path);

// make_demo_pki creates, with a [pki] table, the demo CAs and the roles'
// certificates that do not exist yet (the servers' start, not operator
// or status commands); returns the files it created.
Result<std::vector<std::string>> make_demo_pki(const AllInOne& a);

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
