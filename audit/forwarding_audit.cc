// Reads configuration that mailbox owners write (.forward, Sieve), directory exports and
// Postfix tables. Files are opened non-blocking (a FIFO never hangs the audit), must be
// regular files and are read up to kMaxFileBytes; the rest is a notice. Includes nest at
// most kMaxIncludeDepth deep, alias expansion kMaxExpansionDepth deep, directory walks
// kMaxWalkDepth deep and kMaxSieveFiles files. Anything unreadable or cut short is a
// "notice" line, never a silent pass and never a crash.
#include "audit/forwarding_audit.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/forward_list.h"
#include "audit/ldif.h"
#include "audit/postfix_tables.h"
#include "audit/sieve_scan.h"
#include "common/ascii.h"
#include "common/rule_scope.h"

namespace mailwarden::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr int kMaxIncludeDepth = 5;
constexpr int kMaxExpansionDepth = 20;
constexpr int kMaxWalkDepth = 6;
constexpr size_t kMaxSieveFiles = 100000;

constexpr const char* kVirtual = "virtual_alias_maps";
constexpr const char* kAliases = "alias_maps";
constexpr const char* kForwardFile = "forward_file";
constexpr const char* kSieve = "sieve";
constexpr const char* kLdap = "ldap";

std::string LocalPart(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? address : address.substr(0, at);
}

// The contents of a regular file, at most kMaxFileBytes; `truncated` says there was more.
Result<std::string> ReadSmallFile(const std::string& path, bool* truncated) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status::IoError(std::string("cannot open: ") + strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::IoError("not a regular file");
  }
  std::string data;
  char buf[65536];
  *truncated = false;
  while (true) {
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int e = errno;
      close(fd);
      return Status::IoError(std::string("read failed: ") + strerror(e));
    }
    if (got == 0) break;
    size_t room = kMaxFileBytes - data.size();
    data.append(buf, std::min(room, static_cast<size_t>(got)));
    if (static_cast<size_t>(got) > room) {
      *truncated = true;
      break;
    }
  }
  close(fd);
  return data;
}

// Writes the JSON lines and keeps the counts for the summary.
class Report {
 public:
  Report(std::ostream& out, const MailDomains& domains, bool all)
      : out_(out), domains_(domains), all_(all) {}

  // One forward from `mailbox` (null when unknown) to `target`; reported when the target
  // is outside the state mail system, or always with `all`. Each (source, location,
  // mailbox, target) once.
  void Forward(const char* source, const std::string& location, const json& mailbox,
               const std::string& target, const std::vector<std::string>& via,
               json extra = json::object()) {
    std::string domain = DomainOf(target);
    DomainKind kind = domains_.Classify(domain);
    bool allowed = kind == DomainKind::kInternal || kind == DomainKind::kState;
    if (allowed && !all_) return;
    std::string key = std::string(source) + '\n' + location + '\n' + mailbox.dump() + '\n' +
                      AsciiLower(target);
    if (!seen_.insert(key).second) return;
    json j = {{"event", "forwarding"},
              {"source", source},
              {"location", location},
              {"mailbox", mailbox},
              {"target", target},
              {"target_domain_kind", DomainKindName(kind)},
              {"via", via},
              {"allowed", allowed}};
    j.update(extra);
    Write(j);
    ++(allowed ? allowed_ : violations_);
  }

  void Notice(const char* source, const std::string& location, const std::string& message) {
    if (!seen_.insert(std::string("notice\n") + source + '\n' + location + '\n' + message)
             .second)
      return;
    Write({{"event", "notice"}, {"source", source}, {"location", location}, {"message", message}});
    ++notices_;
  }

  void Error(const std::string& message) {
    Write({{"event", "error"}, {"message", message}});
    std::cerr << "mailwarden forwarding-audit: " << message << "\n";
    failed_ = true;
  }

  void Read(const char* source, size_t n = 1) { sources_read_[source] += n; }

  int Finish() {
    json read = json::object();
    for (const char* s : {kVirtual, kAliases, kForwardFile, kSieve, kLdap})
      read[s] = sources_read_[s];
    json j = {{"event", "summary"},
              {"violations", violations_},
              {"notices", notices_},
              {"sources_read", read}};
    if (all_) j["allowed"] = allowed_;
    if (failed_) j["error"] = true;
    Write(j);
    out_.flush();
    if (failed_) return kAuditError;
    return violations_ > 0 ? kAuditViolations : kAuditClean;
  }

 private:
  void Write(const json& j) {
    out_ << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }

  std::ostream& out_;
  const MailDomains& domains_;
  bool all_;
  std::set<std::string> seen_;
  std::map<std::string, size_t> sources_read_;
  size_t violations_ = 0;
  size_t allowed_ = 0;
  size_t notices_ = 0;
  bool failed_ = false;
};

struct Home {
  std::string user;
  std::string dir;
};

class Audit {
 public:
  Audit(const AuditOptions& o, const MailDomains& domains, std::ostream& out)
      : o_(o), domains_(domains), report_(out, domains, o.all) {}

  int Run() {
    if (o_.postfix && !ReadPostfix()) return report_.Finish();
    if (mail_domain_.empty() && !o_.internal_domains.empty())
      mail_domain_ = AsciiLower(o_.internal_domains.front());
    if (o_.homes) ListHomes();
    for (const Home& h : homes_) AuditForwardFile(h);
    AuditSieveScripts();
    if (!o_.ldif.empty()) AuditLdif();
    if (!o_.addresses_file.empty()) ReadAddresses();
    if (o_.postfix) AuditPostfixTables();
    return report_.Finish();
  }

 private:
  // ---- mailboxes -----------------------------------------------------------------------

  json MailboxOf(const std::string& user) const {
    if (user.empty()) return nullptr;
    return mail_domain_.empty() ? user : user + "@" + mail_domain_;
  }

  void Know(const std::string& address) {
    if (!address.empty() && address.find('@') != std::string::npos) known_.insert(AsciiLower(address));
  }

  bool IsLocalDomain(const std::string& domain) const {
    return domain == myorigin_ ||
           std::find(mydestination_.begin(), mydestination_.end(), domain) != mydestination_.end();
  }

  // ---- lists of targets (.forward, :include:, LDAP values) ------------------------------

  // Reports the entries of a forwarding list written at `file` (":line" appended) or, when
  // `line_numbers` is false, at `location` as is.
  void AuditList(const char* source, const std::string& location, bool line_numbers,
                 const json& mailbox, const std::string& text, int include_depth,
                 const json& extra = json::object()) {
    for (const ForwardItem& item : ParseForwardList(text)) {
      std::string where = line_numbers ? location + ":" + std::to_string(item.line) : location;
      switch (item.kind) {
        case ForwardItem::Kind::kAddress:
          report_.Forward(source, where, mailbox, item.value, {}, extra);
          break;
        case ForwardItem::Kind::kLocal:
          break;  // local delivery
        case ForwardItem::Kind::kCommand:
        case ForwardItem::Kind::kFile:
          NotChecked(source, where, "", item);
          break;
        case ForwardItem::Kind::kInclude:
          AuditInclude(source, where, item.value, mailbox, include_depth + 1);
          break;
      }
    }
  }

  // A notice for a command or file delivery, which the audit cannot follow.
  void NotChecked(const char* source, const std::string& where, const std::string& who,
                  const ForwardItem& item) {
    bool command = item.kind == ForwardItem::Kind::kCommand;
    report_.Notice(source, where,
                   who + "delivers to a " + (command ? "command" : "file") +
                       ", not checked: " + (command ? "|" : "") + item.value);
  }

  void AuditInclude(const char* source, const std::string& where, const std::string& path,
                    const json& mailbox, int depth) {
    if (depth > kMaxIncludeDepth) {
      report_.Notice(source, where, ":include: nested deeper than " +
                                        std::to_string(kMaxIncludeDepth) + ", not read: " + path);
      return;
    }
    if (std::optional<std::string> text = ReadInput(source, path))
      AuditList(source, path, true, mailbox, *text, depth);
  }

  // A file's contents, or a notice saying why not.
  std::optional<std::string> ReadInput(const char* source, const std::string& path) {
    bool truncated = false;
    auto text = ReadSmallFile(path, &truncated);
    if (!text.ok()) {
      report_.Notice(source, path, "not read: " + text.status().message());
      return std::nullopt;
    }
    if (truncated)
      report_.Notice(source, path, "larger than " + std::to_string(kMaxFileBytes) +
                                       " bytes; only the beginning was checked");
    return std::move(text).value();
  }

  // ---- homes and .forward ---------------------------------------------------------------

  void ListHomes() {
    if (!o_.home_root.empty()) {
      std::error_code ec;
      std::vector<Home> found;
      for (fs::directory_iterator it(o_.home_root, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ec2;
        if (it->is_directory(ec2)) found.push_back({it->path().filename(), it->path()});
      }
      if (ec) report_.Error("--home-root " + o_.home_root + ": " + ec.message());
      std::sort(found.begin(), found.end(), [](const Home& a, const Home& b) { return a.user < b.user; });
      homes_ = std::move(found);
    } else {
      std::set<std::string> dirs;
      setpwent();
      while (passwd* pw = getpwent()) {
        std::string dir = pw->pw_dir ? pw->pw_dir : "";
        if (dir.empty() || dir == "/" || !dirs.insert(dir).second) continue;
        homes_.push_back({pw->pw_name, dir});
      }
      endpwent();
    }
    for (const Home& h : homes_) {
      json m = MailboxOf(h.user);
      if (m.is_string()) Know(m.get<std::string>());
    }
  }

  void AuditForwardFile(const Home& home) {
    std::string path = home.dir + "/.forward";
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return;  // none: the common case
    std::optional<std::string> text = ReadInput(kForwardFile, path);
    if (!text) return;
    report_.Read(kForwardFile);
    AuditList(kForwardFile, path, true, MailboxOf(home.user), *text, 0);
  }

  // ---- Sieve ----------------------------------------------------------------------------

  // Adds Sieve scripts under `path` (a file, or a directory walked for *.sieve and
  // .dovecot.sieve) to `files`.
  void CollectSieve(const fs::path& path, int depth, std::vector<fs::path>* files) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::is_directory(st)) {
      files->push_back(path);
      return;
    }
    if (depth > kMaxWalkDepth) {
      report_.Notice(kSieve, path, "directory nested too deep, not searched");
      return;
    }
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      entries.push_back(it->path());
    if (ec) report_.Notice(kSieve, path, "not searched: " + ec.message());
    std::sort(entries.begin(), entries.end());
    for (const fs::path& p : entries) {
      if (files->size() >= kMaxSieveFiles) {
        report_.Notice(kSieve, path, "more than " + std::to_string(kMaxSieveFiles) +
                                         " Sieve scripts; the rest not checked");
        return;
      }
      std::error_code ec2;
      if (fs::is_symlink(p, ec2) && fs::is_directory(p, ec2)) continue;  // no loops
      if (fs::is_directory(p, ec2)) {
        CollectSieve(p, depth + 1, files);
      } else if (p.extension() == ".sieve" || p.filename() == ".dovecot.sieve") {
        files->push_back(p);
      }
    }
  }

  // The mailbox a script belongs to: its home's user, or the <domain>/<user> of a virtual
  // mailbox tree (/var/vmail/bacgiang.gov.vn/alice/...) under an internal domain.
  json SieveOwner(const fs::path& file) const {
    std::error_code ec;
    fs::path path = fs::absolute(file, ec);
    std::string p = path.lexically_normal();
    for (const Home& h : homes_)
      if (p.starts_with(h.dir + "/")) return MailboxOf(h.user);
    std::vector<std::string> parts;
    for (const auto& part : path.lexically_normal()) parts.push_back(part);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].find('.') != std::string::npos &&
          domains_.Classify(parts[i]) == DomainKind::kInternal && !parts[i + 1].empty() &&
          parts[i + 1].find('.') == std::string::npos)
        return AsciiLower(parts[i + 1] + "@" + parts[i]);
    }
    return nullptr;
  }

  void AuditSieveScripts() {
    std::vector<fs::path> files;
    for (const std::string& p : o_.sieve_paths) {
      std::error_code ec;
      if (!fs::exists(p, ec)) {
        report_.Error("--sieve " + p + ": no such file or directory");
        continue;
      }
      CollectSieve(p, 0, &files);
    }
    if (o_.sieve_paths.empty()) {
      for (const Home& h : homes_) {
        std::error_code ec;
        for (const char* name : {"/.dovecot.sieve", "/sieve"})
          if (fs::exists(h.dir + name, ec)) CollectSieve(h.dir + name, 1, &files);
      }
      if (o_.home_root.empty()) {
        // Dovecot's usual places for global scripts (sieve_before, sieve_after, default).
        for (const char* dir : {"/var/lib/dovecot/sieve", "/etc/dovecot/sieve"}) {
          std::error_code ec;
          if (fs::is_directory(dir, ec)) CollectSieve(dir, 1, &files);
        }
      }
    }
    std::set<std::string> done;  // .dovecot.sieve is usually a link to sieve/<active>.sieve
    for (const fs::path& f : files) {
      std::error_code ec;
      fs::path real = fs::canonical(f, ec);
      if (!done.insert(ec ? f.string() : real.string()).second) continue;
      // A link is reported as the file it points to: the one to edit.
      std::error_code ec2;
      AuditSieveFile(!ec && fs::is_symlink(f, ec2) ? real : f);
    }
  }

  void AuditSieveFile(const fs::path& file) {
    std::optional<std::string> text = ReadInput(kSieve, file);
    if (!text) return;
    report_.Read(kSieve);
    json owner = SieveOwner(file);
    if (owner.is_string()) Know(owner.get<std::string>());
    SieveScan scan = ScanSieveRedirects(*text);
    for (const SieveRedirect& r : scan.redirects) {
      std::string where = file.string() + ":" + std::to_string(r.line);
      if (r.list) {
        report_.Notice(kSieve, where, "redirect :list to \"" + r.target + "\" not checked");
      } else if (r.unresolved) {
        report_.Notice(kSieve, where,
                       "redirect to a variable not checked: \"" + r.target + "\"");
      } else {
        std::string target = r.target;
        for (const ForwardItem& item : ParseForwardList(target))
          if (item.kind == ForwardItem::Kind::kAddress) target = item.value;
        report_.Forward(kSieve, where, owner, target, {}, {{"copy", r.copy}});
      }
    }
    if (!scan.error.empty())
      report_.Notice(kSieve, file.string() + ":" + std::to_string(scan.error_line),
                     "not a valid Sieve script from here on (" + scan.error +
                         "); the rest of it not checked");
  }

  // ---- LDIF -----------------------------------------------------------------------------

  void AuditLdif() {
    std::ifstream file;
    std::istream* in = &std::cin;
    std::string name = o_.ldif == "-" ? "stdin" : o_.ldif;
    if (o_.ldif != "-") {
      struct stat st;
      if (stat(o_.ldif.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        report_.Error("--ldif " + o_.ldif + ": not a readable file");
        return;
      }
      file.open(o_.ldif, std::ios::binary);
      if (!file) {
        report_.Error("--ldif " + o_.ldif + ": cannot open: " + strerror(errno));
        return;
      }
      in = &file;
    }
    std::vector<std::string> attrs;
    for (const std::string& a : o_.ldap_attributes) attrs.push_back(AsciiLower(a));
    std::vector<std::string> problems;
    size_t n = ReadLdif(*in, [&](const LdifEntry& e) {
      std::vector<std::string> mail = e.Values("mail");
      for (const std::string& m : mail) Know(m);
      for (const std::string& m : e.Values("zimbramailalias")) Know(m);
      json owner = mail.empty() ? json(e.dn) : json(mail.front());
      for (const std::string& a : attrs)
        for (const std::string& v : e.Values(a))
          AuditList(kLdap, name + ":" + std::to_string(e.line), false, owner, v, 0,
                    {{"dn", e.dn}, {"attribute", a}});
    }, &problems);
    report_.Read(kLdap, n);
    for (const std::string& p : problems) report_.Notice(kLdap, name, p);
  }

  void ReadAddresses() {
    std::ifstream in(o_.addresses_file);
    if (!in) {
      report_.Error("--addresses " + o_.addresses_file + ": cannot open: " + strerror(errno));
      return;
    }
    std::string line;
    while (std::getline(in, line)) {
      size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      for (const ForwardItem& item : ParseForwardList(line))
        if (item.kind == ForwardItem::Kind::kAddress) Know(item.value);
    }
  }

  // ---- Postfix --------------------------------------------------------------------------

  bool ReadPostfix() {
    auto s = ReadPostfixSettings(o_.postfix_config);
    if (!s.ok()) {
      report_.Error("cannot read Postfix settings (--no-postfix skips them): " +
                    s.status().message());
      return false;
    }
    myorigin_ = s->myorigin;
    mail_domain_ = myorigin_;
    mydestination_ = s->mydestination;
    for (const std::string& t : s->virtual_alias_maps)
      virtual_.emplace_back(o_.postfix_config, t, false);
    for (const std::string& t : s->alias_maps) aliases_.emplace_back(o_.postfix_config, t, true);
    return true;
  }

  static const char* SourceOf(const PostfixTable& t) { return t.aliases() ? kAliases : kVirtual; }

  void AuditPostfixTables() {
    for (auto* tables : {&virtual_, &aliases_}) {
      for (PostfixTable& t : *tables) {
        if (!t.MaybeListable()) {
          report_.Notice(SourceOf(t), t.name(),
                         "this table type cannot be listed; only known addresses were asked "
                         "of it (--addresses FILE adds more)");
          continue;
        }
        if (Status s = t.Load(); !s.ok()) {
          report_.Notice(SourceOf(t), t.name(),
                         "could not be listed (" + s.message() +
                             "); only known addresses were asked of it");
          continue;
        }
        report_.Read(SourceOf(t));
        for (const auto& [k, v] : t.entries()) {
          Know(k);
          for (const ForwardItem& item : ParseForwardList(v))
            if (item.kind == ForwardItem::Kind::kAddress &&
                domains_.ClassifyAddress(item.value) == DomainKind::kInternal)
              Know(item.value);
        }
      }
    }
    // Keys to ask of the tables that could not be listed.
    std::vector<std::string> virtual_keys, alias_keys;
    std::set<std::string> domains;
    for (const std::string& a : known_) {
      if (a.starts_with('@')) continue;
      std::string domain = DomainOf(a);
      if (domains_.Classify(domain) != DomainKind::kInternal && !IsLocalDomain(domain)) continue;
      virtual_keys.push_back(a);
      domains.insert("@" + domain);
      if (IsLocalDomain(domain)) alias_keys.push_back(LocalPart(a));
    }
    for (const std::string& d : o_.internal_domains) domains.insert("@" + AsciiLower(d));
    virtual_keys.insert(virtual_keys.end(), domains.begin(), domains.end());
    for (const Home& h : homes_) alias_keys.push_back(AsciiLower(h.user));
    std::sort(alias_keys.begin(), alias_keys.end());
    alias_keys.erase(std::unique(alias_keys.begin(), alias_keys.end()), alias_keys.end());

    for (auto* tables : {&virtual_, &aliases_}) {
      for (PostfixTable& t : *tables) {
        if (t.listed()) {
          std::vector<std::pair<std::string, std::string>> entries(t.entries().begin(),
                                                                   t.entries().end());
          for (const auto& [k, v] : entries) ExpandRoot(t, k, v);
          continue;
        }
        const auto& keys = t.aliases() ? alias_keys : virtual_keys;
        if (Status s = t.Prefetch(keys); !s.ok()) {
          report_.Notice(SourceOf(t), t.name(), "lookups failed: " + s.message());
          continue;
        }
        report_.Read(SourceOf(t));
        for (const std::string& k : keys) {
          auto v = t.Lookup(k);
          if (v.ok() && v->has_value()) ExpandRoot(t, k, **v);
        }
      }
    }
  }

  void ExpandRoot(PostfixTable& table, const std::string& key, const std::string& value) {
    std::string mailbox = key;
    if (table.aliases() || key.find('@') == std::string::npos) {
      mailbox = myorigin_.empty() ? key : key + "@" + myorigin_;
    }
    std::set<std::string> visited = {AsciiLower(mailbox), AsciiLower(key)};
    Expand(table, table.name(), json(mailbox), value, {}, 0, &visited);
  }

  // Reports the targets of one table value and follows each through the tables.
  void Expand(PostfixTable& table, const std::string& location, const json& mailbox,
              const std::string& value, const std::vector<std::string>& via, int depth,
              std::set<std::string>* visited) {
    const char* source = SourceOf(table);
    for (const ForwardItem& item : ParseForwardList(value)) {
      switch (item.kind) {
        case ForwardItem::Kind::kAddress:
          report_.Forward(source, location, mailbox, item.value, via);
          Follow(AsciiLower(item.value), mailbox, via, depth, visited);
          break;
        case ForwardItem::Kind::kLocal:
          // A bare name: in virtual_alias_maps Postfix appends @$myorigin; in aliases it
          // is a local user, maybe an alias itself.
          Follow(AsciiLower(table.aliases() || myorigin_.empty() ? item.value
                                                            : item.value + "@" + myorigin_),
                 mailbox, via, depth, visited);
          break;
        case ForwardItem::Kind::kCommand:
        case ForwardItem::Kind::kFile:
          // Once, for the entry that names it, not for every alias that leads there.
          if (via.empty()) NotChecked(source, location, json(mailbox).dump() + " ", item);
          break;
        case ForwardItem::Kind::kInclude:
          if (std::optional<std::string> text = ReadInput(source, item.value))
            Expand(table, item.value, mailbox, *text, via, depth + 1, visited);
          break;
      }
    }
  }

  // Where mail for `address` goes next: virtual_alias_maps (address, then @domain), or, for a
  // local address, alias_maps (local part).
  void Follow(const std::string& address, const json& mailbox,
              const std::vector<std::string>& via, int depth, std::set<std::string>* visited) {
    if (!visited->insert(address).second) return;
    if (depth + 1 > kMaxExpansionDepth) {
      report_.Notice(SourceOf(virtual_.empty() ? aliases_.front() : virtual_.front()),
                     json(mailbox).dump(),
                     "expansion deeper than " + std::to_string(kMaxExpansionDepth) +
                         " aliases, not followed further at " + address);
      return;
    }
    std::vector<std::string> next_via = via;
    next_via.push_back(address);
    // Expands the first table of `tables` that has `key`; false when none has it.
    auto expand_first = [&](std::vector<PostfixTable>& tables, const std::string& key) {
      for (PostfixTable& t : tables) {
        auto v = t.Lookup(key);
        if (!v.ok()) {
          report_.Notice(SourceOf(t), t.name(), v.status().message());
        } else if (v->has_value()) {
          Expand(t, t.name(), mailbox, **v, next_via, depth + 1, visited);
          return true;
        }
      }
      return false;
    };
    std::string domain = DomainOf(address);
    if (!domain.empty() &&
        (expand_first(virtual_, address) || expand_first(virtual_, "@" + domain)))
      return;
    if (domain.empty() || IsLocalDomain(domain)) expand_first(aliases_, LocalPart(address));
  }

  const AuditOptions& o_;
  const MailDomains& domains_;
  Report report_;
  std::string myorigin_;
  std::string mail_domain_;  // for mailbox names of home users
  std::vector<std::string> mydestination_;
  std::vector<PostfixTable> virtual_;
  std::vector<PostfixTable> aliases_;
  std::vector<Home> homes_;
  std::set<std::string> known_;  // addresses, lower case
};

}  // namespace

std::vector<std::string> DefaultLdapAttributes() {
  return {"zimbraPrefMailForwardingAddress", "zimbraMailForwardingAddress",
          "mailForwardingAddress", "mailRoutingAddress", "maildrop"};
}

int RunForwardingAudit(const AuditOptions& options, const MailDomains& domains,
                       std::ostream& out) {
  return Audit(options, domains, out).Run();
}

}  // namespace mailwarden::audit
