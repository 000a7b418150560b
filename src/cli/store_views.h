// store_views.h: what the operator commands that read or change a role's
// store share: opening a store that must already be there, and listing
// its rows a page at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
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

// opt is an optional value in a listing's JSON: the value, or null.
template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

// opt_time is an optional unix time as UTC text ("2025-01-31T12:00:00Z"),
// or null.
nlohmann::json opt_time(const std::optional<std::int64_t>& t);

// add_paging_options adds a listing's --limit (default |limit|'s value;
// 0 is refused, exit 2) and --after, whose text names the key |rows| are
// listed in the order of.
void add_paging_options(CLI::App* cmd, std::size_t& limit, std::string& after, const std::string& rows,
                        const std::string& key);

// more_follow tells the operator on stderr how to list the next page:
// "more <what> follow; continue with --after '<next>'".
void more_follow(const std::string& what, const std::optional<std::string>& next);

// print_page prints one page of a listing of |what|. With --json, one
// object: {"<what>": [to_json(row), ...], "count": N, "next_after": the
// key to continue after, or null}. Otherwise a table, |header| and then
// to_cells(row) per row (printable cells), and more_follow.
template <typename T, typename ToJson, typename ToCells>
int print_page(const Context& ctx, const std::string& what, const Paged<T>& page, ToJson to_json,
               std::vector<std::string> header, ToCells to_cells) {
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const T& r : page.rows) list.push_back(to_json(r));
    print_json({{what, std::move(list)}, {"count", page.rows.size()}, {"next_after", opt(page.next)}});
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table{std::move(header)};
  for (const T& r : page.rows) table.push_back(to_cells(r));
  print_table(table);
  more_follow(what, page.next);
  return kExitOk;
}

}  // namespace m2msec::cli
