// Postfix's forwarding tables as Postfix itself reads them: the table lists come from
// `postconf -c DIR -xh`, the contents from `postmap -s` / `postalias -s` (listable types:
// hash, btree, texthash, inline, ...) or, for types that cannot be listed (ldap, mysql,
// pgsql, proxy, regexp, static, ...), from `postmap -q` / `postalias -q` for the keys the
// caller asks about. Commands run without a shell, with a timeout and a cap on their output.
// Single-threaded.
#ifndef MAILWARDEN_AUDIT_POSTFIX_TABLES_H_
#define MAILWARDEN_AUDIT_POSTFIX_TABLES_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden::audit {

struct CommandResult {
  int exit_status = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;  // at most the first 64 KiB
};

// Runs `argv` (argv[0] found through PATH, then /usr/sbin and /usr/bin), feeding `input` on
// its stdin. kNotFound when the program is not installed, kTimeout after `timeout_seconds`
// (the process is killed), kLimitExceeded when stdout passes `max_output` bytes, kIoError
// when it cannot be started.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv, std::string_view input,
                                 int timeout_seconds, size_t max_output);

// The entries of a list-valued parameter ("hash:/etc/aliases, inline:{ a=b, {c = d, e} }"),
// separated by commas and whitespace outside braces.
std::vector<std::string> SplitPostfixList(std::string_view value);

// "key<TAB>value" lines of postmap/postalias -s or -q output; alias keys lose their trailing
// ':' and the Berkeley DB bookkeeping keys ("@", "YP_*") of alias tables are dropped.
std::vector<std::pair<std::string, std::string>> ParseTableOutput(std::string_view out,
                                                                  bool aliases);

struct PostfixSettings {
  std::vector<std::string> alias_maps;
  std::vector<std::string> virtual_alias_maps;
  std::string myorigin;
  std::vector<std::string> mydestination;  // lower case; table lookups in it are dropped
};

// Reads the settings of the Postfix instance whose main.cf is in `config_dir`.
Result<PostfixSettings> ReadPostfixSettings(const std::string& config_dir);

// One table of alias_maps (aliases: true) or virtual_alias_maps.
class PostfixTable {
 public:
  PostfixTable(std::string config_dir, std::string name, bool aliases);

  const std::string& name() const { return name_; }
  bool aliases() const { return aliases_; }
  // Whether Load() may list it (false for types known not to support it).
  bool MaybeListable() const;
  // Lists the whole table. On failure the table stays usable through Lookup().
  Status Load();
  bool listed() const { return listed_; }
  // Listed entries (empty when not listed), in key order.
  const std::map<std::string, std::string>& entries() const { return entries_; }
  // The value of `key`: from the listing, or asked of postmap -q (cached; at most
  // kMaxQueries keys per table, then kLimitExceeded). Prefetch() asks for many keys at once.
  Result<std::optional<std::string>> Lookup(const std::string& key);
  Status Prefetch(const std::vector<std::string>& keys);

  static constexpr size_t kMaxQueries = 100000;
  static constexpr int kTimeoutSeconds = 120;
  static constexpr size_t kMaxOutputBytes = 256u << 20;

 private:
  std::vector<std::string> Command(const char* op) const;
  std::string config_dir_;
  std::string name_;
  bool aliases_;
  bool listed_ = false;
  std::map<std::string, std::string> entries_;
  std::map<std::string, std::optional<std::string>> cache_;
};

}  // namespace mailwarden::audit

#endif  // MAILWARDEN_AUDIT_POSTFIX_TABLES_H_
