// Loads the YAML configuration. Distrusts everything in the files: unknown keys, wrong
// types, out-of-range numbers, duplicate keys and duplicate rule ids are all errors reported
// with their position. yaml-cpp exceptions are caught here and never leave this file.
#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/address_list.h"
#include "common/ascii.h"
#include "common/domain_patterns.h"
#include "common/network_list.h"
#include "common/rule_scope.h"
#include "common/socket_spec.h"
#include "common/units.h"

namespace mailwarden {
namespace {

constexpr int64_t kDay = 86400;

// The top-level parameters. Keep alphabetical within a section.
constexpr Param kConfigParams[] = {
    {"version", ParamType::kInteger, "1", 1, 1, "format version of this file; must be 1"},
    {"rule_files", ParamType::kStringList, "rules/default.yaml", 0, 0,
     "rule files, relative to this file's directory"},
    {"trusted_networks", ParamType::kNetworkList, "", 0, 0,
     "client networks whose mail counts as sent from inside (like Postfix's mynetworks)"},
    {"domains.internal", ParamType::kDomainList, "", 0, 0,
     "domains of this organisation (subdomains included); decides the direction of a message"},
    {"domains.public_providers", ParamType::kDomainList, "", 0, 0,
     "public mailbox providers (gmail.com, yahoo.*, ...; or a list file such as "
     "rules/public-providers.yaml): named in the forwarding rules' log and replies, and "
     "held to stricter evidence defaults"},
    {"domains.state", ParamType::kDomainList, "gov.vn", 0, 0,
     "domains issued by the state: automatic forwarding is allowed only between these and "
     "domains.internal; \"gov.vn\" covers its subdomains, \"*.gov.vn\" only them"},

    {"milter.connection_timeout", ParamType::kDuration, "300s", 1, kDay,
     "how long the milter waits for the MTA between two commands"},
    {"milter.egress_socket", ParamType::kSocket, "", 0, 0,
     "a second socket for the egress listener (conf/postfix-egress.cf): mail leaving the "
     "queue, recipients expanded, judged by the auto_forward_out rules only; empty: none"},
    {"milter.max_connections", ParamType::kInteger, "1024", 1, 65536,
     "MTA connections served at once; more wait in the listen backlog"},
    {"milter.on_internal_error", ParamType::kFailureMode, "tempfail", 0, 0,
     "verdict when a check fails internally (accept, tempfail, reject)"},
    {"milter.on_timeout", ParamType::kFailureMode, "tempfail", 0, 0,
     "verdict when a check runs out of time (accept, tempfail, reject)"},
    {"milter.shutdown_timeout", ParamType::kDuration, "30s", 0, 3600,
     "on SIGTERM, how long messages in flight may take to finish"},
    {"milter.socket", ParamType::kSocket, "inet:127.0.0.1:8891", 0, 0,
     "where the milter listens: inet:HOST:PORT or unix:/path"},
    {"milter.socket_mode", ParamType::kFileMode, "0660", 0, 0777, "permissions of a unix socket"},
    {"milter.socket_owner", ParamType::kString, "", 0, 0,
     "owner of a unix socket, \"user\" or \"user:group\"; empty keeps the daemon's"},
    {"milter.user", ParamType::kString, "", 0, 0,
     "user to switch to after opening the socket; empty keeps the current user"},
    {"milter.verdict_header", ParamType::kString, "X-Mailwarden", 0, 0,
     "header added to tagged and held messages (and accepted ones, see below); empty: none"},
    {"milter.verdict_header_on_accept", ParamType::kBool, "false", 0, 0,
     "also add the verdict header to messages accepted without findings"},

    {"antivirus.clamd_connections", ParamType::kInteger, "8", 0, 256,
     "clamd mode: idle clamd sessions kept open for the next scans"},
    {"antivirus.clamd_socket", ParamType::kSocket, "unix:/var/run/clamav/clamd.ctl", 0, 0,
     "clamd mode: where clamd listens (its LocalSocket or TCPSocket)"},
    {"antivirus.clamd_timeout", ParamType::kDuration, "60s", 1, 3600,
     "clamd mode: longest wait to connect, send or read an answer"},
    {"antivirus.database", ParamType::kString, "/var/lib/clamav", 0, 0,
     "directory of the ClamAV signature databases (the one freshclam maintains)"},
    {"antivirus.heuristic_broken_executables", ParamType::kBool, "false", 0, 0,
     "report broken PE and ELF executables as Heuristics.Broken.Executable"},
    {"antivirus.heuristic_encrypted", ParamType::kBool, "false", 0, 0,
     "report encrypted archives and documents as Heuristics.Encrypted.* (the encrypted_archive "
     "rule already refuses encrypted archives)"},
    {"antivirus.max_file_size", ParamType::kSize, "25MiB", 1024, 1ll << 32,
     "largest file (a part, or a file inside an archive) scanned; a larger one is a scan limit"},
    {"antivirus.max_files", ParamType::kInteger, "10000", 1, 1000000,
     "files scanned inside one part (archive members, embedded objects)"},
    {"antivirus.max_recursion", ParamType::kInteger, "17", 1, 100,
     "archives and containers opened one inside another by the scanner"},
    {"antivirus.max_scan_size", ParamType::kSize, "100MiB", 1024, 1ll << 34,
     "bytes scanned from one part, its unpacked content included"},
    {"antivirus.max_scan_time", ParamType::kDuration, "120s", 1, 3600,
     "time one part may take to scan"},
    {"antivirus.mode", ParamType::kScannerMode, "libclamav", 0, 0,
     "libclamav (in process, the default) or clamd (a running clamd, over INSTREAM)"},
    {"antivirus.on_scan_limit", ParamType::kFailureMode, "reject", 0, 0,
     "verdict when a part could not be fully scanned (a limit above, or a part too large to "
     "keep): 550 5.7.1 naming the limit; a retry would not help"},
    {"antivirus.on_scanner_error", ParamType::kFailureMode, "tempfail", 0, 0,
     "verdict when the scanner cannot answer (no signatures loaded, a scanner failure)"},
    {"antivirus.pua", ParamType::kBool, "false", 0, 0,
     "also load the signatures of potentially unwanted applications (PUA.*)"},
    {"antivirus.self_check", ParamType::kDuration, "60s", 0, kDay,
     "how often to look for a changed signature directory and reload it (0: only on SIGHUP)"},

    {"mime.max_boundary_length", ParamType::kInteger, "200", 70, 4096,
     "longest multipart boundary accepted (RFC 2046 allows 70)"},
    {"mime.max_depth", ParamType::kInteger, "20", 1, 1000,
     "multiparts and attached messages nested below the message"},
    {"mime.max_header_bytes", ParamType::kSize, "256KiB", 1024, 64ll << 20,
     "header section of one part, all fields together"},
    {"mime.max_header_line_bytes", ParamType::kSize, "64KiB", 998, 16ll << 20,
     "one header field, unfolded"},
    {"mime.max_headers", ParamType::kInteger, "500", 10, 100000, "header fields in one part"},
    {"mime.max_kept_part_bytes", ParamType::kSize, "32MiB", 1024, 1ll << 32,
     "largest part kept whole in memory to be opened (archives, TNEF); a larger one counts "
     "as a limit hit"},
    {"mime.max_kept_total_bytes", ParamType::kSize, "64MiB", 1024, 1ll << 34,
     "all parts of one message kept in memory together"},
    {"mime.max_parts", ParamType::kInteger, "1000", 1, 1000000,
     "MIME entities (leaves and containers) in one message"},
    {"mime.on_damaged", ParamType::kAction, "reject", 0, 0,
     "verdict when an attached archive or TNEF stream is damaged and cannot be read to its "
     "end, or holds members compressed in a way not decoded here (ARJ) (550 5.7.1): what it "
     "hides cannot be checked"},
    {"mime.on_limit_exceeded", ParamType::kAction, "reject", 0, 0,
     "verdict when a message exceeds a mime.*, archive.* or tnef.* limit (550 5.7.1 naming "
     "the limit): the rest of it cannot be checked"},
    {"archive.max_depth", ParamType::kInteger, "5", 1, 32,
     "archives opened one inside another (the attached archive is level 1)"},
    {"archive.max_member_bytes_read", ParamType::kSize, "32MiB", 64ll << 10, 1ll << 32,
     "bytes of one archive member read to judge its type or open it as an archive"},
    {"archive.max_members", ParamType::kInteger, "10000", 1, 10000000,
     "members listed over the whole walk of one attachment, nested archives included"},
    {"archive.max_ratio", ParamType::kInteger, "200", 2, 1000000,
     "expanded bytes divided by the archive's size (zip bombs)"},
    {"archive.max_total_expanded", ParamType::kSize, "200MiB", 1ll << 20, 1ll << 40,
     "bytes decompressed over the whole walk of one attachment"},
    {"archive.min_expanded_for_ratio", ParamType::kSize, "1MiB", 0, 1ll << 40,
     "the ratio is judged only once this many bytes were expanded"},
    {"tnef.max_files", ParamType::kInteger, "1000", 1, 1000000,
     "files taken out of one TNEF (winmail.dat) part"},
    {"tnef.max_total_bytes", ParamType::kSize, "64MiB", 1024, 1ll << 34,
     "bytes of all files taken out of one TNEF part"},

    {"accounts.cache_ms", ParamType::kInteger, "1000", 0, 60000,
     "how long an answer of the account directory is reused when the directory cannot say "
     "that it changed (PostgreSQL without its listening connection, Dovecot's records), in "
     "milliseconds (0: never reuse); SQLite and PostgreSQL otherwise keep answers until a "
     "change, seen within 100 ms"},
    {"accounts.contact", ParamType::kString, "", 0, 0,
     "whom refused senders should contact (\"helpdesk@example.org, ext. 1234\"), named in "
     "every refusal of the account rules; empty: \"your mail administrators\""},
    {"accounts.database", ParamType::kString, "sqlite:/var/lib/mailwarden/accounts.db", 0, 0,
     "the account directory of the account rules: sqlite:PATH (created empty, with its "
     "schema, when the file does not exist; its directory must) or postgresql://USER@HOST/DB "
     "(several MTAs sharing one directory; the schema is created in that database)"},
    {"accounts.default_quota", ParamType::kSize, "2GiB", 0, INT64_MAX,
     "mailbox quota of accounts without their own (mailbox_quota rules); 0: no limit"},
    {"accounts.dovecot_last_login", ParamType::kString, "", 0, 0,
     "where Dovecot's last_login plugin records logins, read as each account's last login "
     "(the later of it and the directory's): sqlite:PATH or postgresql://... (an SQL dict), "
     "redis://HOST:PORT[/DB] or redis+unix:PATH; empty: the directory only"},
    {"accounts.dovecot_last_login_key", ParamType::kString, "last-login/%u", 0, 0,
     "with a Redis last-login dict: the key, %u the username (Dovecot's last_login_key, "
     "after the Redis dict's own prefix)"},
    {"accounts.dovecot_last_login_table", ParamType::kString, "last_login", 0, 0,
     "with an SQL last-login dict: the table of columns username and last_login that the "
     "dict's map of shared/last-login/$user writes"},
    {"accounts.dovecot_quota", ParamType::kString, "", 0, 0,
     "Dovecot's quota dict, read as the mailbox usage of mailbox_quota rules: sqlite:PATH or "
     "postgresql://... (the SQL dict of quota = dict:...); empty: the usage the directory "
     "holds (imports)"},
    {"accounts.dovecot_quota_table", ParamType::kString, "quota", 0, 0,
     "the table of Dovecot's quota dict: columns username, bytes and messages"},
    {"accounts.login_grace", ParamType::kDuration, "30d", 0, 3650 * kDay,
     "for an account that never logged in, added to its creation date before the "
     "inactivity clock starts"},
    {"accounts.on_unavailable", ParamType::kFailureMode, "tempfail", 0, 0,
     "answer of an account rule when the directory fails or runs out of time: tempfail "
     "(DEFER_IF_PERMIT 4.3.0), reject (550 5.3.0), accept (DUNNO, logged)"},
    {"accounts.suspend_after_inactive", ParamType::kDuration, "90d", 0, 3650 * kDay,
     "an account with no login for this long is suspended (account_state rules); 0: never"},
    {"accounts.timeout_ms", ParamType::kInteger, "200", 1, 5000,
     "milliseconds one directory lookup may take (lock waits included) before "
     "accounts.on_unavailable applies; keep it well under Postfix's policy timeout"},

    {"rate_limits.cache_ms", ParamType::kInteger, "0", 0, 60000,
     "how long a counter's totals read from Redis are reused, in milliseconds (0: read "
     "every time); this host's own counts are seen at once, other hosts' within it. With "
     "SQLite the totals are kept until another process writes the file, whatever this says"},
    {"rate_limits.database", ParamType::kString, "sqlite:/var/lib/mailwarden/ratelimits.db", 0, 0,
     "the counters of the rate_limit rules: sqlite:PATH (a file of their own, created with "
     "its schema when missing; its directory must exist), or redis://[:PASSWORD@]HOST:PORT[/DB] "
     "or redis+unix:PATH[?db=N] (one limit shared by several MTAs); kept across reloads and "
     "restarts"},
    {"rate_limits.on_unavailable", ParamType::kFailureMode, "tempfail", 0, 0,
     "answer of a rate_limit rule at MAIL/RCPT when the counters fail or run out of time: "
     "tempfail (DEFER_IF_PERMIT 4.3.0), reject (550 5.3.0), accept (DUNNO, logged)"},
    {"rate_limits.timeout_ms", ParamType::kInteger, "200", 1, 5000,
     "milliseconds one counter read or update may take (lock waits included) before "
     "rate_limits.on_unavailable applies"},

    {"policyd.idle_timeout", ParamType::kDuration, "300s", 1, kDay,
     "a connection with no request for this long is closed"},
    {"policyd.listen", ParamType::kSocket, "inet:127.0.0.1:10040", 0, 0,
     "where the policy daemon listens: inet:HOST:PORT or unix:/path"},
    {"policyd.max_attributes", ParamType::kInteger, "128", 8, 4096,
     "attributes allowed in one request; more closes the connection"},
    {"policyd.max_connections", ParamType::kInteger, "1024", 1, 65536,
     "concurrent connections; more are refused until one closes"},
    {"policyd.max_line_length", ParamType::kInteger, "4096", 256, 1048576,
     "bytes allowed in one name=value line; longer closes the connection"},
    {"policyd.on_internal_error", ParamType::kFailureMode, "tempfail", 0, 0,
     "answer when a rule fails internally (accept = DUNNO, tempfail = DEFER_IF_PERMIT, "
     "reject = REJECT)"},
    {"policyd.shutdown_timeout", ParamType::kDuration, "10s", 0, 3600,
     "on SIGTERM, how long connections in the middle of a request may take to finish"},
    {"policyd.socket_mode", ParamType::kFileMode, "0666", 0, 0777, "permissions of a unix socket"},
    {"policyd.socket_owner", ParamType::kString, "", 0, 0,
     "owner of a unix socket, \"user\" or \"user:group\"; empty keeps the daemon's"},
    {"policyd.user", ParamType::kString, "", 0, 0,
     "user to switch to after opening the socket; empty keeps the current user"},
    {"policyd.workers", ParamType::kInteger, "4", 0, 256,
     "threads evaluating the requests whose rules call a store (SQLite, PostgreSQL, Redis), "
     "so a slow store call holds one of them, not every connection; 0: all on the event "
     "loop; takes effect at start"},

    {"log.include_subject", ParamType::kBool, "false", 0, 0,
     "put the Subject in the decision log (off: metadata only)"},
    {"log.log_accepted", ParamType::kBool, "true", 0, 0,
     "log accepted messages too, not only refusals"},
    {"log.output", ParamType::kLogOutput, "file", 0, 0,
     "where decision lines go: file, stdout or syslog"},
    {"log.path", ParamType::kString, "/var/log/mailwarden/decisions.json", 0, 0,
     "decision log file when output is file; reopened on SIGUSR1"},
    {"log.syslog_ident", ParamType::kString, "mailwarden", 0, 0,
     "syslog identifier when output is syslog (facility mail)"},
};

constexpr Param kMessageSizeParams[] = {
    {"max_size", ParamType::kSize, "25MiB", 1, INT64_MAX,
     "largest message accepted, headers included; checked against ESMTP SIZE= at MAIL FROM "
     "and against the real size at end of message"},
};

constexpr Param kAttachmentSizeParams[] = {
    {"max_total", ParamType::kSize, "15MiB", 1, INT64_MAX,
     "largest total decoded size of a message's attachments: every part but the main text "
     "and HTML body, inline images and parts of attached messages included, archive "
     "contents not expanded"},
    {"text_allowance", ParamType::kSize, "4MiB", 0, INT64_MAX,
     "headers and body text a message is assumed to carry besides its attachments; ESMTP "
     "SIZE= above the base64 size of max_total plus this is refused at MAIL FROM"},
};

constexpr Param kExecutableParams[] = {
    {"extensions", ParamType::kStringList,
     "exe, com, scr, pif, bat, cmd, vbs, vbe, js, jse, wsf, wsh, hta, msi, msp, ps1, jar, lnk, "
     "cpl, reg, iso, img, vhd, scf, inf",
     0, 0,
     "forbidden final extensions, lower case without the dot, judged on the normalised name "
     "(or a list file such as rules/executables.yaml)"},
    {"true_types", ParamType::kStringList, "pe, elf, macho, lnk, iso9660", 0, 0,
     "content types forbidden whatever the name: pe, elf, macho, lnk, iso9660, ole2, script"},
};

constexpr Param kSenderBlocklistParams[] = {
    {"senders", ParamType::kAddressList, "", 0, 0,
     "refused envelope senders: full addresses, \"@domain\" for that domain, \"@.domain\" "
     "for its subdomains"},
};

constexpr Param kAccountStateParams[] = {
    {"suspended_recipient", ParamType::kFailureMode, "reject", 0, 0,
     "answer for mail to a suspended mailbox: reject (550 5.2.1), tempfail (450 4.2.1) or "
     "accept (logged only)"},
};

constexpr Param kPasswordAgeParams[] = {
    {"max_age_admin", ParamType::kDuration, "90d", 1, 3650 * kDay,
     "password age from which an account of role admin is reported"},
    {"max_age_user", ParamType::kDuration, "180d", 1, 3650 * kDay,
     "password age from which an account of role user is reported"},
};

constexpr Param kRateLimitParams[] = {
    {"key", ParamType::kString, "sasl_username", 0, 0,
     "whose mail is counted: sasl_username, sender or client_address; a request without it "
     "is neither counted nor limited"},
    {"window", ParamType::kDuration, "1h", 12, 366 * kDay,
     "the sliding window, kept in twelve buckets: an accepted message counts for at least "
     "this long and at most a twelfth longer"},
    {"max_messages", ParamType::kInteger, "0", 0, INT64_MAX,
     "accepted messages per window; 0: no limit"},
    {"max_recipients", ParamType::kInteger, "0", 0, INT64_MAX,
     "recipients of accepted messages per window; 0: no limit"},
    {"max_bytes", ParamType::kSize, "0", 0, INT64_MAX,
     "bytes of accepted messages per window (a message whose announced SIZE would exceed "
     "it is refused too); 0: no limit"},
};

constexpr Param kAutoForwardInParams[] = {
    {"forwarders", ParamType::kString, "non_state", 0, 0,
     "whose automatic forwarding is refused: non_state (every mailbox outside domains.state "
     "and domains.internal) or public_providers (domains.public_providers only)"},
};

constexpr Param kClassifiedDocumentParams[] = {
    {"max_text", ParamType::kSize, "16MiB", 4096, 1ll << 30,
     "text extracted and examined per message (subject, bodies, attachments together); what "
     "lies beyond is not examined and the hit is logged (on_incomplete)"},
    {"max_document_xml", ParamType::kSize, "64MiB", 4096, 1ll << 32,
     "XML decompressed from one OOXML/ODF document"},
    {"max_archived_documents", ParamType::kSize, "32MiB", 0, 1ll << 32,
     "bytes of documents (by name: docx, xlsx, pptx, odt, ods, odp, pdf, rtf, txt, html) "
     "kept from inside one archive to read their text; a document beyond it is logged "
     "(on_incomplete); 0: documents inside archives are not read"},
    {"pdf_max_pages", ParamType::kInteger, "300", 1, 100000, "PDF pages whose text is read"},
    {"pdf_max_time", ParamType::kDuration, "10s", 1, 600,
     "time spent reading one PDF's text, checked between pages"},
    {"on_incomplete", ParamType::kAction, "accept", 0, 0,
     "when a limit cut the text or a document could not be read (damaged, encrypted): the "
     "finding is always logged; this is its action"},
    {"report_legacy_encoding", ParamType::kBool, "true", 0, 0,
     "log text in legacy Vietnamese encodings (TCVN3, VNI, VISCII, windows-1258) as a "
     "legacy_encoding finding (REGULATIONS.md M8)"},
};

constexpr Param kSpamParams[] = {
    {"rules_file", ParamType::kString, "spam-rules.yaml", 0, 0,
     "the admins' scoring rules (header, body, uri, raw and meta rules, DNS blocklist zones, "
     "heuristic scores; docs/spam-rules.md); relative to the directory of the rule file that "
     "names it; \"\" for none"},
    {"bayes_db", ParamType::kString, "/var/lib/mailwarden/spam-bayes.sqlite", 0, 0,
     "the trained classifier's SQLite store (mailwarden-milter train); a store that is "
     "missing or not trained enough gives no signal, and the load says so; \"\" for none"},
    {"bayes_weight", ParamType::kDecimal, "1", 0, 100,
     "multiplies the classifier's score (-2 .. +8 by its probability, docs/configuration.md)"},
    {"tag_score", ParamType::kDecimal, "5", -1000, 1000,
     "from this score on the message is tagged: X-Spam-Flag: YES and subject_prefix"},
    {"quarantine_score", ParamType::kDecimal, "0", 0, 1000,
     "from this score on the message is held in the MTA's hold queue; 0: never"},
    {"reject_score", ParamType::kDecimal, "15", -1000, 1000,
     "from this score on the rule's action applies (reject: 550 5.7.1 with the score)"},
    {"subject_prefix", ParamType::kString, "", 0, 0,
     "put before the Subject of tagged messages, e.g. \"[SPAM]\"; \"\" leaves it alone"},
    {"headers_on_all", ParamType::kBool, "false", 0, 0,
     "add X-Spam-Score and X-Spam-Status to messages below tag_score too (each costs the MTA "
     "a queue-file edit)"},
    {"max_text", ParamType::kSize, "256KiB", 4096, 64ll << 20,
     "decoded text (bodies, HTML reduced to text) that the rules and the classifier read"},
    {"max_raw", ParamType::kSize, "256KiB", 0, 64ll << 20,
     "bytes of the message as received that raw rules read; 0: raw rules see nothing"},
    {"dnsbl_servers", ParamType::kStringList, "", 0, 0,
     "DNS servers for the blocklists, \"127.0.0.1:53\"; empty: the system's resolver"},
    {"dnsbl_budget_ms", ParamType::kInteger, "1500", 0, 30000,
     "time all blocklist lookups of one message may take together; answers later are "
     "ignored (logged); 0: no blocklist lookups"},
    {"rspamd_url", ParamType::kString, "", 0, 0,
     "rspamd's normal worker, \"http://127.0.0.1:11333\" (POST /checkv2); \"\": not asked"},
    {"rspamd_weight", ParamType::kDecimal, "1", 0, 100, "multiplies rspamd's score"},
    {"rspamd_timeout_ms", ParamType::kInteger, "5000", 10, 120000,
     "time for rspamd's answer; a scorer too slow or unreachable is logged and skipped"},
    {"spamd_address", ParamType::kString, "", 0, 0,
     "SpamAssassin's spamd, \"127.0.0.1:783\" or \"unix:/path\"; \"\": not asked"},
    {"spamd_weight", ParamType::kDecimal, "1", 0, 100, "multiplies spamd's score"},
    {"spamd_timeout_ms", ParamType::kInteger, "5000", 10, 120000,
     "time for spamd's answer; a scorer too slow or unreachable is logged and skipped"},
    {"organisation_words", ParamType::kStringList, "", 0, 0,
     "display-name words claiming the organisation (FROM_ORG_SPOOF); empty: the built-in list "
     "and the labels of domains.internal"},
    {"url_shorteners", ParamType::kStringList, "", 0, 0,
     "link hosts that hide where a link goes (URL_SHORTENER); empty: the built-in list"},
};

constexpr Param kConditionParams[] = {
    {"direction", ParamType::kDirectionList, "", 0, 0,
     "inbound, outbound, internal and/or external"},
    {"senders", ParamType::kAddressList, "", 0, 0,
     "envelope senders: addresses, \"@domain\" or \"@.domain\""},
    {"recipients", ParamType::kAddressList, "", 0, 0,
     "envelope recipients: addresses, \"@domain\" or \"@.domain\""},
    {"authenticated", ParamType::kBool, "false", 0, 0, "whether the client logged in (SASL)"},
    {"client_networks", ParamType::kNetworkList, "", 0, 0,
     "client addresses: 192.0.2.0/24, 2001:db8::/32"},
};

constexpr CheckSchema kCheckSchemas[] = {
    {"message_size", CheckHost::kMilter, Action::kReject, kMessageSizeParams,
     "refuses messages larger than max_size (552 5.3.4)"},
    {"attachment_size", CheckHost::kMilter, Action::kReject, kAttachmentSizeParams,
     "refuses messages whose attachments total more than max_total decoded (552 5.3.4)"},
    {"executable", CheckHost::kMilter, Action::kReject, kExecutableParams,
     "refuses executables by normalised name and by content, in archives, TNEF and attached "
     "messages too (550 5.7.1)"},
    {"encrypted_archive",
     CheckHost::kMilter,
     Action::kReject,
     {},
     "refuses password-protected archives: encrypted members or an encrypted listing (550 "
     "5.7.1)"},
    {"antivirus",
     CheckHost::kMilter,
     Action::kReject,
     {},
     "scans every decoded part (bodies, attachments, TNEF files, attached messages) with "
     "libclamav; a virus is refused with its signature name (550 5.7.1); see antivirus.*"},
    {"auto_forward_out",
     CheckHost::kMilter,
     Action::kReject,
     {},
     "refuses mail forwarded automatically from an internal mailbox to a target outside the "
     "state domains, judged on forwarding traces; on the egress listener also each recipient "
     "the MTA expanded (aliases, .forward) (550 5.7.1)"},
    {"auto_forward_in", CheckHost::kMilter, Action::kReject, kAutoForwardInParams,
     "refuses mail forwarded automatically from a mailbox outside the state domains into an "
     "internal one (550 5.7.1)"},
    {"classified_document", CheckHost::kMilter, Action::kQuarantine, kClassifiedDocumentParams,
     "holds mail carrying Vietnamese classification markings (MẬT, TỐI MẬT, TUYỆT MẬT, "
     "\"Độ mật:\") in the subject, the bodies or the text of attached documents (text, "
     "HTML, RTF, PDF, OOXML, ODF), legacy TCVN3/VNI fonts included; quarantine by default, "
     "reject refuses 550 5.7.1"},
    {"macro_document",
     CheckHost::kMilter,
     Action::kTag,
     {},
     "reports OOXML/ODF documents carrying VBA or Basic macros, at any depth"},
    {"spam", CheckHost::kMilter, Action::kReject, kSpamParams,
     "scores every message: the admins' RE2 rules, built-in heuristics, the trained "
     "classifier, DNS blocklists and optionally rspamd and spamd; tags from tag_score "
     "(X-Spam-Flag, X-Spam-Score, X-Spam-Status), applies the rule's action from reject_score "
     "(550 5.7.1 with the score)"},
    {"digital_signature",
     CheckHost::kMilter,
     Action::kAccept,
     {},
     "logs digitally signed content for statistics (S/MIME and CMS with signer names, "
     "OpenPGP, signed PDF, OOXML and ODF; encrypted S/MIME too); recognises, does not verify"},
    {"sender_blocklist", CheckHost::kPolicyd, Action::kReject, kSenderBlocklistParams,
     "refuses listed envelope senders at RCPT (550 5.7.1)"},
    {"account_state", CheckHost::kPolicyd, Action::kReject, kAccountStateParams,
     "refuses suspended or terminated senders (550 5.7.1, saying why and whom to contact) "
     "and terminated recipients (550 5.1.1); suspended recipients per suspended_recipient; "
     "see accounts.*"},
    {"mailbox_quota",
     CheckHost::kPolicyd,
     Action::kReject,
     {},
     "refuses a recipient whose usage plus the announced size (RCPT) or the real size "
     "(end of message, one recipient) exceeds the quota (552 5.2.2; tempfail: 452 4.2.2)"},
    {"rate_limit", CheckHost::kPolicyd, Action::kTempfail, kRateLimitParams,
     "counts accepted mail per SASL login, sender or client address (end of message) and "
     "refuses more at MAIL/RCPT once the window reaches a limit (450 4.7.1; quarantine: "
     "HOLD); see rate_limits.*"},
    {"password_age", CheckHost::kPolicyd, Action::kTag, kPasswordAgeParams,
     "reports senders whose password is too old: tag adds X-Mailwarden-Password-Age, reject "
     "refuses (550 5.7.1) telling the user to change it"},
};

// Collects "file:line:column: reason" lines.
class Diagnostics {
 public:
  void Add(const std::string& file, const YAML::Mark& mark, const std::string& message) {
    SourceLocation where{file, mark.line >= 0 ? mark.line + 1 : 0,
                         mark.column >= 0 ? mark.column + 1 : 0};
    lines_.push_back(where.ToString() + ": " + message);
  }
  void AddRaw(std::string line) { lines_.push_back(std::move(line)); }
  bool empty() const { return lines_.empty(); }
  std::string Join() const {
    std::string out;
    for (const auto& l : lines_) out += (out.empty() ? "" : "\n") + l;
    return out;
  }

 private:
  std::vector<std::string> lines_;
};

std::string TypeWord(ParamType type) {
  switch (type) {
    case ParamType::kString:
      return "a string";
    case ParamType::kBool:
      return "true or false";
    case ParamType::kInteger:
      return "an integer";
    case ParamType::kDecimal:
      return "a number such as 2.5";
    case ParamType::kSize:
      return "a size such as 15MiB";
    case ParamType::kDuration:
      return "a duration such as 90d or 30s";
    case ParamType::kAction:
      return "one of accept, tag, quarantine, tempfail, reject";
    case ParamType::kFailureMode:
      return "one of accept, tempfail, reject";
    case ParamType::kSocket:
      return "a socket such as inet:127.0.0.1:8891 or unix:/path";
    case ParamType::kFileMode:
      return "an octal mode such as 0660";
    case ParamType::kLogOutput:
      return "one of file, stdout, syslog";
    case ParamType::kScannerMode:
      return "one of libclamav, clamd";
    case ParamType::kStringList:
      return "a list of strings";
    case ParamType::kAddressList:
      return "a list of addresses, \"@domain\" or \"@.domain\"";
    case ParamType::kNetworkList:
      return "a list of networks such as 192.0.2.0/24";
    case ParamType::kDirectionList:
      return "a list of inbound, outbound, internal, external";
    case ParamType::kDomainList:
      return "a list of domains: example.org, *.example.org, example.*";
  }
  return "a value";
}

// Parses one value from its textual form (a YAML scalar or a default). Returns an error
// message, or "" on success.
std::string ParseScalar(const Param& p, const std::string& text, ParamValue* out) {
  out->text = text;
  auto in_range = [&](int64_t v, const std::string& shown) -> std::string {
    if (v < p.min || v > p.max) {
      std::string lo = std::to_string(p.min), hi = std::to_string(p.max);
      if (p.type == ParamType::kSize) lo = FormatSize(p.min), hi = FormatSize(p.max);
      if (p.type == ParamType::kDuration) lo = FormatDuration(p.min), hi = FormatDuration(p.max);
      if (p.max == INT64_MAX) return shown + " is below the minimum " + lo;
      return shown + " is outside the allowed range " + lo + " .. " + hi;
    }
    return "";
  };
  switch (p.type) {
    case ParamType::kString:
      return "";
    case ParamType::kBool: {
      std::string t = AsciiLower(text);
      if (t == "true" || t == "yes" || t == "on") {
        out->flag = true;
        return "";
      }
      if (t == "false" || t == "no" || t == "off") {
        out->flag = false;
        return "";
      }
      return "'" + text + "' is not true or false";
    }
    case ParamType::kInteger: {
      size_t used = 0;
      try {
        out->number = std::stoll(text, &used, 10);
      } catch (...) {
        used = 0;
      }
      if (used == 0 || used != text.size()) return "'" + text + "' is not an integer";
      return in_range(out->number, text);
    }
    case ParamType::kDecimal: {
      // strtod would take "nan", "inf" and hex floats; a score is plain decimal notation.
      if (text.empty() || text.find_first_not_of("+-0123456789.") != std::string::npos)
        return "'" + text + "' is not a number";
      char* end = nullptr;
      out->decimal = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size()) return "'" + text + "' is not a number";
      if (out->decimal < static_cast<double>(p.min) || out->decimal > static_cast<double>(p.max))
        return text + " is outside the allowed range " + std::to_string(p.min) + " .. " +
               std::to_string(p.max);
      return "";
    }
    case ParamType::kSize: {
      auto r = ParseSize(text);
      if (!r.ok()) return r.status().message();
      if (*r > static_cast<uint64_t>(INT64_MAX)) return "size '" + text + "' is too large";
      out->number = static_cast<int64_t>(*r);
      return in_range(out->number, text);
    }
    case ParamType::kDuration: {
      auto r = ParseDuration(text);
      if (!r.ok()) return r.status().message();
      out->number = *r;
      return in_range(out->number, text);
    }
    case ParamType::kAction:
    case ParamType::kFailureMode: {
      auto a = ParseAction(text);
      bool allowed = a.has_value() && (p.type == ParamType::kAction || *a == Action::kAccept ||
                                       *a == Action::kTempfail || *a == Action::kReject);
      if (!allowed) return "'" + text + "' is not " + TypeWord(p.type);
      out->action = *a;
      return "";
    }
    case ParamType::kSocket: {
      // A socket without a default is optional: empty turns it off.
      if (text.empty() && p.default_value.empty()) return "";
      auto r = ParseSocketSpec(text);
      return r.ok() ? "" : r.status().message();
    }
    case ParamType::kFileMode: {
      if (text.empty() || text.find_first_not_of("01234567") != std::string::npos ||
          text.size() > 4) {
        return "'" + text + "' is not an octal mode such as 0660";
      }
      out->number = std::stol(text, nullptr, 8);
      return in_range(out->number, text);
    }
    case ParamType::kLogOutput:
      if (text == "file" || text == "stdout" || text == "syslog") return "";
      return "'" + text + "' is not " + TypeWord(p.type);
    case ParamType::kScannerMode:
      if (text == "libclamav" || text == "clamd") return "";
      return "'" + text + "' is not " + TypeWord(p.type);
    case ParamType::kStringList:
    case ParamType::kAddressList:
    case ParamType::kNetworkList:
    case ParamType::kDirectionList:
    case ParamType::kDomainList:
      return "expected " + TypeWord(p.type);
  }
  return "unsupported parameter type";
}

bool IsList(ParamType type) {
  return type == ParamType::kStringList || type == ParamType::kAddressList ||
         type == ParamType::kNetworkList || type == ParamType::kDirectionList ||
         type == ParamType::kDomainList;
}

// "" when `item` may stand in a list of type `type`, else why not.
std::string ListItemProblem(ParamType type, const std::string& item) {
  switch (type) {
    case ParamType::kAddressList:
      return AddressList::EntryProblem(item);
    case ParamType::kNetworkList:
      return NetworkList::EntryProblem(item);
    case ParamType::kDomainList:
      return DomainPatterns::EntryProblem(item);
    case ParamType::kDirectionList:
      return ParseDirection(item) ? ""
                                  : "'" + item +
                                        "' is not one of inbound, outbound, internal, "
                                        "external";
    default:
      return "";
  }
}

ParamValue DefaultValue(const Param& p) {
  ParamValue v;
  if (IsList(p.type)) {
    // A list default is spelled "a, b, c".
    std::string_view rest = p.default_value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) v.list.emplace_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return v;
  }
  // Defaults are spelled like config values and parsed by the same code, so
  // --print-defaults shows exactly what is in force.
  ParseScalar(p, std::string(p.default_value), &v);
  return v;
}

// Parses `node` as the value of `p`; reports errors to `diag`.
bool LoadYaml(const std::string& file, Diagnostics* diag, YAML::Node* out);

// Entries a list file may hold: far more than any real list, and a bound on what a
// mistaken path (a mailbox, a log) can make the loader read.
constexpr size_t kMaxListFileEntries = 100000;

// Appends the items of sequence `node` (from `file`) to `out`, checking each.
bool ParseListItems(const Param& p, const YAML::Node& node, const std::string& file,
                    Diagnostics* diag, ParamValue* out) {
  bool ok = true;
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      diag->Add(file, item.Mark(), std::string(p.name) + ": list items must be strings");
      ok = false;
      continue;
    }
    if (std::string why = ListItemProblem(p.type, item.Scalar()); !why.empty()) {
      diag->Add(file, item.Mark(), std::string(p.name) + ": " + why);
      ok = false;
      continue;
    }
    out->list.push_back(item.Scalar());
  }
  return ok;
}

// A list file: "version: 1" and "entries: [...]", so long lists (executable extensions,
// public mail providers) live in files of their own next to the rules.
bool ParseListFile(const Param& p, const std::string& path, const YAML::Node& at,
                   const std::string& file, Diagnostics* diag, ParamValue* out) {
  YAML::Node doc;
  if (!LoadYaml(path, diag, &doc)) {
    diag->Add(file, at.Mark(), std::string(p.name) + ": list file " + path + " not loaded");
    return false;
  }
  if (!doc.IsMap() || !doc["entries"] || !doc["entries"].IsSequence()) {
    diag->Add(path, doc.Mark(), "a list file is a mapping with 'version: 1' and 'entries: [...]'");
    return false;
  }
  bool ok = true;
  for (const auto& kv : doc) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (key == "version") {
      if (!kv.second.IsScalar() || kv.second.Scalar() != "1") {
        diag->Add(path, kv.second.Mark(), "version: only version 1 is understood");
        ok = false;
      }
    } else if (key != "entries" && key != "description") {
      diag->Add(path, kv.first.Mark(),
                "unknown key '" + key + "' (known keys: version, description, entries)");
      ok = false;
    }
  }
  if (doc["entries"].size() > kMaxListFileEntries) {
    diag->Add(path, doc["entries"].Mark(),
              "more than " + std::to_string(kMaxListFileEntries) + " entries");
    return false;
  }
  out->text = path;
  return ParseListItems(p, doc["entries"], path, diag, out) && ok;
}

// Parses `node` as the value of `p`; reports errors to `diag`. With `allow_list_file`, a
// list parameter may name a list file (relative to `file`'s directory) instead.
bool ParseNode(const Param& p, const YAML::Node& node, const std::string& file, Diagnostics* diag,
               ParamValue* out, bool allow_list_file = false) {
  if (IsList(p.type)) {
    if (node.IsNull()) return true;  // "key:" with nothing is an empty list
    if (allow_list_file && node.IsScalar()) {
      std::filesystem::path path(node.Scalar());
      if (path.is_relative()) path = std::filesystem::path(file).parent_path() / path;
      return ParseListFile(p, path.lexically_normal().string(), node, file, diag, out);
    }
    if (!node.IsSequence()) {
      diag->Add(
          file, node.Mark(),
          std::string(p.name) + (allow_list_file ? ": expected a list, e.g. [a, b], or a list file"
                                                 : ": expected a list, e.g. [a, b]"));
      return false;
    }
    return ParseListItems(p, node, file, diag, out);
  }
  if (!node.IsScalar() && !(node.IsNull() && p.type == ParamType::kString)) {
    diag->Add(file, node.Mark(), std::string(p.name) + ": expected " + TypeWord(p.type));
    return false;
  }
  std::string text = node.IsNull() ? "" : node.Scalar();
  std::string error = ParseScalar(p, text, out);
  if (!error.empty()) {
    diag->Add(file, node.Mark(), std::string(p.name) + ": " + error);
    return false;
  }
  return true;
}

std::string KeysUnder(std::span<const Param> params, const std::string& prefix) {
  std::set<std::string> keys;
  for (const Param& p : params) {
    std::string_view n = p.name;
    if (n.substr(0, prefix.size()) != prefix) continue;
    n.remove_prefix(prefix.size());
    keys.insert(std::string(n.substr(0, n.find('.'))));
  }
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

const Param* FindParam(std::span<const Param> params, std::string_view name) {
  for (const Param& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

bool IsSection(std::span<const Param> params, const std::string& prefix) {
  return std::any_of(params.begin(), params.end(), [&](const Param& p) {
    return std::string_view(p.name).substr(0, prefix.size()) == prefix;
  });
}

// Walks a YAML map whose keys are declared in `params` (nested maps for dotted names).
void WalkMap(const YAML::Node& map, std::span<const Param> params, const std::string& prefix,
             const std::string& file, Diagnostics* diag,
             std::map<std::string, ParamValue, std::less<>>* values) {
  if (!map.IsMap()) {
    diag->Add(file, map.Mark(),
              (prefix.empty() ? std::string("the file") : prefix.substr(0, prefix.size() - 1)) +
                  ": expected a mapping of keys to values");
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      diag->Add(file, kv.first.Mark(), "keys must be plain words");
      continue;
    }
    std::string key = kv.first.Scalar();
    std::string full = prefix + key;
    if (!seen.insert(key).second) {
      diag->Add(file, kv.first.Mark(), "duplicate key '" + full + "'");
      continue;
    }
    if (const Param* p = FindParam(params, full)) {
      ParamValue v;
      // Domain lists may be long (public providers): they may live in a list file.
      if (ParseNode(*p, kv.second, file, diag, &v,
                    /*allow_list_file=*/p->type == ParamType::kDomainList))
        (*values)[full] = std::move(v);
    } else if (IsSection(params, full + ".")) {
      WalkMap(kv.second, params, full + ".", file, diag, values);
    } else {
      diag->Add(
          file, kv.first.Mark(),
          "unknown key '" + full + "'" +
              (prefix.empty() ? "" : " (known keys here: " + KeysUnder(params, prefix) + ")"));
    }
  }
}

// Loads a YAML document, converting yaml-cpp's exceptions into a diagnostic.
bool LoadYaml(const std::string& file, Diagnostics* diag, YAML::Node* out) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    diag->AddRaw(file + ":0:0: cannot read: " +
                 (std::filesystem::exists(file, ec) ? "not a regular file" : "no such file"));
    return false;
  }
  try {
    *out = YAML::LoadFile(file);
    return true;
  } catch (const YAML::ParserException& e) {
    diag->Add(file, e.mark, "YAML syntax error: " + e.msg);
  } catch (const YAML::BadFile&) {
    diag->AddRaw(file + ":0:0: cannot read the file");
  } catch (const std::exception& e) {
    diag->AddRaw(file + ":0:0: " + e.what());
  }
  return false;
}

bool ValidRuleId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// A rule's `when:` or `except:` mapping.
void ParseCondition(const std::string& name, const YAML::Node& node, const std::string& file,
                    Diagnostics* diag, RuleCondition* out) {
  out->present = true;
  out->where = {file, node.Mark().line + 1, node.Mark().column + 1};
  if (!node.IsMap() || node.size() == 0) {
    diag->Add(file, node.Mark(),
              name + ": expected a mapping such as { direction: [inbound], senders: [...] }");
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const Param* p = FindParam(kConditionParams, key);
    if (p == nullptr) {
      diag->Add(file, kv.first.Mark(),
                name + ": unknown key '" + key +
                    "' (known keys: direction, senders, recipients, authenticated, "
                    "client_networks)");
      continue;
    }
    if (!seen.insert(key).second) {
      diag->Add(file, kv.first.Mark(), name + ": duplicate key '" + key + "'");
      continue;
    }
    ParamValue v;
    if (ParseNode(*p, kv.second, file, diag, &v, /*allow_list_file=*/true)) {
      out->params[key] = std::move(v);
    }
  }
}

void LoadRuleFile(const std::string& file, Diagnostics* diag, std::vector<RuleSpec>* rules) {
  YAML::Node doc;
  if (!LoadYaml(file, diag, &doc)) return;
  if (!doc.IsMap()) {
    diag->Add(file, doc.Mark(), "a rule file is a mapping with 'version' and 'rules'");
    return;
  }
  bool have_version = false;
  for (const auto& kv : doc) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (key == "version") {
      have_version = true;
      if (!kv.second.IsScalar() || kv.second.Scalar() != "1") {
        diag->Add(file, kv.second.Mark(), "version: only version 1 is understood");
      }
    } else if (key == "rules") {
      if (kv.second.IsNull()) continue;
      if (!kv.second.IsSequence()) {
        diag->Add(file, kv.second.Mark(), "rules: expected a list of rules");
        continue;
      }
      for (const auto& node : kv.second) {
        if (!node.IsMap()) {
          diag->Add(file, node.Mark(), "a rule is a mapping with at least 'id' and 'check'");
          continue;
        }
        RuleSpec rule;
        rule.where = {file, node.Mark().line + 1, node.Mark().column + 1};
        const CheckSchema* schema = nullptr;
        if (node["check"] && node["check"].IsScalar()) {
          rule.check = node["check"].Scalar();
          schema = FindCheckSchema(rule.check);
          if (schema == nullptr) {
            std::string known;
            for (const auto& s : CheckSchemas())
              known += (known.empty() ? "" : ", ") + std::string(s.name);
            diag->Add(file, node["check"].Mark(),
                      "unknown check '" + rule.check + "' (known checks: " + known + ")");
            continue;
          }
        } else {
          diag->Add(file, node.Mark(), "rule without 'check'");
          continue;
        }
        rule.host = schema->host;
        rule.action = schema->default_action;
        std::set<std::string> seen;
        for (const auto& field : node) {
          std::string name = field.first.IsScalar() ? field.first.Scalar() : "";
          if (!seen.insert(name).second) {
            diag->Add(file, field.first.Mark(), "duplicate key '" + name + "' in rule");
            continue;
          }
          const YAML::Node& value = field.second;
          if (name == "check") continue;
          if (name == "id" || name == "reply") {
            if (!value.IsScalar()) {
              diag->Add(file, value.Mark(), name + ": expected a string");
            } else if (name == "id") {
              rule.id = value.Scalar();
              if (!ValidRuleId(rule.id)) {
                diag->Add(
                    file, value.Mark(),
                    "id '" + rule.id + "': use 1-64 characters from a-z, 0-9, '-', '_' and '.'");
              }
            } else {
              rule.reply = value.Scalar();
            }
            continue;
          }
          if (name == "when" || name == "except") {
            ParseCondition(name, value, file, diag, name == "when" ? &rule.when : &rule.except);
            continue;
          }
          if (name == "action") {
            static constexpr Param kActionParam{"action", ParamType::kAction, "reject", 0, 0, ""};
            ParamValue v;
            if (ParseNode(kActionParam, value, file, diag, &v)) rule.action = v.action;
            continue;
          }
          const Param* p = FindParam(schema->params, name);
          if (p == nullptr) {
            std::string known = "id, check, action, reply, when, except";
            for (const Param& q : schema->params) known += ", " + std::string(q.name);
            diag->Add(file, field.first.Mark(),
                      "unknown key '" + name + "' for check " + rule.check +
                          " (known keys: " + known + ")");
            continue;
          }
          ParamValue v;
          if (ParseNode(*p, value, file, diag, &v, /*allow_list_file=*/true)) {
            rule.params[std::string(p->name)] = std::move(v);
          }
        }
        if (rule.id.empty() && !seen.count("id")) {
          diag->Add(file, node.Mark(), "rule without 'id'");
        }
        for (const Param& p : schema->params) {
          if (!rule.params.count(p.name)) rule.params[std::string(p.name)] = DefaultValue(p);
        }
        // Kept even when broken (the load fails anyway) so duplicate ids are still found.
        if (!rule.id.empty()) rules->push_back(std::move(rule));
      }
    } else {
      diag->Add(file, kv.first.Mark(), "unknown key '" + key + "' (known keys: version, rules)");
    }
  }
  if (!have_version) diag->Add(file, doc.Mark(), "missing 'version: 1'");
}

Config BuildConfig(const std::map<std::string, ParamValue, std::less<>>& values) {
  auto get = [&](std::string_view name) -> const ParamValue& { return values.find(name)->second; };
  Config c;
  c.rule_files = get("rule_files").list;
  c.internal_domains = get("domains.internal").list;
  c.trusted_networks = get("trusted_networks").list;
  for (auto& d : c.internal_domains) d = AsciiLower(d);
  c.milter.socket = get("milter.socket").text;
  c.milter.socket_owner = get("milter.socket_owner").text;
  c.milter.socket_mode = static_cast<int>(get("milter.socket_mode").number);
  c.milter.user = get("milter.user").text;
  c.milter.connection_timeout = get("milter.connection_timeout").number;
  c.milter.shutdown_timeout = get("milter.shutdown_timeout").number;
  c.milter.max_connections = get("milter.max_connections").number;
  c.milter.egress_socket = get("milter.egress_socket").text;
  c.milter.on_internal_error = get("milter.on_internal_error").action;
  c.milter.on_timeout = get("milter.on_timeout").action;
  c.milter.verdict_header = get("milter.verdict_header").text;
  c.milter.verdict_header_on_accept = get("milter.verdict_header_on_accept").flag;
  c.policyd.listen = get("policyd.listen").text;
  c.policyd.socket_owner = get("policyd.socket_owner").text;
  c.policyd.socket_mode = static_cast<int>(get("policyd.socket_mode").number);
  c.policyd.user = get("policyd.user").text;
  c.policyd.max_connections = get("policyd.max_connections").number;
  c.policyd.max_line_length = get("policyd.max_line_length").number;
  c.policyd.max_attributes = get("policyd.max_attributes").number;
  c.policyd.idle_timeout = get("policyd.idle_timeout").number;
  c.policyd.shutdown_timeout = get("policyd.shutdown_timeout").number;
  c.policyd.on_internal_error = get("policyd.on_internal_error").action;
  const std::string& out = get("log.output").text;
  c.log.output = out == "stdout"   ? LogOutput::kStdout
                 : out == "syslog" ? LogOutput::kSyslog
                                   : LogOutput::kFile;
  c.log.path = get("log.path").text;
  c.log.log_accepted = get("log.log_accepted").flag;
  c.log.include_subject = get("log.include_subject").flag;
  c.log.syslog_ident = get("log.syslog_ident").text;
  c.values = values;
  return c;
}

std::map<std::string, ParamValue, std::less<>> Defaults() {
  std::map<std::string, ParamValue, std::less<>> values;
  for (const Param& p : kConfigParams) values[std::string(p.name)] = DefaultValue(p);
  return values;
}

}  // namespace

std::string SourceLocation::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const ParamValue& RuleSpec::param(std::string_view name) const {
  static const ParamValue kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

const ParamValue& Config::value(std::string_view name) const {
  static const ParamValue kEmpty;
  auto it = values.find(name);
  return it == values.end() ? kEmpty : it->second;
}

std::vector<const RuleSpec*> Config::RulesFor(CheckHost host) const {
  std::vector<const RuleSpec*> out;
  for (const auto& r : rules) {
    if (r.host == host) out.push_back(&r);
  }
  return out;
}

std::span<const CheckSchema> CheckSchemas() { return kCheckSchemas; }

const CheckSchema* FindCheckSchema(std::string_view name) {
  for (const auto& s : kCheckSchemas) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::span<const Param> ConfigParams() { return kConfigParams; }

std::span<const Param> ConditionParams() { return kConditionParams; }

Result<std::shared_ptr<const Config>> LoadConfig(const std::string& path) {
  Diagnostics diag;
  YAML::Node doc;
  if (!LoadYaml(path, &diag, &doc)) return Status::InvalidArgument(diag.Join());
  auto values = Defaults();
  std::map<std::string, ParamValue, std::less<>> given;
  WalkMap(doc, kConfigParams, "", path, &diag, &given);
  if (doc.IsMap() && !doc["version"]) diag.Add(path, doc.Mark(), "missing 'version: 1'");
  for (auto& [k, v] : given) values[k] = std::move(v);
  Config config = BuildConfig(values);
  config.path = path;

  std::filesystem::path base = std::filesystem::path(path).parent_path();
  for (auto& file : config.rule_files) {
    std::filesystem::path p(file);
    if (p.is_relative()) file = (base / p).lexically_normal().string();
    LoadRuleFile(file, &diag, &config.rules);
  }
  std::map<std::string, const RuleSpec*> ids;
  for (const auto& rule : config.rules) {
    auto [it, inserted] = ids.emplace(rule.id, &rule);
    if (!inserted) {
      diag.AddRaw(rule.where.ToString() + ": duplicate rule id '" + rule.id +
                  "' (first defined at " + it->second->where.ToString() + ")");
    }
  }
  if (!diag.empty()) return Status::InvalidArgument(diag.Join());
  return std::shared_ptr<const Config>(std::make_shared<Config>(std::move(config)));
}

std::shared_ptr<const Config> DefaultConfig() {
  Config c = BuildConfig(Defaults());
  c.rule_files.clear();
  return std::make_shared<Config>(std::move(c));
}

void PrintDefaults(std::ostream& out) {
  out << "# mailwarden configuration: every parameter with its default.\n";
  std::string section;
  for (const Param& p : kConfigParams) {
    std::string_view name = p.name;
    size_t dot = name.find('.');
    std::string sec = dot == std::string_view::npos ? "" : std::string(name.substr(0, dot));
    std::string key = std::string(dot == std::string_view::npos ? name : name.substr(dot + 1));
    if (sec != section) {
      out << "\n" << sec << ":\n";
      section = sec;
    }
    std::string indent = sec.empty() ? "" : "  ";
    out << indent << "# " << p.doc << "\n";
    std::string value = std::string(p.default_value);
    if (IsList(p.type))
      value = value.empty() ? "[]" : "[" + value + "]";
    else if (value.empty())
      value = "\"\"";
    else if (p.type == ParamType::kFileMode)
      value = "\"" + value + "\"";
    out << indent << key << ": " << value << "\n";
  }
  out << "\n# Checks a rule may name (rule keys: id, check, action, reply, when, except, and "
         "those below).\n";
  for (const CheckSchema& s : kCheckSchemas) {
    out << "#\n# check: " << s.name << "  ("
        << (s.host == CheckHost::kMilter ? "milter" : "policyd") << ", default action "
        << ActionName(s.default_action) << ")\n#   " << s.doc << "\n";
    for (const Param& p : s.params) {
      out << "#   " << p.name << ": "
          << (p.default_value.empty() ? std::string("[]") : std::string(p.default_value)) << "  -- "
          << p.doc << "\n";
    }
  }
  out << "#\n# when: / except: keys (when: every key must match; except: any key skips the rule)\n";
  for (const Param& p : kConditionParams) out << "#   " << p.name << ": " << p.doc << "\n";
}

}  // namespace mailwarden
