// The admin commands. Distrusts its arguments and the CSV it imports (account_csv.h): every
// value goes through a strict parser and a bad one is a usage error naming it; nothing is
// written unless the whole command's input is valid. Store failures end the command with
// exit 1 and the store's message; the CLI never retries a write on its own.
#include "policyd/accounts_cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <sstream>
#include <string_view>
#include <variant>

#include "common/config.h"
#include "common/daemon.h"
#include "common/units.h"
#include "policyd/store/account_csv.h"
#include "policyd/store/account_directory.h"
#include "policyd/store/dovecot_directory.h"
#include "policyd/store/civil_time.h"

namespace mailwarden {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kMaxCsvFileBytes = 256u << 20;  // 256 MiB: far above any real directory
// A3: a mailbox unused for over 6 months may be revoked after 15 days' notice.
constexpr std::string_view kDefaultInactivePeriod = "6mo";
constexpr std::string_view kDefaultNotice = "15d";

constexpr const char* kUsage =
    "usage: mailwarden-policyd [--config FILE] [--database SPEC] accounts COMMAND ...\n"
    "  add ADDRESS [--kind personal|unit|shared] [--role user|admin] [--quota SIZE]\n"
    "              [--alias A]... [--password-changed DATE] [--last-login DATE] [--created DATE]\n"
    "  set ADDRESS [--kind K] [--role R] [--quota SIZE|default] [--password-changed DATE]\n"
    "              [--last-login DATE] [--terminate-at DATE|none] [--alias A]... [--no-aliases]\n"
    "  suspend ADDRESS --reason TEXT\n"
    "  terminate ADDRESS --reason TEXT\n"
    "  reactivate ADDRESS\n"
    "  show ADDRESS [--json]\n"
    "  list [--state active|suspended|terminated] [--kind K] [--json]\n"
    "  import FILE.csv\n"
    "       mailwarden-policyd [--config FILE] [--database SPEC] report inactive\n"
    "              [--over PERIOD (6mo)] [--notice DURATION (15d)] [--json]\n"
    "  DATE: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or now; PERIOD: 6mo, 1y, 180d\n"
    "  SPEC: sqlite:/path/to/accounts.db or postgresql://USER@HOST/DB (default:\n"
    "        accounts.database of the configuration)\n"
    "  exit status: 0 done, 1 failed, 2 usage error (docs/accounts.md)\n";

using Json = nlohmann::ordered_json;

// A failure with the exit status it ends the command with.
struct Failure {
  int exit_code;
  std::string message;
};

Failure UsageError(std::string message) { return {kExitUsage, std::move(message)}; }
Failure Failed(std::string message) { return {kExitFailed, std::move(message)}; }

// ---- Arguments ------------------------------------------------------------------------

struct OptionSpec {
  std::string_view name;
  bool takes_value = true;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  bool Has(std::string_view name) const { return options.count(name) != 0; }
  // The last value given for `name`, or nullptr.
  const std::string* Value(std::string_view name) const {
    auto it = options.find(name);
    return it == options.end() || it->second.empty() ? nullptr : &it->second.back();
  }
  std::vector<std::string> Values(std::string_view name) const {
    auto it = options.find(name);
    return it == options.end() ? std::vector<std::string>() : it->second;
  }
};

// The options AccountOptions() reads (add and set), and those of one command each.
constexpr OptionSpec kAccountOptions[] = {
    {"--kind"}, {"--role"}, {"--quota"}, {"--alias"}, {"--password-changed"}, {"--last-login"}};
constexpr OptionSpec kAddOptions[] = {{"--created"}};
constexpr OptionSpec kSetOptions[] = {{"--terminate-at"}, {"--no-aliases", false}};
constexpr OptionSpec kReasonOption[] = {{"--reason"}};
constexpr OptionSpec kShowOptions[] = {{"--json", false}};
constexpr OptionSpec kListOptions[] = {{"--state"}, {"--kind"}, {"--json", false}};
constexpr OptionSpec kReportOptions[] = {{"--over"}, {"--notice"}, {"--json", false}};

// Splits args[first..] into positional arguments and the options of `specs` and `more`;
// exactly `positional` positional arguments are wanted.
std::optional<Failure> ParseArgs(const std::vector<std::string>& args, size_t first,
                                 size_t positional, std::string_view command, Args* out,
                                 std::span<const OptionSpec> specs = {},
                                 std::span<const OptionSpec> more = {}) {
  for (size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      out->positional.push_back(a);
      continue;
    }
    const OptionSpec* spec = nullptr;
    for (std::span<const OptionSpec> set : {specs, more}) {
      for (const OptionSpec& candidate : set) {
        if (candidate.name == a) spec = &candidate;
      }
    }
    if (spec == nullptr) return UsageError(std::string(command) + ": unknown option " + a);
    if (!spec->takes_value) {
      out->options[a];
      continue;
    }
    if (i + 1 >= args.size()) return UsageError(std::string(command) + ": " + a + " needs a value");
    out->options[a].push_back(args[++i]);
  }
  if (out->positional.size() != positional) {
    return UsageError(std::string(command) + ": expected " + std::to_string(positional) +
                      (positional == 1 ? " argument" : " arguments") + ", got " +
                      std::to_string(out->positional.size()));
  }
  return std::nullopt;
}

// A date option: "now" or civil_time's formats.
std::optional<Failure> DateOption(const Args& args, std::string_view name, int64_t now,
                                  std::optional<int64_t>* out) {
  const std::string* v = args.Value(name);
  if (v == nullptr) return std::nullopt;
  if (*v == "now") {
    *out = now;
    return std::nullopt;
  }
  auto t = ParseUtcTime(*v);
  if (!t.ok()) return UsageError(std::string(name) + ": " + t.status().message());
  *out = *t;
  return std::nullopt;
}

// Reads --kind, --role, --quota, --password-changed, --last-login and --alias into `a`
// (options not given leave `a` as it is).
std::optional<Failure> AccountOptions(const Args& args, int64_t now, Account* a) {
  if (const std::string* v = args.Value("--kind")) {
    auto k = ParseAccountKind(*v);
    if (!k) return UsageError("--kind: '" + *v + "' is not personal, unit or shared");
    a->kind = *k;
  }
  if (const std::string* v = args.Value("--role")) {
    auto r = ParseAccountRole(*v);
    if (!r) return UsageError("--role: '" + *v + "' is not user or admin");
    a->role = *r;
  }
  if (const std::string* v = args.Value("--quota")) {
    if (*v == "default") {
      a->quota_bytes.reset();
    } else {
      auto n = ParseSize(*v);
      if (!n.ok() || *n > static_cast<uint64_t>(INT64_MAX)) {
        return UsageError("--quota: '" + *v + "' is not a size (2GiB, 500MB) or default");
      }
      a->quota_bytes = static_cast<int64_t>(*n);
    }
  }
  if (auto f = DateOption(args, "--password-changed", now, &a->password_changed_at)) return f;
  if (auto f = DateOption(args, "--last-login", now, &a->last_login_at)) return f;
  if (args.Has("--alias")) a->aliases = args.Values("--alias");
  return std::nullopt;
}

// ---- Opening the store ----------------------------------------------------------------

struct Store {
  std::unique_ptr<AccountDirectory> directory;
  std::optional<int64_t> default_quota;  // accounts.default_quota, when the config was read
};

// How a command uses the store. A reading command sees what the daemon sees: with the
// configuration's Dovecot dicts attached (accounts.dovecot_*), logins and usage included.
// A writing one works on the directory alone, so that an account read, changed and written
// back never takes Dovecot's values into the directory.
enum class Access { kWrite, kRead };

std::variant<Store, Failure> OpenStore(const AdminCommandEnv& env, Access access = Access::kWrite) {
  Store store;
  std::string spec = env.database;
  std::shared_ptr<const Config> read_config;
  if (spec.empty()) {
    auto config = LoadConfig(env.config_path);
    if (!config.ok()) {
      return Failed(config.status().message() +
                    "\n(give --config FILE, or --database sqlite:/path/to/accounts.db)");
    }
    const auto& values = (*config)->values;
    auto db = values.find("accounts.database");
    if (db == values.end()) return Failed("this build has no accounts.database parameter");
    spec = db->second.text;
    // Run as root, the store's files (the database, its -wal and -shm) would be created
    // root-owned and the daemon, running as policyd.user, could no longer open them.
    if (geteuid() == 0) {
      if (Status s = DropPrivileges((*config)->policyd.user); !s.ok()) {
        return Failed("policyd.user: " + s.message());
      }
    }
    if (auto q = values.find("accounts.default_quota"); q != values.end()) {
      store.default_quota = q->second.number;
    }
    if (access == Access::kRead) read_config = *config;
  }
  AccountDirectoryOptions options;
  options.timeout_ms = kAdminTimeoutMs;
  options.max_connections = 1;
  auto directory = OpenAccountDirectory(spec, options);
  if (!directory.ok()) return Failed(directory.status().message());
  store.directory = std::move(directory).value();
  if (read_config) {
    auto attached = AttachDovecotDicts(std::move(store.directory), *read_config, kAdminTimeoutMs);
    if (!attached.ok()) return Failed(attached.status().message());
    store.directory = std::move(attached).value();
  }
  return store;
}

// The store, and the account stored under the primary address `address` in it. An alias
// is refused: changing "the account behind an alias" by accident is worse than asking for
// its name.
struct StoredAccount {
  Store store;
  Account account;
};

std::variant<StoredAccount, Failure> OpenAccount(const AdminCommandEnv& env,
                                                 const std::string& address) {
  auto opened = OpenStore(env);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  StoredAccount r{std::move(std::get<Store>(opened)), {}};
  auto found = r.store.directory->Find(address);
  if (!found.ok()) return Failed(found.status().message());
  const std::string key = NormalizeAddress(address);
  if (!*found) return Failed("no account " + key + " (accounts list shows them)");
  if ((*found)->address != key) {
    return Failed(key + " is an alias of " + (*found)->address + "; name the account itself");
  }
  r.account = std::move(**found);
  return r;
}

// ---- Output ---------------------------------------------------------------------------

std::string DateOrNever(const std::optional<int64_t>& t) {
  return t ? FormatUtcDate(*t) : std::string("never");
}

Json TimeOrNull(const std::optional<int64_t>& t) {
  return t ? Json(FormatUtcTime(*t)) : Json(nullptr);
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string QuotaText(const Account& a, const std::optional<int64_t>& default_quota) {
  if (a.quota_bytes) return FormatSize(static_cast<uint64_t>(*a.quota_bytes));
  return default_quota ? FormatSize(static_cast<uint64_t>(*default_quota)) + " (default)"
                       : std::string("default");
}

Json AccountJson(const Account& a) {
  Json j;
  j["address"] = a.address;
  j["kind"] = AccountKindName(a.kind);
  j["role"] = AccountRoleName(a.role);
  j["state"] = AccountStateName(a.state);
  j["state_reason"] = a.state_reason;
  j["state_since"] = FormatUtcTime(a.state_since);
  j["terminate_at"] = TimeOrNull(a.terminate_at);
  j["quota_bytes"] = a.quota_bytes ? Json(*a.quota_bytes) : Json(nullptr);
  j["password_changed_at"] = TimeOrNull(a.password_changed_at);
  j["last_login_at"] = TimeOrNull(a.last_login_at);
  j["created_at"] = FormatUtcTime(a.created_at);
  j["aliases"] = a.aliases;
  return j;
}

// Left-aligned columns two spaces apart; the last column is not padded.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

// ---- Commands -------------------------------------------------------------------------

struct Context {
  const AdminCommandEnv& env;
  int64_t now;
  std::ostream& out;
};

using CommandResult = std::optional<Failure>;  // nullopt: done

CommandResult Add(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 1, "accounts add", &a, kAccountOptions, kAddOptions)) {
    return f;
  }
  Account account;
  account.address = NormalizeAddress(a.positional[0]);
  if (auto f = AccountOptions(a, ctx.now, &account)) return f;
  std::optional<int64_t> created;
  if (auto f = DateOption(a, "--created", ctx.now, &created)) return f;
  account.created_at = created.value_or(ctx.now);
  account.state_since = account.created_at;
  auto opened = OpenStore(ctx.env);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  Store& store = std::get<Store>(opened);
  if (Status s = store.directory->Add(account); !s.ok()) return Failed(s.message());
  ctx.out << "added " << account.address << " (" << AccountKindName(account.kind) << ", "
          << AccountRoleName(account.role) << ")\n";
  return std::nullopt;
}

CommandResult Set(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 1, "accounts set", &a, kAccountOptions, kSetOptions)) {
    return f;
  }
  if (a.options.empty()) return UsageError("accounts set: nothing to set");
  if (a.Has("--alias") && a.Has("--no-aliases")) {
    return UsageError("accounts set: --alias and --no-aliases together");
  }
  auto opened = OpenAccount(ctx.env, a.positional[0]);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  auto& [store, account] = std::get<StoredAccount>(opened);
  if (auto f = AccountOptions(a, ctx.now, &account)) return f;
  if (a.Has("--no-aliases")) account.aliases.clear();
  if (const std::string* v = a.Value("--terminate-at"); v != nullptr && *v == "none") {
    account.terminate_at.reset();
  } else if (auto f = DateOption(a, "--terminate-at", ctx.now, &account.terminate_at)) {
    return f;
  }
  if (Status s = store.directory->Update(account); !s.ok()) return Failed(s.message());
  ctx.out << "updated " << account.address << "\n";
  return std::nullopt;
}

// suspend, terminate and reactivate: a change of the stored state.
CommandResult ChangeState(const std::vector<std::string>& args, const Context& ctx,
                          AccountState to) {
  const bool needs_reason = to != AccountState::kActive;
  const std::string command = "accounts " + args[1];
  Args a;
  if (auto f = ParseArgs(args, 2, 1, command, &a,
                         needs_reason ? std::span<const OptionSpec>(kReasonOption)
                                      : std::span<const OptionSpec>())) {
    return f;
  }
  const std::string* reason = a.Value("--reason");
  if (needs_reason && (reason == nullptr || reason->empty())) {
    return UsageError(command + ": --reason TEXT is required (it is told to the sender)");
  }
  auto opened = OpenAccount(ctx.env, a.positional[0]);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  auto& [store, account] = std::get<StoredAccount>(opened);
  if (to == AccountState::kSuspended && account.state == AccountState::kTerminated) {
    return Failed(account.address + " is terminated; reactivate it first");
  }
  std::string note;
  if (to == AccountState::kActive && account.terminate_at && *account.terminate_at <= ctx.now) {
    // A past termination date would keep the account terminated in effect.
    note = "; termination date " + FormatUtcDate(*account.terminate_at) + " cleared";
    account.terminate_at.reset();
  }
  account.state = to;
  account.state_reason = needs_reason ? *reason : std::string();
  account.state_since = ctx.now;
  if (Status s = store.directory->Update(account); !s.ok()) return Failed(s.message());
  ctx.out << (to == AccountState::kActive ? "reactivated "
                                          : std::string(AccountStateName(to)) + " ")
          << account.address << (needs_reason ? ": " + *reason : std::string()) << note << "\n";
  return std::nullopt;
}

CommandResult Show(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 1, "accounts show", &a, kShowOptions)) return f;
  auto opened = OpenStore(ctx.env, Access::kRead);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  Store& store = std::get<Store>(opened);
  auto found = store.directory->Find(a.positional[0]);
  if (!found.ok()) return Failed(found.status().message());
  if (!*found) {
    return Failed("no account " + NormalizeAddress(a.positional[0]) +
                  " (accounts list shows them)");
  }
  const Account& account = **found;
  auto usage = store.directory->Usage(account.address);
  if (!usage.ok()) return Failed(usage.status().message());
  if (a.Has("--json")) {
    Json j = AccountJson(account);
    j["usage"] =
        *usage ? Json{{"bytes", (*usage)->bytes}, {"messages", (*usage)->messages}} : Json(nullptr);
    ctx.out << j.dump() << "\n";
    return std::nullopt;
  }
  std::string state(AccountStateName(account.state));
  if (account.state != AccountState::kActive) state += ": " + account.state_reason;
  std::vector<std::vector<std::string>> rows = {
      {"address:", account.address},
      {"kind:", std::string(AccountKindName(account.kind))},
      {"role:", std::string(AccountRoleName(account.role))},
      {"state:", state + " (since " + FormatUtcDate(account.state_since) + ", as stored)"},
      {"terminate_at:", account.terminate_at ? FormatUtcDate(*account.terminate_at) : "-"},
      {"quota:", QuotaText(account, store.default_quota)},
      {"usage:", *usage ? FormatSize(static_cast<uint64_t>((*usage)->bytes)) + " in " +
                              std::to_string((*usage)->messages) + " messages"
                        : "unknown"},
      {"password_changed_at:", DateOrNever(account.password_changed_at)},
      {"last_login_at:", DateOrNever(account.last_login_at)},
      {"created_at:", FormatUtcDate(account.created_at)},
      {"aliases:", account.aliases.empty() ? "-" : Join(account.aliases, " ")},
  };
  PrintTable(ctx.out, rows);
  return std::nullopt;
}

CommandResult List(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 0, "accounts list", &a, kListOptions)) return f;
  std::optional<AccountState> state;
  if (const std::string* v = a.Value("--state")) {
    state = ParseAccountState(*v);
    if (!state) return UsageError("--state: '" + *v + "' is not active, suspended or terminated");
  }
  std::optional<AccountKind> kind;
  if (const std::string* v = a.Value("--kind")) {
    kind = ParseAccountKind(*v);
    if (!kind) return UsageError("--kind: '" + *v + "' is not personal, unit or shared");
  }
  auto opened = OpenStore(ctx.env, Access::kRead);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  Store& store = std::get<Store>(opened);
  auto accounts = store.directory->List();
  if (!accounts.ok()) return Failed(accounts.status().message());
  std::vector<std::vector<std::string>> rows = {
      {"ADDRESS", "KIND", "ROLE", "STATE", "QUOTA", "LAST_LOGIN", "PASSWORD_CHANGED", "ALIASES"}};
  for (const Account& account : *accounts) {
    if ((state && account.state != *state) || (kind && account.kind != *kind)) continue;
    if (a.Has("--json")) {
      ctx.out << AccountJson(account).dump() << "\n";
      continue;
    }
    rows.push_back({account.address, std::string(AccountKindName(account.kind)),
                    std::string(AccountRoleName(account.role)),
                    std::string(AccountStateName(account.state)),
                    QuotaText(account, store.default_quota), DateOrNever(account.last_login_at),
                    DateOrNever(account.password_changed_at),
                    account.aliases.empty() ? "-" : Join(account.aliases, ",")});
  }
  if (!a.Has("--json")) PrintTable(ctx.out, rows);
  return std::nullopt;
}

CommandResult Import(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 1, "accounts import", &a)) return f;
  const std::string& file = a.positional[0];
  std::ifstream in(file, std::ios::binary);
  if (!in) return Failed(file + ": cannot read: " + std::strerror(errno));
  std::string text;
  text.resize(kMaxCsvFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxCsvFileBytes) {
    return Failed(file + ": larger than " + FormatSize(kMaxCsvFileBytes) + "; split it");
  }
  auto records = ParseAccountCsv(text, file);
  if (!records.ok()) return Failed(records.status().message());
  auto opened = OpenStore(ctx.env);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  Store& store = std::get<Store>(opened);
  if (Status s = store.directory->Import(*records); !s.ok()) {
    return Failed(s.message() + "\nnothing imported");
  }
  ctx.out << "imported " << records->size() << (records->size() == 1 ? " account" : " accounts")
          << " from " << file << "\n";
  return std::nullopt;
}

// An inactivity period: calendar months ("6mo", "1y") or a fixed duration ("180d").
struct Period {
  int months = 0;
  int64_t seconds = 0;
  int64_t After(int64_t t) const { return months ? AddMonths(t, months) : t + seconds; }
};

std::optional<Period> ParsePeriod(std::string_view text) {
  auto count = [&](std::string_view digits) -> std::optional<int> {
    if (digits.empty() || digits.size() > 4) return std::nullopt;
    int n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n > 0 ? std::optional<int>(n) : std::nullopt;
  };
  if (text.ends_with("mo")) {
    if (auto n = count(text.substr(0, text.size() - 2))) return Period{*n, 0};
    return std::nullopt;
  }
  if (text.ends_with("y")) {
    if (auto n = count(text.substr(0, text.size() - 1))) return Period{*n * 12, 0};
    return std::nullopt;
  }
  auto d = ParseDuration(text);
  if (!d.ok() || *d <= 0) return std::nullopt;
  return Period{0, *d};
}

// A3: mailboxes unused for `--over` (default 6 months) may be revoked after `--notice`
// (default 15 days) of notice. Listed: every mailbox whose notice date has come, i.e. due
// within the notice period ("notice") or already due ("due"), so a notice sent on the
// notice date lets revocation happen on the due date. Terminated mailboxes are gone already.
CommandResult ReportInactive(const std::vector<std::string>& args, const Context& ctx) {
  Args a;
  if (auto f = ParseArgs(args, 2, 0, "report inactive", &a, kReportOptions)) return f;
  const std::string over_text =
      a.Value("--over") ? *a.Value("--over") : std::string(kDefaultInactivePeriod);
  auto over = ParsePeriod(over_text);
  if (!over) return UsageError("--over: '" + over_text + "' is not a period (6mo, 1y, 180d)");
  const std::string notice_text =
      a.Value("--notice") ? *a.Value("--notice") : std::string(kDefaultNotice);
  auto notice = ParseDuration(notice_text);
  if (!notice.ok()) return UsageError("--notice: " + notice.status().message());
  auto opened = OpenStore(ctx.env, Access::kRead);
  if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
  Store& store = std::get<Store>(opened);
  auto accounts = store.directory->List();
  if (!accounts.ok()) return Failed(accounts.status().message());

  struct Row {
    const Account* account;
    int64_t inactive_since, due, notice_date;
  };
  std::vector<Row> due;
  for (const Account& account : *accounts) {
    if (account.state == AccountState::kTerminated ||
        (account.terminate_at && *account.terminate_at <= ctx.now)) {
      continue;
    }
    // Never logged in: unused since creation. A reactivation restarts the clock too.
    int64_t since = account.last_login_at.value_or(account.created_at);
    if (account.state == AccountState::kActive) since = std::max(since, account.state_since);
    const int64_t due_at = over->After(since);
    const int64_t notice_at = due_at - *notice;
    if (notice_at <= ctx.now) due.push_back({&account, since, due_at, notice_at});
  }
  std::sort(due.begin(), due.end(), [](const Row& x, const Row& y) {
    return x.due != y.due ? x.due < y.due : x.account->address < y.account->address;
  });
  std::vector<std::vector<std::string>> rows = {{"ADDRESS", "KIND", "STATE", "LAST_LOGIN",
                                                 "INACTIVE_SINCE", "NOTICE_DATE", "DUE_DATE",
                                                 "STATUS"}};
  for (const Row& r : due) {
    const char* status = r.due <= ctx.now ? "due" : "notice";
    const int64_t days = (ctx.now - r.inactive_since) / 86400;
    if (a.Has("--json")) {
      Json j;
      j["address"] = r.account->address;
      j["kind"] = AccountKindName(r.account->kind);
      j["state"] = AccountStateName(r.account->state);
      j["last_login_at"] = TimeOrNull(r.account->last_login_at);
      j["inactive_since"] = FormatUtcTime(r.inactive_since);
      j["inactive_days"] = days;
      j["notice_date"] = FormatUtcDate(r.notice_date);
      j["due_date"] = FormatUtcDate(r.due);
      j["status"] = status;
      ctx.out << j.dump() << "\n";
    } else {
      rows.push_back({r.account->address, std::string(AccountKindName(r.account->kind)),
                      std::string(AccountStateName(r.account->state)),
                      DateOrNever(r.account->last_login_at), FormatUtcDate(r.inactive_since),
                      FormatUtcDate(r.notice_date), FormatUtcDate(r.due), status});
    }
  }
  if (!a.Has("--json")) PrintTable(ctx.out, rows);
  return std::nullopt;
}

CommandResult Dispatch(const std::vector<std::string>& args, const Context& ctx) {
  if (args.size() < 2) return UsageError(args.empty() ? "no command" : args[0] + ": no command");
  const std::string& group = args[0];
  const std::string& command = args[1];
  if (group == "report") {
    if (command == "inactive") return ReportInactive(args, ctx);
    return UsageError("report: unknown report '" + command + "' (known: inactive)");
  }
  if (group != "accounts") return UsageError("unknown command '" + group + "'");
  using Handler = std::function<CommandResult(const std::vector<std::string>&, const Context&)>;
  static const std::map<std::string, Handler, std::less<>> kCommands = {
      {"add", Add},
      {"set", Set},
      {"suspend",
       [](const auto& a, const Context& c) { return ChangeState(a, c, AccountState::kSuspended); }},
      {"terminate", [](const auto& a,
                       const Context& c) { return ChangeState(a, c, AccountState::kTerminated); }},
      {"reactivate",
       [](const auto& a, const Context& c) { return ChangeState(a, c, AccountState::kActive); }},
      {"show", Show},
      {"list", List},
      {"import", Import},
  };
  auto it = kCommands.find(command);
  if (it == kCommands.end()) return UsageError("accounts: unknown command '" + command + "'");
  return it->second(args, ctx);
}

bool IsGlobalOption(std::string_view a) {
  return a == "--config" || a == "-c" || a == "--database";
}

}  // namespace

bool IsAdminCommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (IsGlobalOption(a)) {
      ++i;
      continue;
    }
    return a == "accounts" || a == "report";
  }
  return false;
}

int RunAdminCommand(int argc, char** argv, const std::string& default_config, std::ostream& out,
                    std::ostream& err) {
  AdminCommandEnv env;
  env.config_path = default_config;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (args.empty() && IsGlobalOption(a)) {
      if (i + 1 >= argc) {
        err << "mailwarden-policyd: " << a << " needs a value\n";
        return kExitUsage;
      }
      (a == "--database" ? env.database : env.config_path) = argv[++i];
      continue;
    }
    args.emplace_back(a);
  }
  return RunAdminCommand(args, env, out, err);
}

int RunAdminCommand(const std::vector<std::string>& args, const AdminCommandEnv& env,
                    std::ostream& out, std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << kUsage;
      return kExitOk;
    }
  }
  const int64_t now = env.now != 0 ? env.now : static_cast<int64_t>(std::time(nullptr));
  CommandResult result = Dispatch(args, Context{env, now, out});
  if (!result) return kExitOk;
  err << "mailwarden-policyd: " << result->message << "\n";
  if (result->exit_code == kExitUsage) err << kUsage;
  return result->exit_code;
}

}  // namespace mailwarden
