// m2msec/store/resource_repository.h: the resource tree of the CSE behind
// Entity B (TS-0001 clause 9.6): one row per resource, linked to its parent.
//
// The repository keeps the tree's shape and rules (a resource name unique
// among its siblings, a parent that exists, a subtree deleted with its
// root); what a resource holds is its JSON attributes, which the CSE
// (src/cse) validates and serialises. Nothing here is secret: resource
// attributes are application data, stored as given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::store {

// ResourceRecord is one resource.
struct ResourceRecord {
  std::string ri;          // resourceID: unique in the CSE
  std::string pi;          // parentID: the parent's ri; "" only for the CSEBase
  std::string rn;          // resourceName: unique among the children of pi
  int ty = 0;              // resourceType (TS-0004 m2m:resourceType)
  std::string attributes;  // the resource's attributes, a JSON object text
  std::int64_t created_at = 0;  // unix seconds, given by the caller
};

// ResourceRepository is implemented once over the SQL interface (table
// cse_resources, docs/storage.md). Every method is thread-safe and never
// throws; a write returns only after it is durably committed. Identifiers
// and names are compared exactly (byte for byte); a stored ri, pi or rn is
// non-empty printable UTF-8 (check_printable_utf8), so a lookup by
// anything else finds nothing. A parent |pi| of "" names the top level,
// where the CSEBase is. A |ty| filter of 0 means any type; a negative one
// is Errc::invalid_argument. Errc::store_error for a database failure.
class ResourceRepository {
 public:
  virtual ~ResourceRepository() = default;

  // create stores |r|. Errc::invalid_argument if ri or rn is empty, if
  // ri, rn or a non-empty pi is not printable UTF-8, if ty is not
  // positive, or if the attributes hold a NUL byte; Errc::not_found if pi
  // names no resource; Errc::already_exists if the ri is taken, if the
  // parent already has a child named rn, or if pi is empty and the CSE
  // already has its root (only one resource is without a parent).
  virtual Status create(const ResourceRecord& r) = 0;

  // get returns the resource |ri| (Errc::not_found).
  virtual Result<ResourceRecord> get(std::string_view ri) = 0;

  // child returns the child of |pi| named |rn| (Errc::not_found).
  virtual Result<ResourceRecord> child(std::string_view pi, std::string_view rn) = 0;

  // children returns up to |limit| children of |pi| (of type |ty|, or of
  // any type if |ty| is 0), oldest first: by created_at, then in the order
  // they were created. A |limit| of 0 returns none.
  virtual Result<std::vector<ResourceRecord>> children(std::string_view pi, int ty, std::size_t limit) = 0;

  // count_children counts the children of |pi| of type |ty| (0: any).
  virtual Result<std::size_t> count_children(std::string_view pi, int ty) = 0;

  // update replaces the attributes of |ri| (Errc::not_found;
  // Errc::invalid_argument if they hold a NUL byte).
  virtual Status update(std::string_view ri, std::string_view attributes) = 0;

  // replace is update if the stored attributes are still |expected|
  // (compare and swap, so that a write based on an older read, e.g. one
  // whose access decision used an accessControlPolicyIDs since changed,
  // never lands): true if replaced, false if they changed meanwhile.
  // Errc::not_found, Errc::invalid_argument as update.
  virtual Result<bool> replace(std::string_view ri, std::string_view expected, std::string_view attributes) = 0;

  // remove deletes |ri| and every resource below it, in one transaction,
  // and returns how many went (Errc::not_found if |ri| is absent).
  virtual Result<std::size_t> remove(std::string_view ri) = 0;

  // remove_oldest_child deletes the oldest child of |pi| of type |ty| (0:
  // any), in the order children() lists them, with its subtree, and
  // returns its ri (Errc::not_found if there is none): a container's
  // maxNrOfInstances.
  virtual Result<std::string> remove_oldest_child(std::string_view pi, int ty) = 0;
};

}  // namespace m2msec::store
