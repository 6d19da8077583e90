#include "policyd/store/dovecot_directory.h"

#include <algorithm>
#include <utility>

namespace mailwarden {
namespace {

class DovecotDirectory final : public AccountDirectory {
 public:
  DovecotDirectory(std::unique_ptr<AccountDirectory> directory, std::unique_ptr<DovecotQuota> quota,
                   std::unique_ptr<DovecotLastLogin> last_login)
      : directory_(std::move(directory)),
        quota_(std::move(quota)),
        last_login_(std::move(last_login)) {}

  Result<std::optional<Account>> Find(std::string_view address) const override {
    auto found = directory_->Find(address);
    if (!found.ok() || !found->has_value()) return found;
    if (Status s = MergeLogin(**found); !s.ok()) return s;
    return found;
  }

  Result<std::optional<MailboxUsage>> Usage(std::string_view account_address) const override {
    if (quota_) {
      auto counted = quota_->Usage(account_address);
      if (!counted.ok() || counted->has_value()) return counted;
    }
    return directory_->Usage(account_address);
  }

  Result<std::vector<Account>> List() const override {
    auto all = directory_->List();
    if (!all.ok()) return all;
    for (Account& a : *all) {
      if (Status s = MergeLogin(a); !s.ok()) return s;
    }
    return all;
  }

  // Dovecot's records change with every login and delivery and say nothing about it:
  // answers that include them are cached by time (accounts.cache_ms).
  std::optional<uint64_t> AccountsMark() const override {
    return last_login_ ? std::nullopt : directory_->AccountsMark();
  }
  std::optional<uint64_t> UsageMark() const override {
    return quota_ ? std::nullopt : directory_->UsageMark();
  }

  Status Add(const Account& account) override { return directory_->Add(account); }
  Status Update(const Account& account) override { return directory_->Update(account); }
  Status SetUsage(std::string_view account_address, const MailboxUsage& usage) override {
    return directory_->SetUsage(account_address, usage);
  }
  Status RecordLogin(std::string_view account_address, int64_t when) override {
    return directory_->RecordLogin(account_address, when);
  }
  Status Import(std::span<const ImportRecord> records) override {
    return directory_->Import(records);
  }

 private:
  Status MergeLogin(Account& account) const {
    if (!last_login_) return Status::Ok();
    auto seen = last_login_->LastLogin(account.address);
    if (!seen.ok()) return seen.status();
    if (seen->has_value()) {
      account.last_login_at = std::max(account.last_login_at.value_or(**seen), **seen);
    }
    return Status::Ok();
  }

  std::unique_ptr<AccountDirectory> directory_;
  std::unique_ptr<DovecotQuota> quota_;
  std::unique_ptr<DovecotLastLogin> last_login_;
};

constexpr const char* kSettings[] = {
    "accounts.dovecot_quota",          "accounts.dovecot_quota_table",
    "accounts.dovecot_last_login",     "accounts.dovecot_last_login_table",
    "accounts.dovecot_last_login_key",
};

// `s` with the setting it is about named first.
Status Named(const char* setting, const std::string& spec, const Status& s) {
  std::string message = std::string(setting) + " '" + spec + "': " + s.message();
  return s.code() == Status::Code::kInvalidArgument ? Status::InvalidArgument(message)
                                                    : Status::Unavailable(message);
}

}  // namespace

bool DovecotDictSettingsDiffer(const Config& a, const Config& b) {
  for (const char* key : kSettings) {
    if (a.value(key).text != b.value(key).text) return true;
  }
  return false;
}

Result<std::unique_ptr<AccountDirectory>> AttachDovecotDicts(
    std::unique_ptr<AccountDirectory> directory, const Config& config, int64_t timeout_ms) {
  std::unique_ptr<DovecotQuota> quota;
  std::unique_ptr<DovecotLastLogin> last_login;
  if (const std::string& spec = config.value("accounts.dovecot_quota").text; !spec.empty()) {
    DovecotDictOptions options{timeout_ms, config.value("accounts.dovecot_quota_table").text};
    auto opened = OpenDovecotQuota(spec, options);
    if (!opened.ok()) return Named("accounts.dovecot_quota", spec, opened.status());
    quota = std::move(opened).value();
  }
  if (const std::string& spec = config.value("accounts.dovecot_last_login").text; !spec.empty()) {
    DovecotDictOptions options{timeout_ms, config.value("accounts.dovecot_last_login_table").text,
                               config.value("accounts.dovecot_last_login_key").text};
    auto opened = OpenDovecotLastLogin(spec, options);
    if (!opened.ok()) return Named("accounts.dovecot_last_login", spec, opened.status());
    last_login = std::move(opened).value();
  }
  return WithDovecotDicts(std::move(directory), std::move(quota), std::move(last_login));
}

std::unique_ptr<AccountDirectory> WithDovecotDicts(std::unique_ptr<AccountDirectory> directory,
                                                   std::unique_ptr<DovecotQuota> quota,
                                                   std::unique_ptr<DovecotLastLogin> last_login) {
  if (!quota && !last_login) return directory;
  return std::make_unique<DovecotDirectory>(std::move(directory), std::move(quota),
                                            std::move(last_login));
}

}  // namespace mailwarden
