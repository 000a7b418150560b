// m2msec/service/role_store.h: what the MEF and the MAF share around their
// stores: opening one, and answering a peer when a store lookup fails.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/store/store.h"

namespace m2msec::service {

// open_role_store opens <data_dir>/<db_name> (created on first use, the
// directory with mode 0700) with the KEK in |kek_file|. With |create_kek|,
// a missing KEK file is created (random, mode 0600); an existing one is
// never replaced. Fails with Errc::io_error, Errc::wrong_kek, ...
Result<std::unique_ptr<store::Store>> open_role_store(const std::string& data_dir, const std::string& kek_file,
                                                      const std::string& db_name, bool create_kek);

// store_refusal maps a failed store lookup onto the oneM2M answer a peer
// sees: not_found -> 4004, key_expired -> 4103, already_exists -> 4105;
// anything else is logged (with |role|) and answered 5000 without detail.
proto::Response store_refusal(const proto::Request& req, const Error& err, std::string_view what,
                              std::string_view role);

// revocation_feed answers RETRIEVE <prefix><after> from |log| with the
// entries meant for |holder| ("" all) after seq <after> (an integer >= -1;
// -1 asks for the head only): 2000 with a sec:rvf body, 4000 for a bad
// <after>, 5000 (logged with |role|) if the store fails. The caller has
// authorized the requester. Blocks on a store read: run it on a worker.
proto::Response revocation_feed(const proto::Request& req, std::string_view prefix, store::RevocationLog& log,
                                std::string_view holder, std::string_view role);

}  // namespace m2msec::service
