#include "import_rows.h"

#include <nlohmann/json.hpp>

#include "m2msec/core/secret.h"
#include "m2msec/core/secret_file.h"

namespace m2msec::cli {
namespace {

void wipe(std::string& s) { secure_wipe(s.data(), s.size()); }

// WipedStrings wipes each string it holds when it goes.
struct WipedStrings {
  std::vector<std::string> v;
  ~WipedStrings() {
    for (std::string& s : v) wipe(s);
  }
};

WipedStrings split_csv_line(const std::string& line) {
  WipedStrings out;
  std::string cur;
  cur.reserve(line.size());  // never reallocated: no unwiped copy of a key cell is freed
  for (char c : line) {
    if (c == ',') {
      out.v.emplace_back(trim_ascii_space(cur));
      wipe(cur);
      cur.clear();
    } else if (c != '\r') {
      cur.push_back(c);
    }
  }
  out.v.emplace_back(trim_ascii_space(cur));
  wipe(cur);
  return out;
}

Result<std::vector<ImportRow>> read_csv(std::string_view text, std::vector<std::string>* out_header) {
  std::vector<ImportRow> rows;
  std::vector<std::string> header;
  std::size_t n = 0;
  // Lines are cut from |text| in place (a stream would keep another copy
  // of the keys); each copy is wiped once split.
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    ++n;
    const bool skip = trim_ascii_space(line).empty() || line.starts_with("#");
    WipedStrings cells = skip ? WipedStrings{} : split_csv_line(line);
    wipe(line);
    if (skip) continue;
    if (header.empty()) {
      header = cells.v;
      if (out_header != nullptr) *out_header = header;
      continue;
    }
    if (cells.v.size() != header.size()) {
      return fail(Errc::malformed_message, "line " + std::to_string(n) + ": " + std::to_string(cells.v.size()) +
                                               " fields, header has " + std::to_string(header.size()));
    }
    ImportRow& r = rows.emplace_back();
    r.line = n;
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (!cells.v[i].empty()) r.f[header[i]] = cells.v[i];
    }
  }
  return rows;
}

// wipe_json wipes every string value of a parsed import document.
void wipe_json(nlohmann::json& j) {
  if (j.is_string()) {
    wipe(j.get_ref<std::string&>());
  } else if (j.is_structured()) {
    for (auto& v : j) wipe_json(v);
  }
}

Result<std::vector<ImportRow>> read_json(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  struct Wipe {
    nlohmann::json& j;
    ~Wipe() { wipe_json(j); }
  } wipe_after{j};
  if (j.is_discarded() || !j.is_array()) return fail(Errc::malformed_message, "JSON import must be an array of objects");
  std::vector<ImportRow> rows;
  std::size_t i = 0;
  for (const auto& o : j) {
    ++i;
    if (!o.is_object()) return fail(Errc::malformed_message, "row " + std::to_string(i) + ": not an object");
    ImportRow& r = rows.emplace_back();
    r.line = i;
    for (const auto& [k, v] : o.items()) {
      if (!v.is_string()) {
        return fail(Errc::malformed_message, "row " + std::to_string(i) + ": " + k + " must be a string");
      }
      r.f[k] = v.get_ref<const std::string&>();
    }
  }
  return rows;
}

}  // namespace

ImportRow::~ImportRow() {
  for (auto& [name, value] : f) wipe(value);
}

Result<std::vector<ImportRow>> read_import_rows(std::string_view text, const std::string& format,
                                                std::vector<std::string>* out_header) {
  if (format == "json") return read_json(text);
  return read_csv(text, out_header);
}

}  // namespace m2msec::cli
