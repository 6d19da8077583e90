// Parses an administrator's CSV export: untrusted text. Bounded by kMaxCsvLines lines of
// kMaxCsvLineLength bytes; every field is checked (names exact after lower-casing, dates and
// sizes through their strict parsers, counts through from_chars); a duplicate address or
// alias inside the file is reported with both line numbers. Never throws.
#include "policyd/store/account_csv.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "common/ascii.h"
#include "common/units.h"
#include "policyd/store/civil_time.h"

namespace mailwarden {
namespace {

enum class Column {
  kAddress,
  kKind,
  kRole,
  kState,
  kStateReason,
  kQuota,
  kPasswordChangedAt,
  kLastLoginAt,
  kCreatedAt,
  kTerminateAt,
  kAliases,
  kUsageBytes,
  kUsageMessages,
};

constexpr std::array<std::pair<std::string_view, Column>, 13> kColumns = {{
    {"address", Column::kAddress},
    {"kind", Column::kKind},
    {"role", Column::kRole},
    {"state", Column::kState},
    {"state_reason", Column::kStateReason},
    {"quota", Column::kQuota},
    {"password_changed_at", Column::kPasswordChangedAt},
    {"last_login_at", Column::kLastLoginAt},
    {"created_at", Column::kCreatedAt},
    {"terminate_at", Column::kTerminateAt},
    {"aliases", Column::kAliases},
    {"usage_bytes", Column::kUsageBytes},
    {"usage_messages", Column::kUsageMessages},
}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The fields of one line (RFC 4180 quoting, no line breaks). Unquoted fields are trimmed.
Result<std::vector<std::string>> SplitFields(std::string_view line) {
  std::vector<std::string> fields;
  size_t i = 0;
  // Each pass reads one field and its separator; i only grows, so the loop ends.
  for (;;) {
    std::string field;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return Status::ParseError("unterminated quoted field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') {
        return Status::ParseError("text after a closing quote in field " +
                                  std::to_string(fields.size() + 1));
      }
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      std::string_view raw = line.substr(i, end - i);
      if (raw.find('"') != std::string_view::npos) {
        return Status::ParseError("a double quote inside unquoted field " +
                                  std::to_string(fields.size() + 1));
      }
      field = std::string(Trim(raw));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

// Collects "FILE:LINE: reason" lines, keeping the first kMaxCsvErrors.
class Errors {
 public:
  explicit Errors(std::string_view file) : file_(file) {}
  void Add(size_t line, std::string_view reason) {
    if (count_++ < kMaxCsvErrors) {
      text_ += file_ + ":" + std::to_string(line) + ": " + std::string(reason) + "\n";
    }
  }
  bool empty() const { return count_ == 0; }
  Status ToStatus() const {
    std::string text = text_;
    if (count_ > kMaxCsvErrors) {
      text += file_ + ": " + std::to_string(count_ - kMaxCsvErrors) + " more errors\n";
    }
    text.pop_back();
    return Status::ParseError(text + "\nnothing imported");
  }

 private:
  std::string file_;
  std::string text_;
  size_t count_ = 0;
};

// Reads a kind, role or state cell (empty: the default stays); the reason when it cannot.
template <typename E>
std::optional<std::string> EnumCell(std::string_view cell,
                                    std::optional<E> (*parse)(std::string_view),
                                    std::string_view what, std::string_view choices, E* out) {
  if (cell.empty()) return std::nullopt;
  auto value = parse(AsciiLower(cell));
  if (!value) {
    return std::string(what) + " '" + std::string(cell) + "' is not " + std::string(choices);
  }
  *out = *value;
  return std::nullopt;
}

// Reads one cell into `r`; the reason when it cannot be used.
std::optional<std::string> ReadCell(Column column, std::string_view cell,
                                    AccountDirectory::ImportRecord* r) {
  Account& a = r->account;
  auto date = [&](std::optional<int64_t>* out) -> std::optional<std::string> {
    if (cell.empty()) return std::nullopt;
    auto t = ParseUtcTime(cell);
    if (!t.ok()) return t.status().message();
    *out = *t;
    return std::nullopt;
  };
  auto size = [&](std::string_view what, int64_t* out) -> std::optional<std::string> {
    auto n = ParseSize(cell);
    if (!n.ok()) return std::string(what) + ": " + n.status().message();
    if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::string(what) + " too large";
    }
    *out = static_cast<int64_t>(*n);
    return std::nullopt;
  };
  switch (column) {
    case Column::kAddress:
      if (cell.empty()) return "no address";
      a.address = NormalizeAddress(cell);
      return std::nullopt;
    case Column::kKind:
      return EnumCell(cell, ParseAccountKind, "kind", "personal, unit or shared", &a.kind);
    case Column::kRole:
      return EnumCell(cell, ParseAccountRole, "role", "user or admin", &a.role);
    case Column::kState:
      return EnumCell(cell, ParseAccountState, "state", "active, suspended or terminated",
                      &a.state);
    case Column::kStateReason:
      a.state_reason = std::string(cell);
      return std::nullopt;
    case Column::kQuota: {
      if (cell.empty() || AsciiLower(cell) == "default") return std::nullopt;
      int64_t bytes = 0;
      if (auto e = size("quota", &bytes)) return e;
      a.quota_bytes = bytes;
      return std::nullopt;
    }
    case Column::kPasswordChangedAt:
      return date(&a.password_changed_at);
    case Column::kLastLoginAt:
      return date(&a.last_login_at);
    case Column::kTerminateAt:
      return date(&a.terminate_at);
    case Column::kCreatedAt: {
      std::optional<int64_t> t;
      if (auto e = date(&t)) return e;
      a.created_at = t.value_or(0);
      return std::nullopt;
    }
    case Column::kAliases: {
      std::string_view rest = cell;
      // Each pass consumes at least one character of `rest`.
      while (!rest.empty()) {
        size_t end = rest.find_first_of(" \t;,");
        if (end == std::string_view::npos) end = rest.size();
        if (end > 0) a.aliases.push_back(NormalizeAddress(rest.substr(0, end)));
        rest.remove_prefix(end < rest.size() ? end + 1 : end);
      }
      return std::nullopt;
    }
    case Column::kUsageBytes: {
      if (cell.empty()) return std::nullopt;
      if (!r->usage) r->usage.emplace();
      return size("usage_bytes", &r->usage->bytes);
    }
    case Column::kUsageMessages: {
      if (cell.empty()) return std::nullopt;
      if (!r->usage) r->usage.emplace();
      int64_t n = 0;
      auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), n);
      if (ec != std::errc() || end != cell.data() + cell.size() || n < 0) {
        return "usage_messages '" + std::string(cell) + "' is not a count";
      }
      r->usage->messages = n;
      return std::nullopt;
    }
  }
  return "internal: unknown column";
}

// Whether the line's cell in `column` is there and not empty.
bool HasCell(const std::vector<Column>& columns, const std::vector<std::string>& fields,
             Column column) {
  for (size_t i = 0; i < columns.size() && i < fields.size(); ++i) {
    if (columns[i] == column && !fields[i].empty()) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<AccountDirectory::ImportRecord>> ParseAccountCsv(std::string_view text,
                                                                    std::string_view file_name) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  Errors errors(file_name);
  std::vector<AccountDirectory::ImportRecord> records;
  std::vector<Column> columns;
  bool header_seen = false;
  // Every address and alias seen so far, with its line: a second claim is an error here,
  // where both lines can be named.
  std::map<std::string, size_t, std::less<>> claimed;

  size_t line_no = 0;
  size_t pos = 0;
  // Each pass consumes one line; pos only grows and kMaxCsvLines caps the passes.
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no > kMaxCsvLines) {
      errors.Add(line_no, "more than " + std::to_string(kMaxCsvLines) + " lines");
      break;
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > kMaxCsvLineLength) {
      errors.Add(line_no, "line longer than " + std::to_string(kMaxCsvLineLength) + " bytes");
      continue;
    }
    if (Trim(line).empty()) continue;
    auto fields = SplitFields(line);
    if (!fields.ok()) {
      errors.Add(line_no, fields.status().message());
      if (!header_seen) break;
      continue;
    }
    if (!header_seen) {
      header_seen = true;
      for (const std::string& name : *fields) {
        std::string key = AsciiLower(Trim(name));
        const auto* known = std::find_if(kColumns.begin(), kColumns.end(),
                                         [&](const auto& c) { return c.first == key; });
        if (known == kColumns.end()) {
          errors.Add(line_no, "unknown column '" + key +
                                  "' (a header line naming the columns is required; see "
                                  "docs/accounts.md)");
        } else if (std::find(columns.begin(), columns.end(), known->second) != columns.end()) {
          errors.Add(line_no, "column '" + key + "' given twice");
        }
        columns.push_back(known == kColumns.end() ? Column::kStateReason : known->second);
      }
      if (std::find(columns.begin(), columns.end(), Column::kAddress) == columns.end()) {
        errors.Add(line_no, "the header has no 'address' column");
      }
      if (!errors.empty()) break;  // without a usable header no line can be read
      continue;
    }
    if (fields->size() != columns.size()) {
      errors.Add(line_no, "has " + std::to_string(fields->size()) + " fields, the header " +
                              std::to_string(columns.size()));
      continue;
    }
    AccountDirectory::ImportRecord r;
    r.origin = std::string(file_name) + ":" + std::to_string(line_no);
    bool ok = true;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (auto reason = ReadCell(columns[i], (*fields)[i], &r)) {
        errors.Add(line_no, *reason);
        ok = false;
      }
    }
    if (!ok) continue;
    if (r.usage && !HasCell(columns, *fields, Column::kUsageBytes)) {
      errors.Add(line_no, "usage_messages without usage_bytes");  // not a usage figure
      continue;
    }
    std::vector<std::string> names = r.account.aliases;
    names.push_back(r.account.address);
    for (const std::string& name : names) {
      auto [it, inserted] = claimed.emplace(name, line_no);
      if (!inserted && it->second != line_no) {
        errors.Add(line_no, name + " already listed on line " + std::to_string(it->second));
        ok = false;
      }
    }
    if (ok) records.push_back(std::move(r));
  }
  if (!header_seen && errors.empty()) errors.Add(1, "empty file: a header line is required");
  if (!errors.empty()) return errors.ToStatus();
  return records;
}

}  // namespace mailwarden
