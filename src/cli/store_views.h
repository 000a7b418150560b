// store_views.h: what the operator commands that read or change a role's
// store share: opening a store that must already be there, and paging
// through its rows.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "m2msec/core/error.h"
#include "m2msec/maf/maf.h"
#include "m2msec/mef/mef.h"
#include "m2msec/store/listing.h"
#include "m2msec/store/store.h"

namespace m2msec::cli {

// open_existing_mef / open_existing_maf open the role's store for a
// command that reads or changes what is there (listings, remove, revoke,
// rotate, retarget). A role with no store yet is Errc::not_found ("no MEF
// database in DIR (... creates it)", naming the commands that create one),
// and nothing is created: no data directory, no KEK, no database.
Result<std::unique_ptr<store::Store>> open_existing_mef(const mef::MefConfig& cfg);
Result<std::unique_ptr<store::Store>> open_existing_maf(const maf::MafConfig& cfg);

// Paged is up to --limit rows of a listing, and the key the next page
// starts after if there may be more.
template <typename T>
struct Paged {
  std::vector<T> rows;
  std::optional<std::string> next;
};

// page_through calls |fetch| (Page -> Result<vector<T>>) with pages of at
// most kMaxPageLimit from after |after|, until it has |limit| rows or a
// page comes back short. |key| gives a row's page key.
template <typename T, typename Fetch, typename Key>
Result<Paged<T>> page_through(std::size_t limit, const std::string& after, Fetch fetch, Key key) {
  Paged<T> out;
  store::Page page{after, 0};
  bool full = false;
  while (out.rows.size() < limit) {
    page.limit = std::min(limit - out.rows.size(), store::kMaxPageLimit);
    auto got = fetch(page);
    if (!got) return std::unexpected(got.error());
    full = got->size() == page.limit;
    for (auto& r : *got) out.rows.push_back(std::move(r));
    if (!full) break;
    page.after = key(out.rows.back());
  }
  // A full last page: there may be more.
  if (full && !out.rows.empty()) out.next = key(out.rows.back());
  return out;
}

// more_follow tells the operator on stderr how to list the next page:
// "more <what> follow; continue with --after '<next>'".
void more_follow(const std::string& what, const std::optional<std::string>& next);

}  // namespace m2msec::cli
