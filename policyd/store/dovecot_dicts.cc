// Readers of Dovecot's quota and last-login dicts (dovecot_dicts.h).
//
// Distrusts: the configured table names (checked as identifiers before they are put into
// SQL text, the only value that is), and the values Dovecot's tables hold (a usage that is
// not a non-negative integer, a login time that is not digits: reported as a broken source,
// never guessed at). Opens Dovecot's file without creating it and never writes to it.
#include "policyd/store/dovecot_dicts.h"

#include <charconv>
#include <mutex>

#include "policyd/store/sqlite_db.h"

namespace mailwarden {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr size_t kMaxIdentifier = 63;  // PostgreSQL's NAMEDATALEN - 1

Status CheckTable(const std::string& table) {
  bool ok = !table.empty() && table.size() <= kMaxIdentifier &&
            !(table[0] >= '0' && table[0] <= '9') && table[0] != '.' && table.back() != '.';
  for (char c : table) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.');
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument("table '" + table +
                                 "' is not an SQL identifier ([A-Za-z_][A-Za-z0-9_.]*, at most " +
                                 std::to_string(kMaxIdentifier) + " characters)");
}

// One connection to Dovecot's SQLite dict file, shared by the calling threads: a lookup
// takes microseconds, so a mutex (waited for within the call's budget) serves better than a
// pool of connections Dovecot's writer would have to wait for.
class SqliteDictFile {
 public:
  static Result<std::unique_ptr<SqliteDictFile>> Open(const std::string& path, int64_t timeout_ms,
                                                      std::string label) {
    auto c = SqliteConnection::Open(path, /*create=*/false, timeout_ms, std::move(label));
    if (!c.ok()) return c.status();
    return std::unique_ptr<SqliteDictFile>(new SqliteDictFile(std::move(c).value(), timeout_ms));
  }

  // Runs `lookup` on the connection with the call's deadline set, or kTimeout when another
  // caller holds it past the budget.
  template <typename Fn>
  auto With(Fn lookup) const -> decltype(lookup(std::declval<SqliteConnection&>())) {
    auto deadline = SqliteConnection::Clock::now() + std::chrono::milliseconds(timeout_ms_);
    std::unique_lock lock(mutex_, std::defer_lock);
    if (!lock.try_lock_until(deadline)) {
      return Status::Timeout(connection_->path() + ": busy for more than " +
                             std::to_string(timeout_ms_) + " ms");
    }
    connection_->StartCall(timeout_ms_);
    return lookup(*connection_);
  }

 private:
  SqliteDictFile(std::unique_ptr<SqliteConnection> c, int64_t timeout_ms)
      : connection_(std::move(c)), timeout_ms_(timeout_ms) {}

  mutable std::timed_mutex mutex_;
  std::unique_ptr<SqliteConnection> connection_;
  int64_t timeout_ms_;
};

class SqliteDovecotQuota final : public DovecotQuota {
 public:
  SqliteDovecotQuota(std::unique_ptr<SqliteDictFile> file, const std::string& table)
      : file_(std::move(file)),
        sql_("SELECT bytes, messages FROM " + table + " WHERE username = ?1") {}

  Result<std::optional<MailboxUsage>> Usage(std::string_view username) const override {
    return file_->With([&](SqliteConnection& c) -> Result<std::optional<MailboxUsage>> {
      SqliteQuery q(c, sql_.c_str());
      q.Text(username);
      auto row = q.Step("reading the quota of " + std::string(username));
      if (!row.ok()) return row.status();
      if (!*row) return std::optional<MailboxUsage>();
      MailboxUsage u{q.ColumnInt(0), q.ColumnInt(1)};
      if (u.bytes < 0 || u.messages < 0) {
        return Status::Unavailable(c.path() + ": negative quota usage for " +
                                   std::string(username));
      }
      return std::optional<MailboxUsage>(u);
    });
  }

 private:
  std::unique_ptr<SqliteDictFile> file_;
  std::string sql_;  // its address keys the connection's statement cache
};

class SqliteDovecotLastLogin final : public DovecotLastLogin {
 public:
  SqliteDovecotLastLogin(std::unique_ptr<SqliteDictFile> file, const std::string& table)
      : file_(std::move(file)), sql_("SELECT last_login FROM " + table + " WHERE username = ?1") {}

  Result<std::optional<int64_t>> LastLogin(std::string_view username) const override {
    return file_->With([&](SqliteConnection& c) -> Result<std::optional<int64_t>> {
      SqliteQuery q(c, sql_.c_str());
      q.Text(username);
      auto row = q.Step("reading the last login of " + std::string(username));
      if (!row.ok()) return row.status();
      if (!*row) return std::optional<int64_t>();
      std::string value = q.ColumnText(0);
      if (value.empty()) return std::optional<int64_t>();  // NULL: never logged in
      auto when = ParseDovecotLoginTime(value);
      if (!when) {
        return Status::Unavailable(c.path() + ": last login of " + std::string(username) + " is '" +
                                   value.substr(0, 40) + "', not a time");
      }
      return when;
    });
  }

 private:
  std::unique_ptr<SqliteDictFile> file_;
  std::string sql_;
};

// The SQLite file a "sqlite:PATH" spec names, checked; kInvalidArgument otherwise.
Result<std::string> SqlitePath(const std::string& spec) {
  if (!spec.starts_with(kSqlitePrefix) || spec.size() == kSqlitePrefix.size()) {
    return Status::InvalidArgument("'" + spec + "': unsupported");
  }
  return spec.substr(kSqlitePrefix.size());
}

std::string SupportedForms(bool redis) {
  return redis ? "expected sqlite:/path/to/dict.db, postgresql://... or redis://host:port"
               : "expected sqlite:/path/to/dict.db or postgresql://...";
}

}  // namespace

std::optional<int64_t> ParseDovecotLoginTime(std::string_view value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < 0) return std::nullopt;
  // Seconds stay below 10^11 until the year 5138; ms, us and ns of any time after 1973 are
  // above it, each unit a thousand times the last.
  constexpr int64_t kSecondsBelow = 100'000'000'000;
  while (v >= kSecondsBelow) v /= 1000;
  return v;
}

Result<std::unique_ptr<DovecotQuota>> OpenDovecotQuota(const std::string& spec,
                                                       const DovecotDictOptions& options) {
  if (Status s = CheckTable(options.table); !s.ok()) return s;
  auto path = SqlitePath(spec);
  if (!path.ok())
    return Status::InvalidArgument(path.status().message() + "; " + SupportedForms(false));
  auto file = SqliteDictFile::Open(*path, options.timeout_ms, "Dovecot quota dict");
  if (!file.ok()) return file.status();
  std::unique_ptr<DovecotQuota> reader(
      new SqliteDovecotQuota(std::move(file).value(), options.table));
  // One lookup now, so a missing table or column stops the start, not the first message.
  if (auto probe = reader->Usage(""); !probe.ok()) return probe.status();
  return reader;
}

Result<std::unique_ptr<DovecotLastLogin>> OpenDovecotLastLogin(const std::string& spec,
                                                               const DovecotDictOptions& options) {
  if (Status s = CheckTable(options.table); !s.ok()) return s;
  auto path = SqlitePath(spec);
  if (!path.ok())
    return Status::InvalidArgument(path.status().message() + "; " + SupportedForms(true));
  auto file = SqliteDictFile::Open(*path, options.timeout_ms, "Dovecot last-login dict");
  if (!file.ok()) return file.status();
  std::unique_ptr<DovecotLastLogin> reader(
      new SqliteDovecotLastLogin(std::move(file).value(), options.table));
  if (auto probe = reader->LastLogin(""); !probe.ok()) return probe.status();
  return reader;
}

}  // namespace mailwarden
