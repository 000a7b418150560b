// import_rows.h: the rows of a bulk import file ("mef enrolee import",
// "mef subscriber import"): CSV with a header line, or a JSON array of
// objects whose values are strings. The files hold keys, so every copy
// of a cell this reader makes is wiped once it is done with.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "m2msec/core/error.h"

namespace m2msec::cli {

// kMaxImportFileSize bounds a bulk import file (read as one secret file).
inline constexpr std::size_t kMaxImportFileSize = 256u << 20;

// ImportRow is one data row by column name (empty CSV cells are left
// out). |line| is its line in a CSV file, or its 1-based index in a JSON
// array. Every value is wiped on destruction: key columns hold secrets.
struct ImportRow {
  std::size_t line = 0;
  std::map<std::string, std::string> f;

  ImportRow() = default;
  ImportRow(ImportRow&&) noexcept = default;
  ImportRow& operator=(ImportRow&&) noexcept = default;
  ImportRow(const ImportRow&) = delete;
  ImportRow& operator=(const ImportRow&) = delete;
  ~ImportRow();
};

// read_import_rows parses |text| as |format| ("csv" or "json"). CSV: the
// first line that is not blank or a '#' comment is the header; every
// later such line must have as many fields. Fails with
// Errc::malformed_message naming the line or row, never a cell's value.
// |out_header|, if set, receives a CSV file's column names (so a caller can
// check the columns once, even those whose every cell is empty).
Result<std::vector<ImportRow>> read_import_rows(std::string_view text, const std::string& format,
                                                std::vector<std::string>* out_header = nullptr);

}  // namespace m2msec::cli
