#include "policyd/store/account_directory.h"

#include <algorithm>
#include <array>

#include "policyd/store/pg_account_directory.h"
#include "policyd/store/sqlite_account_directory.h"

namespace mailwarden {
namespace {

template <typename E>
struct Named {
  E value;
  std::string_view name;
};

constexpr std::array<Named<AccountKind>, 3> kKinds = {{{AccountKind::kPersonal, "personal"},
                                                       {AccountKind::kUnit, "unit"},
                                                       {AccountKind::kShared, "shared"}}};
constexpr std::array<Named<AccountRole>, 2> kRoles = {
    {{AccountRole::kUser, "user"}, {AccountRole::kAdmin, "admin"}}};
constexpr std::array<Named<AccountState>, 3> kStates = {
    {{AccountState::kActive, "active"},
     {AccountState::kSuspended, "suspended"},
     {AccountState::kTerminated, "terminated"}}};

template <typename E, size_t N>
std::string_view NameOf(const std::array<Named<E>, N>& table, E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// Names are matched exactly: they are written by programs (CSV exports) or typed as
// documented, and a near miss ("Admin ") should be an error, not a guess.
template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<Named<E>, N>& table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

constexpr std::string_view kSqlitePrefix = "sqlite:";
// libpq's URI forms; the whole spec goes to libpq as it is.
constexpr std::string_view kPostgresPrefixes[] = {"postgresql://", "postgres://"};

}  // namespace

std::string_view AccountKindName(AccountKind k) { return NameOf(kKinds, k); }
std::string_view AccountRoleName(AccountRole r) { return NameOf(kRoles, r); }
std::string_view AccountStateName(AccountState s) { return NameOf(kStates, s); }
std::optional<AccountKind> ParseAccountKind(std::string_view s) { return ValueOf(kKinds, s); }
std::optional<AccountRole> ParseAccountRole(std::string_view s) { return ValueOf(kRoles, s); }
std::optional<AccountState> ParseAccountState(std::string_view s) { return ValueOf(kStates, s); }

std::string NormalizeAddress(std::string_view address) {
  while (!address.empty() && (address.front() == ' ' || address.front() == '\t')) {
    address.remove_prefix(1);
  }
  while (!address.empty() && (address.back() == ' ' || address.back() == '\t')) {
    address.remove_suffix(1);
  }
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  std::string out(address);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status AccountDirectory::Import(std::span<const ImportRecord> /*records*/) {
  return Status::InvalidArgument("this account store cannot import a batch atomically");
}

Result<std::unique_ptr<AccountDirectory>> OpenAccountDirectory(
    const std::string& spec, const AccountDirectoryOptions& options) {
  if (spec.starts_with(kSqlitePrefix)) {
    std::string path = spec.substr(kSqlitePrefix.size());
    if (path.empty()) {
      return Status::InvalidArgument("accounts.database '" + spec + "': no file after sqlite:");
    }
    auto store = SqliteAccountDirectory::Open(path, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<AccountDirectory>(std::move(store).value());
  }
  for (std::string_view prefix : kPostgresPrefixes) {
    if (!spec.starts_with(prefix)) continue;
    auto store = PgAccountDirectory::Open(spec, options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<AccountDirectory>(std::move(store).value());
  }
  return Status::InvalidArgument(
      "accounts.database '" + spec +
      "': unsupported; expected sqlite:/path/to/accounts.db or postgresql://user@host/db");
}

std::string AccountDirectorySpecForLog(const std::string& spec) {
  const bool postgres = std::any_of(std::begin(kPostgresPrefixes), std::end(kPostgresPrefixes),
                                    [&](std::string_view p) { return spec.starts_with(p); });
  if (!postgres) return spec;
  std::string out = spec;
  const size_t authority = out.find("://") + 3;
  const size_t authority_end = std::min(out.find_first_of("/?", authority), out.size());
  const size_t at = out.rfind('@', authority_end);
  if (at != std::string::npos && at >= authority) {
    const size_t colon = out.find(':', authority);
    if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  for (size_t key = out.find("password=", out.find('?')); key != std::string::npos;
       key = out.find("password=", key + 1)) {
    const size_t value = key + 9;
    const size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

}  // namespace mailwarden
