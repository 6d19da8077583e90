// Readers of Dovecot's quota and last-login dicts (dovecot_dicts.h).
//
// Distrusts: the configured table names (checked as identifiers before they are put into
// SQL text, the only value that is), and the values Dovecot's tables and keys hold (a usage
// that is not a non-negative integer, a login time that is not digits: reported as a broken
// source, never guessed at). Never creates Dovecot's file, tables or keys, never writes.
#include "policyd/store/dovecot_dicts.h"

#include <charconv>
#include <mutex>
#include <vector>

#include "policyd/store/pg_db.h"
#include "policyd/store/redis_client.h"
#include "policyd/store/sqlite_db.h"

namespace mailwarden {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr size_t kMaxIdentifier = 63;  // PostgreSQL's NAMEDATALEN - 1
constexpr size_t kMaxUsername = 320;   // an address: 64 + 1 + 255

bool IsPostgresSpec(std::string_view spec) {
  return spec.starts_with("postgresql://") || spec.starts_with("postgres://");
}

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

// A non-negative decimal integer, nothing else.
std::optional<int64_t> ParseCount(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return std::nullopt;
  }
  return v;
}

// The row of one user in one of Dovecot's SQL dict tables: its columns as text ("" for
// NULL), nullopt when there is none.
using DictRow = std::optional<std::vector<std::string>>;

class DictTable {
 public:
  virtual ~DictTable() = default;
  virtual Result<DictRow> Row(std::string_view username) const = 0;
  // Names the source in messages ("Dovecot quota dict /var/lib/dovecot/dict.db").
  virtual const std::string& name() const = 0;
};

// Dovecot's SQLite dict file through one connection shared by the calling threads: a lookup
// takes microseconds, so a mutex (waited for within the call's budget) serves better than a
// pool of connections Dovecot's writer would have to wait for.
class SqliteDictTable final : public DictTable {
 public:
  static Result<std::unique_ptr<DictTable>> Open(const std::string& path, std::string sql,
                                                 int columns, int64_t timeout_ms,
                                                 const std::string& label) {
    auto c = SqliteConnection::Open(path, /*create=*/false, timeout_ms, label);
    if (!c.ok()) return c.status();
    return std::unique_ptr<DictTable>(new SqliteDictTable(std::move(c).value(), std::move(sql),
                                                          columns, timeout_ms, label + " " + path));
  }

  Result<DictRow> Row(std::string_view username) const override {
    auto deadline = SqliteConnection::Clock::now() + std::chrono::milliseconds(timeout_ms_);
    std::unique_lock lock(mutex_, std::defer_lock);
    if (!lock.try_lock_until(deadline)) {
      return Status::Timeout(name_ + ": busy for more than " + std::to_string(timeout_ms_) + " ms");
    }
    connection_->StartCall(timeout_ms_);
    SqliteQuery q(*connection_, sql_.c_str());
    q.Text(username);
    auto row = q.Step("reading the row of " + std::string(username));
    if (!row.ok()) return row.status();
    if (!*row) return DictRow();
    std::vector<std::string> values;
    for (int i = 0; i < columns_; ++i) values.push_back(q.ColumnText(i));
    return DictRow(std::move(values));
  }

  const std::string& name() const override { return name_; }

 private:
  SqliteDictTable(std::unique_ptr<SqliteConnection> c, std::string sql, int columns,
                  int64_t timeout_ms, std::string name)
      : connection_(std::move(c)),
        sql_(std::move(sql)),
        columns_(columns),
        timeout_ms_(timeout_ms),
        name_(std::move(name)) {}

  mutable std::timed_mutex mutex_;
  std::unique_ptr<SqliteConnection> connection_;
  const std::string sql_;  // its address keys the connection's statement cache
  const int columns_;
  const int64_t timeout_ms_;
  const std::string name_;
};

class PgDictTable final : public DictTable {
 public:
  static Result<std::unique_ptr<DictTable>> Open(const std::string& conninfo, std::string sql,
                                                 int columns, int64_t timeout_ms,
                                                 const std::string& label) {
    auto pool = PgPool::Create({conninfo, label, timeout_ms, /*max_connections=*/4});
    if (!pool.ok()) return pool.status();
    return std::unique_ptr<DictTable>(
        new PgDictTable(std::move(pool).value(), std::move(sql), columns));
  }

  Result<DictRow> Row(std::string_view username) const override {
    auto rows =
        pool_->Query(sql_, {PgText(username)}, "reading the row of " + std::string(username));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return DictRow();
    std::vector<std::string> values;
    for (int i = 0; i < columns_; ++i) values.push_back(rows->Text(0, i));
    return DictRow(std::move(values));
  }

  const std::string& name() const override { return pool_->name(); }

 private:
  PgDictTable(std::unique_ptr<PgPool> pool, std::string sql, int columns)
      : pool_(std::move(pool)), sql_(std::move(sql)), columns_(columns) {}

  std::unique_ptr<PgPool> pool_;
  const std::string sql_;
  const int columns_;
};

bool IsSqliteSpec(std::string_view spec) {
  return spec.starts_with(kSqlitePrefix) && spec.size() > kSqlitePrefix.size();
}

// The table `spec` (IsSqliteSpec or IsPostgresSpec) names, read with `sql` ("... WHERE
// username = ?1", rewritten to $1 for PostgreSQL).
Result<std::unique_ptr<DictTable>> OpenDictTable(const std::string& spec, std::string sql,
                                                 int columns, int64_t timeout_ms,
                                                 const std::string& label) {
  if (IsSqliteSpec(spec)) {
    return SqliteDictTable::Open(spec.substr(kSqlitePrefix.size()), std::move(sql), columns,
                                 timeout_ms, label);
  }
  sql.replace(sql.find("?1"), 2, "$1");
  return PgDictTable::Open(spec, std::move(sql), columns, timeout_ms, label);
}

class SqlDovecotQuota final : public DovecotQuota {
 public:
  explicit SqlDovecotQuota(std::unique_ptr<DictTable> table) : table_(std::move(table)) {}

  Result<std::optional<MailboxUsage>> Usage(std::string_view username) const override {
    auto row = table_->Row(username);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return std::optional<MailboxUsage>();
    auto bytes = ParseCount((**row)[0]);
    auto messages = ParseCount((**row)[1]);
    if (!bytes || !messages) {
      return Status::Unavailable(table_->name() + ": quota of " + std::string(username) + " is '" +
                                 (**row)[0].substr(0, 40) + "' bytes, '" +
                                 (**row)[1].substr(0, 40) + "' messages, not counts");
    }
    return std::optional<MailboxUsage>(MailboxUsage{*bytes, *messages});
  }

 private:
  std::unique_ptr<DictTable> table_;
};

// `value` (a login time as stored) read for `username` from `source`.
Result<std::optional<int64_t>> LoginTime(const std::string& value, std::string_view username,
                                         const std::string& source) {
  if (value.empty()) return std::optional<int64_t>();  // NULL: no login recorded
  auto when = ParseDovecotLoginTime(value);
  if (!when) {
    return Status::Unavailable(source + ": last login of " + std::string(username) + " is '" +
                               value.substr(0, 40) + "', not a time");
  }
  return when;
}

class SqlDovecotLastLogin final : public DovecotLastLogin {
 public:
  explicit SqlDovecotLastLogin(std::unique_ptr<DictTable> table) : table_(std::move(table)) {}

  Result<std::optional<int64_t>> LastLogin(std::string_view username) const override {
    auto row = table_->Row(username);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return std::optional<int64_t>();
    return LoginTime((**row)[0], username, table_->name());
  }

 private:
  std::unique_ptr<DictTable> table_;
};

// The last_login plugin with a Redis dict: the key holds the time as a string.
class RedisDovecotLastLogin final : public DovecotLastLogin {
 public:
  RedisDovecotLastLogin(std::unique_ptr<RedisClient> client, std::string key)
      : client_(std::move(client)), key_(std::move(key)) {}

  Result<std::optional<int64_t>> LastLogin(std::string_view username) const override {
    if (username.size() > kMaxUsername) return std::optional<int64_t>();
    std::string key = key_;
    for (size_t at = key.find("%u"); at != std::string::npos; at = key.find("%u", at)) {
      key.replace(at, 2, username);
      at += username.size();
    }
    auto reply = client_->Command({"GET", key});
    if (!reply.ok()) return reply.status();
    const std::string source = "Dovecot last-login dict " + client_->endpoint().Name();
    switch (reply->kind) {
      case RedisReply::Kind::kNil:
        return std::optional<int64_t>();
      case RedisReply::Kind::kString:
        return LoginTime(reply->text, username, source);
      default:
        return Status::Unavailable(source + ": GET " + key + " answered " +
                                   (reply->IsError() ? reply->text : "no string"));
    }
  }

 private:
  std::unique_ptr<RedisClient> client_;
  std::string key_;
};

std::string SupportedForms(bool redis) {
  return redis ? "unsupported; expected sqlite:/path/to/dict.db, postgresql://... or "
                 "redis://host:port[/db]"
               : "unsupported; expected sqlite:/path/to/dict.db or postgresql://...";
}

// `reader` after one lookup, so that a missing table, column or server stops the start
// rather than the first message.
template <typename Reader, typename Probe>
Result<std::unique_ptr<Reader>> Probed(std::unique_ptr<Reader> reader, Probe probe) {
  if (Status s = probe(*reader); !s.ok()) return s;
  return reader;
}

}  // namespace

std::optional<int64_t> ParseDovecotLoginTime(std::string_view value) {
  if (value.size() > 19) return std::nullopt;
  auto v = ParseCount(value);
  if (!v) return std::nullopt;
  // Seconds stay below 10^11 until the year 5138; ms, us and ns of any time after 1973 are
  // above it, each unit a thousand times the last.
  constexpr int64_t kSecondsBelow = 100'000'000'000;
  while (*v >= kSecondsBelow) *v /= 1000;
  return v;
}

Result<std::unique_ptr<DovecotQuota>> OpenDovecotQuota(const std::string& spec,
                                                       const DovecotDictOptions& options) {
  if (!IsSqliteSpec(spec) && !IsPostgresSpec(spec)) {
    return Status::InvalidArgument(SupportedForms(false));
  }
  if (Status s = CheckTable(options.table); !s.ok()) return s;
  auto table =
      OpenDictTable(spec, "SELECT bytes, messages FROM " + options.table + " WHERE username = ?1",
                    2, options.timeout_ms, "Dovecot quota dict");
  if (!table.ok()) return table.status();
  return Probed(std::unique_ptr<DovecotQuota>(new SqlDovecotQuota(std::move(table).value())),
                [](const DovecotQuota& q) { return q.Usage("").status(); });
}

Result<std::unique_ptr<DovecotLastLogin>> OpenDovecotLastLogin(const std::string& spec,
                                                               const DovecotDictOptions& options) {
  auto probe = [](const DovecotLastLogin& l) { return l.LastLogin("").status(); };
  if (LooksLikeRedisUrl(spec)) {
    if (options.key.find("%u") == std::string::npos || options.key.size() > 200) {
      return Status::InvalidArgument("key '" + options.key +
                                     "' must hold %u (the username) and be at most 200 bytes");
    }
    auto endpoint = ParseRedisUrl(spec);
    if (!endpoint.ok()) return endpoint.status();
    auto client =
        RedisClient::Create(*endpoint, {options.timeout_ms, 4, "Dovecot last-login dict"});
    if (!client.ok()) return client.status();
    return Probed(std::unique_ptr<DovecotLastLogin>(
                      new RedisDovecotLastLogin(std::move(client).value(), options.key)),
                  probe);
  }
  if (!IsSqliteSpec(spec) && !IsPostgresSpec(spec)) {
    return Status::InvalidArgument(SupportedForms(true));
  }
  if (Status s = CheckTable(options.table); !s.ok()) return s;
  auto table =
      OpenDictTable(spec, "SELECT last_login FROM " + options.table + " WHERE username = ?1", 1,
                    options.timeout_ms, "Dovecot last-login dict");
  if (!table.ok()) return table.status();
  return Probed(
      std::unique_ptr<DovecotLastLogin>(new SqlDovecotLastLogin(std::move(table).value())), probe);
}

}  // namespace mailwarden
