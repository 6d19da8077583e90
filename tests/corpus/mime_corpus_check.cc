// mime_corpus_check: runs every message file under the given directories through the MIME
// engine (milter/mime) and checks that each one yields a result, without a crash and in
// bounded time. Built like the rest of the tests, so under scripts/build.sh asan every
// message also runs under AddressSanitizer + UBSan.
//
//   mime_corpus_check [--max-ms N] [--chunk-bytes N] [--limit N] [--known-failures FILE] DIR...
//
// For each regular file (found recursively, in sorted path order, so runs are repeatable):
//   - a leading mbox "From " separator line is removed: a corpus file is an mbox entry, an
//     MTA hands a milter the message without it (the parser would otherwise read that line
//     as the end of the header section);
//   - MimeParser (default MimeLimits) is fed the raw message by AddRaw() in chunks of
//     --chunk-bytes (default 4093, a prime: chunk edges fall everywhere in lines and
//     boundaries), keeping the content of every leaf that is not the main body; Finish();
//   - every kept leaf that LooksLikeArchive() is listed with ListArchive(default limits).
// Untrusted input is the point: the files are distrusted wholesale. A message fails when it
// takes more than --max-ms (default 2000) of wall time, when a non-empty message yields no
// leaf, or when the engine throws. --limit N takes only the first N files of each DIR.
// Before the timed run one small message with an attachment goes through untimed, so that
// one-time initialisation (libmagic's database, ICU converters) is not charged to whichever
// corpus message happens to come first.
//
// --known-failures FILE lists messages that are known to fail, one path (relative to the
// DIR it is under) per line, with '#' comments: such a message failing is reported as KNOWN
// and does not fail the run; one that passes, or is not in the corpus, does (FIXED / STALE:
// the list must shrink with the bugs it records).
//
// Prints a summary (messages, bytes, leaves, attachments, archives, limit hits, slowest
// message, throughput), then one line per failure; exits 0 when none failed, 1 when some
// did, 2 on a usage or I/O error (an unreadable or empty corpus is an error, not a pass).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "milter/mime/archive.h"
#include "milter/mime/parser.h"

namespace mailwarden {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  double max_ms = 2000;
  size_t chunk_bytes = 4093;
  size_t limit = 0;  // 0: every file
  std::string known_failures_file;
  std::vector<std::string> dirs;
};

struct MessageFile {
  fs::path path;
  std::string relative;  // to the DIR it was found under
};

struct Totals {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t mbox_from_lines = 0;
  uint64_t leaves = 0;
  uint64_t attachments = 0;  // kept leaves: everything but the main body
  uint64_t uuencoded = 0;
  uint64_t in_attached_message = 0;
  uint64_t truncated = 0;
  uint64_t entities = 0;
  uint64_t unclosed_multiparts = 0;
  int max_depth = 0;
  uint64_t archives = 0;         // kept leaves that LooksLikeArchive()
  uint64_t archives_listed = 0;  // ListArchive() returned a listing
  uint64_t archive_members = 0;
  uint64_t archive_encrypted = 0;
  uint64_t archive_truncated = 0;
  std::map<std::string, uint64_t> mime_limit_hits;     // by MimeLimits name
  std::map<std::string, uint64_t> archive_limit_hits;  // by ArchiveLimits name
  std::map<std::string, uint64_t> archive_errors;      // by Status text
  double total_ms = 0;
  double max_ms = 0;
  std::string slowest;
};

// Run once, untimed, before the corpus: a text body and a small attachment.
constexpr std::string_view kWarmUpMessage =
    "From: a@example.org\r\n"
    "To: b@example.org\r\n"
    "Subject: warm-up\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "\r\n"
    "Hello.\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SGVsbG8sIHdvcmxkIQ==\r\n"
    "--b--\r\n";

bool ParseSize(const char* text, size_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') return false;
  *out = static_cast<size_t>(v);
  return true;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--known-failures") {
      const char* value = next();
      if (value == nullptr) return false;
      options->known_failures_file = value;
    } else if (arg == "--max-ms" || arg == "--chunk-bytes" || arg == "--limit") {
      const char* value = next();
      size_t n = 0;
      if (value == nullptr || !ParseSize(value, &n)) return false;
      if (arg == "--max-ms") options->max_ms = static_cast<double>(n);
      if (arg == "--chunk-bytes") options->chunk_bytes = std::max<size_t>(n, 1);
      if (arg == "--limit") options->limit = n;
    } else if (arg.starts_with("-")) {
      return false;
    } else {
      options->dirs.emplace_back(arg);
    }
  }
  return !options->dirs.empty();
}

// The regular files under `dir`, sorted; the first `limit` of them when limit > 0.
bool ListFiles(const std::string& dir, size_t limit, std::vector<MessageFile>* files) {
  std::error_code ec;
  std::vector<fs::path> found;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) {
    std::fprintf(stderr, "mime_corpus_check: %s: %s\n", dir.c_str(), ec.message().c_str());
    return false;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      std::fprintf(stderr, "mime_corpus_check: %s: %s\n", dir.c_str(), ec.message().c_str());
      return false;
    }
    if (it->is_regular_file()) found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  if (limit > 0 && found.size() > limit) found.resize(limit);
  for (const fs::path& path : found) {
    files->push_back({path, path.lexically_relative(dir).generic_string()});
  }
  return true;
}

// Reads the --known-failures list: relative paths, '#' starts a comment.
bool ReadKnownFailures(const std::string& file, std::map<std::string, bool>* known) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "mime_corpus_check: cannot read %s\n", file.c_str());
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    size_t end = line.find_last_not_of(" \t\r");
    (*known)[line.substr(begin, end - begin + 1)] = false;  // not seen yet
  }
  return true;
}

bool ReadFile(const fs::path& path, std::string* out) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->resize(size);
  in.read(out->data(), static_cast<std::streamsize>(size));
  return static_cast<uintmax_t>(in.gcount()) == size;
}

// The message as an MTA would hand it over: without an mbox "From " separator line.
std::string_view StripMboxFrom(std::string_view text, bool* stripped) {
  *stripped = false;
  if (!text.starts_with("From ")) return text;
  size_t eol = text.find('\n');
  *stripped = true;
  return eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
}

// Runs one message through the engine and adds to `totals`. Returns "" when it passed, else
// why it failed.
std::string CheckMessage(std::string_view raw, const std::string& name, const Options& options,
                         Totals* totals) {
  bool stripped = false;
  std::string_view message = StripMboxFrom(raw, &stripped);
  if (stripped) ++totals->mbox_from_lines;
  ++totals->messages;
  totals->bytes += raw.size();

  std::string failure;
  Clock::time_point start = Clock::now();
  try {
    // Variadic: the KeepPredicate's arguments after the part (the head bytes) are not needed.
    mime::MimeParser parser({}, [](const mime::MimePart& part, const auto&...) {
      return !part.is_main_body;
    });
    for (size_t at = 0; at < message.size(); at += options.chunk_bytes) {
      parser.AddRaw(message.substr(at, options.chunk_bytes));
    }
    mime::MimeStructure structure = parser.Finish();

    totals->leaves += structure.leaves().size();
    totals->entities += structure.entity_count();
    totals->unclosed_multiparts += structure.unclosed_multiparts();
    totals->max_depth = std::max(totals->max_depth, structure.max_depth_seen());
    for (const mime::LimitHit& hit : structure.limit_hits()) ++totals->mime_limit_hits[hit.name];
    for (const mime::MimePart& part : structure.leaves()) {
      if (part.from_uuencode) ++totals->uuencoded;
      if (part.in_attached_message) ++totals->in_attached_message;
      if (part.truncated) ++totals->truncated;
      if (!part.kept) continue;
      ++totals->attachments;
      if (!LooksLikeArchive(part.content)) continue;
      ++totals->archives;
      Result<ArchiveListing> listing = ListArchive(part.content, ArchiveLimits{});
      if (!listing.ok()) {
        ++totals->archive_errors[listing.status().ToString()];
        continue;
      }
      ++totals->archives_listed;
      totals->archive_members += listing->members.size();
      if (listing->encrypted_entries || listing->encrypted_header) ++totals->archive_encrypted;
      if (listing->truncated) ++totals->archive_truncated;
      for (const ArchiveLimitHit& hit : listing->limit_hits) {
        ++totals->archive_limit_hits[hit.name];
      }
    }
    if (structure.leaves().empty() && !message.empty()) {
      failure = "no leaf reported for a message of " + std::to_string(message.size()) + " bytes";
    }
  } catch (const std::exception& e) {
    failure = std::string("exception: ") + e.what();
  } catch (...) {
    failure = "exception of unknown type";
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  totals->total_ms += ms;
  if (ms > totals->max_ms) {
    totals->max_ms = ms;
    totals->slowest = name;
  }
  if (failure.empty() && ms > options.max_ms) {
    std::ostringstream why;
    why << "took " << ms << " ms, over the " << options.max_ms << " ms bound";
    failure = why.str();
  }
  return failure;
}

std::string Histogram(const std::map<std::string, uint64_t>& counts) {
  if (counts.empty()) return "none";
  std::string out;
  for (const auto& [name, n] : counts) {
    if (!out.empty()) out += ", ";
    out += name + " " + std::to_string(n);
  }
  return out;
}

uint64_t Sum(const std::map<std::string, uint64_t>& counts) {
  uint64_t n = 0;
  for (const auto& entry : counts) n += entry.second;
  return n;
}

void PrintSummary(const Totals& t, double wall_ms) {
  double mb = static_cast<double>(t.bytes) / 1e6;
  std::printf("messages:     %llu (%.1f MB; %llu mbox From_ lines removed)\n",
              static_cast<unsigned long long>(t.messages), mb,
              static_cast<unsigned long long>(t.mbox_from_lines));
  std::printf("leaves:       %llu (%llu attachments kept, %llu uuencoded, %llu in attached "
              "messages, %llu truncated); entities %llu, max depth %d, unclosed multiparts %llu\n",
              static_cast<unsigned long long>(t.leaves),
              static_cast<unsigned long long>(t.attachments),
              static_cast<unsigned long long>(t.uuencoded),
              static_cast<unsigned long long>(t.in_attached_message),
              static_cast<unsigned long long>(t.truncated),
              static_cast<unsigned long long>(t.entities), t.max_depth,
              static_cast<unsigned long long>(t.unclosed_multiparts));
  std::printf("archives:     %llu looked like one, %llu listed (%llu members, %llu encrypted, "
              "%llu truncated); not listed: %s\n",
              static_cast<unsigned long long>(t.archives),
              static_cast<unsigned long long>(t.archives_listed),
              static_cast<unsigned long long>(t.archive_members),
              static_cast<unsigned long long>(t.archive_encrypted),
              static_cast<unsigned long long>(t.archive_truncated),
              Histogram(t.archive_errors).c_str());
  std::printf("limit hits:   %llu MIME (%s), %llu archive (%s)\n",
              static_cast<unsigned long long>(Sum(t.mime_limit_hits)),
              Histogram(t.mime_limit_hits).c_str(),
              static_cast<unsigned long long>(Sum(t.archive_limit_hits)),
              Histogram(t.archive_limit_hits).c_str());
  double mean = t.messages > 0 ? t.total_ms / static_cast<double>(t.messages) : 0;
  std::printf("time:         max %.1f ms/message (%s), mean %.2f ms; %.1f MB/s in the engine, "
              "%.1f s wall\n",
              t.max_ms, t.slowest.c_str(), mean, t.total_ms > 0 ? mb / (t.total_ms / 1e3) : 0,
              wall_ms / 1e3);
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: mime_corpus_check [--max-ms N] [--chunk-bytes N] [--limit N]"
                 " [--known-failures FILE] DIR...\n");
    return 2;
  }
  std::vector<MessageFile> files;
  for (const std::string& dir : options.dirs) {
    if (!ListFiles(dir, options.limit, &files)) return 2;
  }
  if (files.empty()) {
    std::fprintf(stderr, "mime_corpus_check: no message files found\n");
    return 2;
  }
  std::map<std::string, bool> known;  // relative path -> seen
  if (!options.known_failures_file.empty() &&
      !ReadKnownFailures(options.known_failures_file, &known)) {
    return 2;
  }

  Totals warm_up;
  CheckMessage(kWarmUpMessage, "warm-up", options, &warm_up);

  Totals totals;
  std::vector<std::string> failures;
  std::vector<std::string> known_failures;
  uint64_t failed_messages = 0;  // FAIL and FIXED
  Clock::time_point start = Clock::now();
  std::string raw;
  for (const MessageFile& file : files) {
    if (!ReadFile(file.path, &raw)) {
      std::fprintf(stderr, "mime_corpus_check: cannot read %s\n", file.path.c_str());
      return 2;
    }
    std::string why = CheckMessage(raw, file.path.string(), options, &totals);
    auto listed = known.find(file.relative);
    if (listed != known.end()) {
      listed->second = true;
      if (why.empty()) {
        ++failed_messages;
        failures.push_back("FIXED " + file.path.string() +
                           ": passes now; remove it from " + options.known_failures_file);
      } else {
        known_failures.push_back("KNOWN " + file.path.string() + ": " + why);
      }
    } else if (!why.empty()) {
      ++failed_messages;
      failures.push_back("FAIL " + file.path.string() + ": " + why);
    }
  }
  double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (options.limit == 0) {
    for (const auto& [relative, seen] : known) {
      if (!seen) {
        failures.push_back("STALE " + relative + ": listed in " + options.known_failures_file +
                           " but not in the corpus");
      }
    }
  }

  PrintSummary(totals, wall_ms);
  for (const std::string& line : known_failures) std::printf("%s\n", line.c_str());
  for (const std::string& line : failures) std::printf("%s\n", line.c_str());
  std::printf("mime_corpus_check: %llu messages passed, %llu failed, %zu failed as known\n",
              static_cast<unsigned long long>(totals.messages - failed_messages -
                                              known_failures.size()),
              static_cast<unsigned long long>(failed_messages), known_failures.size());
  return failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace mailwarden

int main(int argc, char** argv) { return mailwarden::Main(argc, argv); }
