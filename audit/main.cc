// mailwarden: the administrator's tool. Subcommands:
//
//   mailwarden forwarding-audit [--config FILE] [--postfix-config DIR | --no-postfix]
//              [--home-root DIR | --no-homes] [--sieve PATH]... [--ldif FILE|-]
//              [--ldap-attrs A,B,...] [--addresses FILE] [--all]
//       JSON lines on stdout; exit 0 no forward outside the state domains, 1 some, 2 the
//       audit could not run as asked (docs/forwarding-audit.md).
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/forwarding_audit.h"
#include "common/command_line.h"
#include "common/config.h"
#include "common/log.h"

namespace mailwarden {
namespace {

constexpr const char* kDefaultConfig = "/etc/mailwarden/mailwarden.yaml";

void Usage(std::ostream& out) {
  out << "usage: mailwarden forwarding-audit [--config FILE] [--postfix-config DIR | --no-postfix]\n"
         "                  [--home-root DIR | --no-homes] [--sieve PATH]... [--ldif FILE|-]\n"
         "                  [--ldap-attrs ATTR,ATTR...] [--addresses FILE] [--all]\n"
         "  reports every forward to a mailbox outside domains.internal and domains.state as\n"
         "  JSON lines; exit 0 none, 1 some, 2 the audit could not run as asked\n"
         "  default config: "
      << kDefaultConfig
      << "\n"
         "  default --ldap-attrs: ";
  std::string sep;
  for (const std::string& a : audit::DefaultLdapAttributes()) {
    out << sep << a;
    sep = ",";
  }
  out << "\n";
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? comma : comma - pos);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

int ForwardingAudit(int argc, char** argv) {
  std::string config_path = kDefaultConfig;
  std::string ldap_attrs;
  bool no_postfix = false;
  bool no_homes = false;
  audit::AuditOptions o;
  if (!ParseCommandLine("mailwarden forwarding-audit", argc, argv,
                        {{{"--config", "-c"}, nullptr, &config_path},
                         {{"--postfix-config"}, nullptr, &o.postfix_config},
                         {{"--no-postfix"}, &no_postfix},
                         {{"--home-root"}, nullptr, &o.home_root},
                         {{"--no-homes"}, &no_homes},
                         {{"--sieve"}, nullptr, nullptr, &o.sieve_paths},
                         {{"--ldif"}, nullptr, &o.ldif},
                         {{"--ldap-attrs"}, nullptr, &ldap_attrs},
                         {{"--addresses"}, nullptr, &o.addresses_file},
                         {{"--all"}, &o.all}},
                        Usage))
    return audit::kAuditError;
  o.postfix = !no_postfix;
  o.homes = !no_homes;
  o.ldap_attributes = ldap_attrs.empty() ? audit::DefaultLdapAttributes() : SplitCommas(ldap_attrs);
  auto config = LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n"
              << "mailwarden forwarding-audit: configuration has errors\n";
    return audit::kAuditError;
  }
  auto domains = MailDomains::Build(**config);
  if (!domains.ok()) {
    std::cerr << domains.status().message() << "\n";
    return audit::kAuditError;
  }
  o.internal_domains = (*config)->internal_domains;
  return audit::RunForwardingAudit(o, *domains, std::cout);
}

}  // namespace
}  // namespace mailwarden

int main(int argc, char** argv) {
  using namespace mailwarden;
  SetProgramName("mailwarden");
  std::string_view command = argc > 1 ? argv[1] : "";
  if (command == "forwarding-audit") return ForwardingAudit(argc - 1, argv + 1);
  if (command == "--help" || command == "-h") {
    Usage(std::cout);
    return 0;
  }
  std::cerr << "mailwarden: " << (command.empty() ? "a subcommand is needed"
                                                  : "unknown subcommand '" + std::string(command) + "'")
            << "\n";
  Usage(std::cerr);
  return 2;
}
