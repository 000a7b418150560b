// m2msec/cse/cse.h: the CSE that holds resources, behind Entity B's
// acceptor (TS-0001 clause 9.6; TS-0004 JSON serialisation).
//
// The acceptor authenticates the originator and binds the session to its
// CSE-ID/AE-ID; the CSE receives each request with that identity
// (Originator), decides access by TS-0003 clause 7.1 (authz) over the
// <accessControlPolicy> resources it holds, and performs the operation on
// its resource tree (store::ResourceRepository). It never sees a socket.
//
// Resource types served: CSEBase (5), AE (2), container (3),
// contentInstance (4), accessControlPolicy (1), group (9); CREATE,
// RETRIEVE, UPDATE and DELETE (docs/cse.md lists what each accepts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/proto/primitive.h"
#include "m2msec/store/resource_repository.h"

namespace m2msec::cse {

// Settings describe the hosting CSE.
struct Settings {
  std::string cse_id;    // SP-relative CSE-ID, e.g. "/in-cse"
  std::string csebase;   // the CSEBase's resource name, e.g. "cb"
  std::string sp_id;     // the SP-ID's domain, e.g. "sp.example.com"
  std::vector<std::string> poa;  // pointOfAccess of the CSEBase
  std::size_t max_children = 10000;         // per parent resource
  std::size_t max_attributes = 64 * 1024;   // bytes of one resource's JSON
};

// Originator is who sent a request, as the acceptor established it.
struct Originator {
  std::string id;              // the bound CSE-ID/AE-ID ("" : none)
  bool authenticated = false;  // rq_authn: by a security association (TS-0003 7.1.2)
  std::optional<std::string> ip;  // rq_ip, when known
};

class Cse {
 public:
  // open binds the CSE to |repo| (borrowed, outlives the CSE) and creates
  // the CSEBase if the store has none. Fails with the store's error, or
  // Errc::invalid_argument for settings that name no CSE.
  static Result<std::unique_ptr<Cse>> open(Settings settings, store::ResourceRepository& repo, std::int64_t now);

  // handle performs |req| for |from| at time |now| (unix seconds) and
  // returns the response primitive: the target is found (4004 if there is
  // none), then the access decision (a deny is 4103), then the operation. Blocks on the store: call it from a worker. Never throws.
  proto::Response handle(const Originator& from, const proto::Request& req, std::int64_t now);

  const Settings& settings() const { return settings_; }

 private:
  Cse(Settings settings, store::ResourceRepository& repo) : settings_(std::move(settings)), repo_(repo) {}
  Settings settings_;
  store::ResourceRepository& repo_;
};

// ae_id_stem returns the AE-ID-Stem of an AE-ID in any of its forms
// (TS-0001 7.2: "Cxyz", "/in-cse/Cxyz" and "//sp/in-cse/Cxyz" all have
// the stem "Cxyz"; "Sxyz", "/Sxyz" and "//sp/Sxyz" the stem "Sxyz");
// std::nullopt for a CSE-ID or a malformed ID.
std::optional<std::string> ae_id_stem(std::string_view ae_id);

// ae_stem_here returns the AE-ID-Stem of |id| if it is an AE-ID this CSE
// registers: a C-AE-ID CSE-relative or of this CSE, an S-AE-ID of this SP.
// "" for a CSE-ID; std::nullopt for an AE-ID of another CSE or SP.
std::optional<std::string> ae_stem_here(std::string_view id, const Settings& s);

}  // namespace m2msec::cse
