// Configuration of both daemons: one YAML file plus the rule files it names.
//
// Every parameter is declared once, in the table of config.cc (name, type, default, bounds,
// doc line). That table drives parsing, range checks, the unknown-key errors and
// --print-defaults, so the three can never disagree. Rule files list rules; the keys a rule
// may carry are declared per check in the same way (CheckSchemas()).
//
// Loading never throws. Every problem found is reported as "file:line:column: reason", all
// of them at once, and a config with any error is refused as a whole: a daemon keeps the
// config it runs with (see SnapshotHolder). A loaded Config is immutable and shared between
// threads through std::shared_ptr<const Config>.
#ifndef MAILWARDEN_COMMON_CONFIG_H_
#define MAILWARDEN_COMMON_CONFIG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/action.h"
#include "common/status.h"

namespace mailwarden {

enum class ParamType {
  kString,
  kBool,
  kInteger,
  kDecimal,      // 2.5, -1; bounds are integers
  kSize,         // "15MiB"
  kDuration,     // "90d"
  kAction,       // accept | tag | quarantine | tempfail | reject
  kFailureMode,  // accept | tempfail | reject
  kSocket,       // inet:HOST:PORT, inet:PORT@HOST, unix:/path
  kFileMode,     // octal, "0660"
  kLogOutput,    // file | stdout | syslog
  kScannerMode,  // libclamav | clamd
  kStringList,
  kAddressList,    // a kStringList of AddressList entries: "user@domain", "@domain", "@.domain"
  kNetworkList,    // a kStringList of NetworkList entries: "192.0.2.0/24", "2001:db8::/32"
  kDirectionList,  // a kStringList of inbound, outbound, internal, external
  kDomainList,     // a kStringList of DomainPatterns entries: "gov.vn", "*.gov.vn", "gmx.*"
};

// One declared parameter. `name` is dotted for nested keys ("milter.socket").
struct Param {
  std::string_view name;
  ParamType type;
  std::string_view default_value;  // spelled as in YAML; "" for empty strings and lists
  int64_t min = 0;                 // bounds for kInteger, kSize, kDuration (inclusive)
  int64_t max = INT64_MAX;
  std::string_view doc;
};

// A parsed parameter value; which field is meaningful depends on the Param's type.
struct ParamValue {
  std::string text;                 // kString, kSocket, kLogOutput, and the raw spelling
  int64_t number = 0;               // kInteger, kSize, kDuration (seconds), kFileMode
  double decimal = 0;               // kDecimal
  bool flag = false;                // kBool
  Action action = Action::kAccept;  // kAction, kFailureMode
  std::vector<std::string> list;    // the list types
};

// Where something was written: for error messages and for the decision log's rule origin.
struct SourceLocation {
  std::string file;
  int line = 0;                  // 1-based; 0 when unknown
  int column = 0;                // 1-based
  std::string ToString() const;  // "file:line:column"
};

// Which daemon evaluates a check.
enum class CheckHost { kMilter, kPolicyd };

struct CheckSchema {
  std::string_view name;  // the `check:` value
  CheckHost host;
  Action default_action;
  std::span<const Param> params;  // keys besides the common ones (id, check, action, reply)
  std::string_view doc;
};

// All checks a rule may name.
std::span<const CheckSchema> CheckSchemas();
const CheckSchema* FindCheckSchema(std::string_view name);

// A rule's `when:` or `except:` condition as written (keys: ConditionParams()); absent
// when the rule has none. RuleScope (common/rule_scope.h) turns it into a matcher.
struct RuleCondition {
  bool present = false;
  std::map<std::string, ParamValue, std::less<>> params;  // only the keys given
  SourceLocation where;
};

// The keys a `when:` or `except:` condition may carry.
std::span<const Param> ConditionParams();

// One rule as written in a rule file, validated against its check's schema, with defaults
// filled in for every parameter it did not set.
struct RuleSpec {
  std::string id;
  std::string check;
  CheckHost host = CheckHost::kMilter;
  Action action = Action::kReject;
  std::string reply;     // optional text replacing the default reply text
  RuleCondition when;    // the rule applies only when this matches
  RuleCondition except;  // ... and this does not
  std::map<std::string, ParamValue, std::less<>> params;
  SourceLocation where;

  // The parameter `name` (declared in the schema, so always present after loading).
  const ParamValue& param(std::string_view name) const;
};

struct MilterOptions {
  std::string socket;
  std::string egress_socket;  // "" when there is no egress listener
  std::string socket_owner;
  int socket_mode = 0660;
  std::string user;
  int64_t connection_timeout = 300;
  int64_t shutdown_timeout = 30;
  int64_t max_connections = 1024;
  Action on_internal_error = Action::kTempfail;
  Action on_timeout = Action::kTempfail;
  std::string verdict_header;
  bool verdict_header_on_accept = false;
};

struct PolicydOptions {
  std::string listen;
  std::string socket_owner;
  int socket_mode = 0666;
  std::string user;
  int64_t max_connections = 1024;
  int64_t max_line_length = 4096;
  int64_t max_attributes = 128;
  int64_t idle_timeout = 300;
  int64_t shutdown_timeout = 10;
  Action on_internal_error = Action::kTempfail;
};

enum class LogOutput { kFile, kStdout, kSyslog };

struct LogOptions {
  LogOutput output = LogOutput::kFile;
  std::string path;
  bool log_accepted = true;
  bool include_subject = false;
  std::string syslog_ident;
};

struct Config {
  std::string path;                     // the main file, as given
  std::vector<std::string> rule_files;  // resolved paths
  std::vector<std::string> internal_domains;
  std::vector<std::string> trusted_networks;  // clients whose mail counts as from inside
  MilterOptions milter;
  PolicydOptions policyd;
  LogOptions log;
  std::vector<RuleSpec> rules;  // in file order; ids unique
  // Every top-level parameter by its dotted name, defaults filled in. The sections above
  // are the same values, typed; limits read by one consumer only (mime.*, archive.*, ...)
  // are read from here.
  std::map<std::string, ParamValue, std::less<>> values;

  // The top-level parameter `name` (declared in ConfigParams(), so always present).
  const ParamValue& value(std::string_view name) const;

  // Rules evaluated by `host`, in order.
  std::vector<const RuleSpec*> RulesFor(CheckHost host) const;
};

// The declared top-level parameters.
std::span<const Param> ConfigParams();

// Loads `path` and its rule files. On failure the Status (kInvalidArgument or kIoError)
// carries one "file:line:column: reason" line per problem found.
Result<std::shared_ptr<const Config>> LoadConfig(const std::string& path);

// A config built from defaults only, with no rules: what --print-defaults shows.
std::shared_ptr<const Config> DefaultConfig();

// Writes every parameter with its default and doc line, as a commented YAML file, then
// every check with its rule keys.
void PrintDefaults(std::ostream& out);

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_CONFIG_H_
