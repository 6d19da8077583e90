// Reads mail the site collected: any bytes. Each message goes through the same bounded
// parser as in the milter (content limits) and view (ViewLimits); a message that cannot be
// read is counted and named, never fatal. Only the store's own failures stop the run, and
// then what was learned since the last commit is rolled back.
//
// The report spool (--spool) is a drop box every local user may write to: an entry there
// may be a symbolic link, a FIFO, a directory or a file of any size. A report is opened
// with O_NOFOLLOW | O_NONBLOCK and read only when fstat says it is a regular file, and then
// only up to the message size limit; anything else is skipped and removed, so that no
// entry can make a run block or read a file the reporter could not. What can be neither
// read nor removed is renamed to a dot name, kept for the admin and never listed again.
#include "milter/spam/train.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "milter/eml_reader.h"

namespace mailwarden::spam {
namespace {

using Clock = std::chrono::steady_clock;

struct Prepared {
  TokenSet tokens;
  std::string key;
};

std::unique_ptr<Message> NewMessage(const TrainOptions& o) {
  if (o.new_message) return o.new_message();
  ContentLimits limits;
  limits.keep_text_bodies = true;
  limits.keep_raw_bytes = o.view.max_raw_bytes;
  return std::make_unique<Message>(Envelope{}, limits);
}

// The message's tokens and key, exactly as the milter would compute them.
Prepared Prepare(const TrainOptions& o, std::string_view text) {
  std::unique_ptr<Message> message = NewMessage(o);
  ReadMessageText(text, message.get());
  message->FinishContent();
  const MessageView view = BuildMessageView(*message, o.view);
  return {Tokenize(view, o.tokenizer), MessageKey(view)};
}

struct Tally {
  uint64_t read = 0;
  uint64_t learned[2] = {0, 0};  // ham, spam
  uint64_t known[2] = {0, 0};
  uint64_t moved[2] = {0, 0};
  uint64_t forgotten = 0;
  uint64_t not_known = 0;
  uint64_t too_large = 0;
  uint64_t empty = 0;
  uint64_t unreadable = 0;
};

// What became of the spool's reports.
struct SpoolTally {
  uint64_t learned[2] = {0, 0};  // ham, spam: read and learned (or already known, or moved)
  uint64_t skipped = 0;          // empty, too large, not a regular file: removed unread
  uint64_t left = 0;             // unreadable, or could not be removed: set aside
};

const char* ProblemWord(MailProblem::Kind kind) {
  switch (kind) {
    case MailProblem::Kind::kUnreadable:
      return "cannot read";
    case MailProblem::Kind::kTooLarge:
      return "skipped, too large";
    case MailProblem::Kind::kEmpty:
      return "skipped, empty";
  }
  return "";
}

// Counts a problem and names it on `err`.
void Note(const MailProblem& p, Tally* t, std::ostream& err) {
  switch (p.kind) {
    case MailProblem::Kind::kUnreadable:
      ++t->unreadable;
      break;
    case MailProblem::Kind::kTooLarge:
      ++t->too_large;
      break;
    case MailProblem::Kind::kEmpty:
      ++t->empty;
      break;
  }
  err << "train: " << p.origin << ": " << ProblemWord(p.kind) << ": " << p.detail << "\n";
}

// One report waiting in the spool.
struct Report {
  std::string name;  // the file name: starts with the time the report was made
  bool spam;
  std::string path;
};

// The reports in dir/spam/new and dir/ham/new, in the order of their names. A missing
// new/ holds none; one that cannot be listed is named on `err` and sets `*unreadable`.
std::vector<Report> ListSpool(const std::string& dir, std::ostream& err, bool* unreadable) {
  namespace fs = std::filesystem;
  std::vector<Report> reports;
  for (bool spam : {true, false}) {
    const fs::path sub = fs::path(dir) / (spam ? "spam" : "ham") / "new";
    std::error_code ec;
    fs::directory_iterator it(sub, ec);
    if (ec == std::errc::no_such_file_or_directory) continue;
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      reports.push_back({name, spam, it->path().string()});
    }
    if (ec) {
      err << "train: " << sub.string() << ": cannot list: " << ec.message() << "\n";
      *unreadable = true;
    }
  }
  std::sort(reports.begin(), reports.end(), [](const Report& a, const Report& b) {
    return a.name != b.name ? a.name < b.name : a.path < b.path;
  });
  return reports;
}

enum class ReportRead { kText, kGone, kUnreadable, kNotAFile, kTooLarge, kEmpty };

// One report into `text`, up to `limit` bytes (see the top of the file); `detail` says why
// not.
ReportRead ReadReport(const std::string& path, size_t limit, std::string* text,
                      std::string* detail) {
  text->clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    *detail = std::strerror(errno);
    if (errno == ENOENT) return ReportRead::kGone;  // removed by another run meanwhile
    return errno == ELOOP ? ReportRead::kNotAFile : ReportRead::kUnreadable;
  }
  struct stat st;
  ReportRead result = ReportRead::kText;
  if (::fstat(fd, &st) != 0) {
    *detail = std::strerror(errno);
    result = ReportRead::kUnreadable;
  } else if (!S_ISREG(st.st_mode)) {
    *detail = "not a regular file";
    result = ReportRead::kNotAFile;
  } else if (static_cast<uint64_t>(st.st_size) > limit) {
    result = ReportRead::kTooLarge;
  } else {
    char buf[64 << 10];
    for (;;) {
      const ssize_t got = ::read(fd, buf, sizeof(buf));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        *detail = std::strerror(errno);
        result = ReportRead::kUnreadable;
        break;
      }
      if (got == 0) break;
      if (text->size() + static_cast<size_t>(got) > limit) {  // grew since fstat
        result = ReportRead::kTooLarge;
        break;
      }
      text->append(buf, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  if (result == ReportRead::kTooLarge) *detail = "over " + std::to_string(limit) + " bytes";
  if (result == ReportRead::kText && text->find_first_not_of("\r\n \t") == std::string::npos) {
    *detail = "empty file";
    result = ReportRead::kEmpty;
  }
  if (result != ReportRead::kText) text->clear();
  return result;
}

// A report that cannot be read or removed is renamed to ".<name>" in its directory: kept for
// the admin, but no longer listed, so that it does not hold the spool's path unit in a loop
// of runs that fail on it again. False when even that fails.
bool SetAside(const std::string& path, std::ostream& err) {
  const size_t slash = path.rfind('/');
  const std::string aside = path.substr(0, slash + 1) + "." + path.substr(slash + 1);
  if (::rename(path.c_str(), aside.c_str()) == 0) {
    err << "train: " << path << ": set aside as " << aside << "\n";
    return true;
  }
  err << "train: " << path << ": cannot set it aside: " << std::strerror(errno) << "\n";
  return false;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The first hex digit of a 32-hex-digit run in the file name, else of the text's MD5.
int SplitDigit(const std::string& origin, std::string_view text) {
  std::string_view name = origin;
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t run = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::isxdigit(static_cast<unsigned char>(name[i]))) {
      if (++run == 32 &&
          (i + 1 == name.size() || !std::isxdigit(static_cast<unsigned char>(name[i + 1])))) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i - 31])));
        return c <= '9' ? c - '0' : c - 'a' + 10;
      }
    } else {
      run = 0;
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_md5(), nullptr);
  return md[0] >> 4;
}

int RunCrossCheck(const TrainOptions& o, std::ostream& out, std::ostream& err) {
  struct Item {
    std::string origin;
    bool spam;
    TokenSet tokens;
    std::string key;
  };
  const Clock::time_point start = Clock::now();
  std::vector<Item> train, test;
  Tally tally;
  int rc = 0;
  for (bool spam : {true, false}) {
    for (const std::string& path : spam ? o.spam_paths : o.ham_paths) {
      Status s = ReadMailSource(
          path, o.source,
          [&](const std::string& origin, std::string_view text) {
            ++tally.read;
            Prepared p = Prepare(o, text);
            Item item{origin, spam, std::move(p.tokens), std::move(p.key)};
            (SplitDigit(origin, text) < 8 ? train : test).push_back(std::move(item));
          },
          [&](const MailProblem& p) { Note(p, &tally, err); });
      if (!s.ok()) {
        err << "train: " << s.message() << "\n";
        rc = 1;
      }
    }
  }
  const double read_s = Seconds(start);
  char dir_template[] = "/tmp/mw-cross-check.XXXXXX";
  if (!mkdtemp(dir_template)) {
    err << "train: cannot create a temporary directory\n";
    return 2;
  }
  const std::string dir = dir_template;
  const std::string db = dir + "/store.sqlite";
  int status = 0;
  {
    auto store = BayesStore::Open(db, true);
    Status s = store.ok() ? Status::Ok() : store.status();
    for (size_t i = 0; s.ok() && i < train.size(); ++i) {
      LearnOutcome outcome;
      s = (*store)->Learn(train[i].tokens, train[i].key, train[i].spam, &outcome);
    }
    if (s.ok()) s = (*store)->Commit();
    if (!s.ok()) {
      err << "train: " << s.message() << "\n";
      status = 2;
    }
  }
  std::shared_ptr<const BayesModel> model;
  double load_s = 0;
  if (status == 0) {
    Clock::time_point t = Clock::now();
    auto loaded = BayesModel::Load(db, o.bayes);
    load_s = Seconds(t);
    if (!loaded.ok()) {
      err << "train: " << loaded.status().message() << "\n";
      status = 2;
    } else {
      model = *loaded;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (status != 0) return status;

  std::ofstream tsv(o.cross_check);
  if (!tsv) {
    err << "train: cannot write " << o.cross_check << "\n";
    return 2;
  }
  std::vector<double> spam_p, ham_p;
  Clock::time_point t = Clock::now();
  for (const Item& item : test) {
    BayesResult r = model->Classify(item.tokens);
    (item.spam ? spam_p : ham_p).push_back(r.probability);
    char line[64];
    std::snprintf(line, sizeof(line), "\t%s\t%.6f\t%d\n", item.spam ? "spam" : "ham", r.probability,
                  r.tokens_used);
    tsv << item.origin << line;
  }
  const double classify_s = Seconds(t);
  out << "cross-check: learned " << model->nspam() << " spam and " << model->nham()
      << " ham (split digit 0-7; " << model->token_count() << " tokens, "
      << model->memory_bytes() / 1024 << " KiB, loaded in " << static_cast<int>(load_s * 1000)
      << " ms); classified " << spam_p.size() << " spam and " << ham_p.size() << " ham (8-f) in "
      << static_cast<int>(classify_s * 1000) << " ms; read and tokenized " << tally.read
      << " messages in " << static_cast<int>(read_s * 1000) << " ms\n";
  auto count = [](const std::vector<double>& v, auto pred) {
    return static_cast<size_t>(std::count_if(v.begin(), v.end(), pred));
  };
  auto pct = [](size_t n, size_t of) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%6.2f%% %5zu", of ? 100.0 * n / of : 0.0, n);
    return std::string(buf);
  };
  out << "  p >=     ham (false positives)   spam (recall)\n";
  for (double th : {0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999}) {
    char head[16];
    std::snprintf(head, sizeof(head), "  %-7g", th);
    out << head << "  " << pct(count(ham_p, [&](double p) { return p >= th; }), ham_p.size())
        << "             " << pct(count(spam_p, [&](double p) { return p >= th; }), spam_p.size())
        << "\n";
  }
  out << "  p <=     ham                     spam (would score as ham)\n";
  for (double th : {0.0001, 0.001, 0.01, 0.05, 0.1, 0.2, 0.5}) {
    char head[16];
    std::snprintf(head, sizeof(head), "  %-7g", th);
    out << head << "  " << pct(count(ham_p, [&](double p) { return p <= th; }), ham_p.size())
        << "             " << pct(count(spam_p, [&](double p) { return p <= th; }), spam_p.size())
        << "\n";
  }
  return rc;
}

// `--name VALUE` as a whole number in [min, max].
Status ParseNumber(std::string_view name, std::string_view value, int64_t min, int64_t max,
                   int64_t* out) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < min || v > max)
    return Status::InvalidArgument("train: " + std::string(name) + " takes a whole number from " +
                                   std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                                   std::string(value) + "'");
  *out = v;
  return Status::Ok();
}

// YYYY-MM-DD of a day counted from 1970-01-01 (UTC).
std::string DayDate(int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day) * 86400;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace

void TrainUsage(std::ostream& out) {
  out << "usage: mailwarden-milter [--config FILE] train [--db PATH] [--spam PATH]...\n"
         "                         [--ham PATH]... [--forget PATH]... [--spool DIR]\n"
         "                         [--expire DAYS [--expire-keep N]] [--quiet]\n"
         "  PATH: an mbox, a maildir, a directory of messages, one message file,\n"
         "    or - for standard input.\n"
         "  --forget unlearns; a message learned before as the other class moves.\n"
         "  --spool learns users' reports, one message per file in DIR/spam/new and\n"
         "    DIR/ham/new, in the order of their names, then removes them.\n"
         "  --expire removes, after learning, the tokens last learned more than DAYS\n"
         "    (1-36500) days ago and seen in fewer than N messages (default 5), and\n"
         "    compacts the store; it may be given alone (monthly, e.g. --expire 180).\n"
         "  --db defaults to the spam rule's bayes_db.\n"
         "  exit 0 done, 1 some input unreadable, 2 usage or store error\n";
}

Result<TrainOptions> ParseTrainArgs(std::span<char* const> args) {
  TrainOptions o;
  bool keep_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i] ? args[i] : "";
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return o;
    }
    if (arg == "--quiet" || arg == "-q") {
      o.quiet = true;
      continue;
    }
    std::string* value = nullptr;
    std::vector<std::string>* values = nullptr;
    std::string number;
    if (arg == "--expire" || arg == "--expire-keep") value = &number;
    if (arg == "--db") value = &o.db_path;
    if (arg == "--config" || arg == "-c") value = &o.config_path;
    if (arg == "--cross-check") value = &o.cross_check;
    if (arg == "--spool") {
      if (!o.spool_dir.empty())
        return Status::InvalidArgument("train: --spool is given once (one spool per run)");
      value = &o.spool_dir;
    }
    if (arg == "--spam") values = &o.spam_paths;
    if (arg == "--ham") values = &o.ham_paths;
    if (arg == "--forget") values = &o.forget_paths;
    if (!value && !values)
      return Status::InvalidArgument("train: unknown argument '" + std::string(arg) + "'");
    if (i + 1 >= args.size() || !args[i + 1] || args[i + 1][0] == '\0')
      return Status::InvalidArgument("train: " + std::string(arg) + " needs a value");
    std::string v = args[++i];
    if (value)
      *value = std::move(v);
    else
      values->push_back(std::move(v));
    if (arg == "--expire") {
      if (Status s = ParseNumber(arg, number, 1, 36500, &o.expire_days); !s.ok()) return s;
    } else if (arg == "--expire-keep") {
      int64_t keep = 0;
      if (Status s = ParseNumber(arg, number, 1, 1'000'000, &keep); !s.ok()) return s;
      o.expire_keep = static_cast<uint32_t>(keep);
      keep_given = true;
    }
  }
  if (o.spam_paths.empty() && o.ham_paths.empty() && o.forget_paths.empty() &&
      o.spool_dir.empty() && o.expire_days == 0)
    return Status::InvalidArgument(
        "train: nothing to do: give --spam, --ham, --forget, --spool or --expire");
  if (keep_given && o.expire_days == 0)
    return Status::InvalidArgument("train: --expire-keep needs --expire DAYS");
  if (!o.cross_check.empty() && (o.spam_paths.empty() || o.ham_paths.empty()))
    return Status::InvalidArgument("train: --cross-check needs --spam and --ham");
  if (!o.cross_check.empty() && o.expire_days != 0)
    return Status::InvalidArgument("train: --cross-check uses a store of its own: no --expire");
  if (!o.cross_check.empty() && !o.spool_dir.empty())
    return Status::InvalidArgument("train: --cross-check reads --spam and --ham only: no --spool");
  return o;
}

int RunTrain(const TrainOptions& o, std::ostream& out, std::ostream& err) {
  if (!o.cross_check.empty()) return RunCrossCheck(o, out, err);
  if (o.db_path.empty()) {
    err << "train: no store: give --db PATH (or bayes_db in the spam rule)\n";
    return 2;
  }
  if (!o.spool_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(o.spool_dir, ec)) {
      err << "train: --spool " << o.spool_dir << ": "
          << (ec ? ec.message() : std::string("not a directory")) << "\n";
      return 2;
    }
  }
  const Clock::time_point start = Clock::now();
  auto opened = BayesStore::Open(o.db_path, /*create=*/true);
  if (!opened.ok()) {
    err << "train: " << opened.status().message() << "\n";
    return 2;
  }
  BayesStore& store = **opened;
  Tally tally;
  Status failed;  // the store's first failure: the run stops there
  uint64_t since_commit = 0;
  bool unreadable_path = false;

  enum class Mode { kForget, kSpam, kHam };
  // One message into the store; a failure is kept in `failed`.
  auto take = [&](Mode mode, const std::string& origin, std::string_view text) {
    if (!failed.ok()) return;
    ++tally.read;
    Prepared p = Prepare(o, text);
    Status st;
    if (mode == Mode::kForget) {
      ForgetOutcome outcome;
      st = store.Forget(p.tokens, p.key, &outcome);
      if (st.ok()) ++(outcome == ForgetOutcome::kForgotten ? tally.forgotten : tally.not_known);
    } else {
      const int c = mode == Mode::kSpam ? 1 : 0;
      LearnOutcome outcome;
      st = store.Learn(p.tokens, p.key, c == 1, &outcome);
      if (st.ok()) {
        switch (outcome) {
          case LearnOutcome::kLearned:
            ++tally.learned[c];
            break;
          case LearnOutcome::kAlreadyKnown:
            ++tally.known[c];
            break;
          case LearnOutcome::kMoved:
            ++tally.moved[c];
            break;
        }
      }
    }
    if (st.ok() && ++since_commit >= std::max<size_t>(o.commit_every, 1)) {
      st = store.Commit();
      since_commit = 0;
    }
    if (!st.ok()) failed = Status::IoError(st.message() + " (at " + origin + ")");
  };

  for (Mode mode : {Mode::kForget, Mode::kSpam, Mode::kHam}) {
    const std::vector<std::string>& paths = mode == Mode::kForget ? o.forget_paths
                                            : mode == Mode::kSpam ? o.spam_paths
                                                                  : o.ham_paths;
    for (const std::string& path : paths) {
      if (!failed.ok()) break;
      Status s = ReadMailSource(
          path, o.source,
          [&](const std::string& origin, std::string_view text) { take(mode, origin, text); },
          [&](const MailProblem& p) { Note(p, &tally, err); });
      if (!s.ok()) {
        err << "train: " << s.message() << "\n";
        unreadable_path = true;
      }
    }
  }

  // The reports, in the order they were made; removed only once committed.
  SpoolTally spool;
  std::vector<std::pair<std::string, bool>> done;  // to remove after the commit; learned?
  if (!o.spool_dir.empty() && failed.ok()) {
    std::string text, detail;
    for (const Report& r : ListSpool(o.spool_dir, err, &unreadable_path)) {
      if (!failed.ok()) break;
      const ReportRead got = ReadReport(r.path, o.source.max_message_bytes, &text, &detail);
      switch (got) {
        case ReportRead::kGone:
          continue;
        case ReportRead::kText:
          take(r.spam ? Mode::kSpam : Mode::kHam, r.path, text);
          ++spool.learned[r.spam ? 1 : 0];
          break;
        case ReportRead::kUnreadable:
          Note({MailProblem::Kind::kUnreadable, r.path, detail}, &tally, err);
          SetAside(r.path, err);
          ++spool.left;
          continue;
        case ReportRead::kNotAFile:
          err << "train: " << r.path << ": skipped, " << detail << "\n";
          unreadable_path = true;
          ++spool.skipped;
          break;
        case ReportRead::kTooLarge:
          Note({MailProblem::Kind::kTooLarge, r.path, detail}, &tally, err);
          ++spool.skipped;
          break;
        case ReportRead::kEmpty:
          Note({MailProblem::Kind::kEmpty, r.path, detail}, &tally, err);
          ++spool.skipped;
          break;
      }
      done.emplace_back(r.path, got == ReportRead::kText);
    }
  }
  if (failed.ok()) failed = store.Commit();
  if (!failed.ok()) {
    err << "train: " << failed.message() << "; learning since the last commit is lost"
        << (done.empty() ? "" : "; the reports stay in the spool") << "\n";
    return 2;
  }
  for (const auto& [path, learned] : done) {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) continue;
    err << "train: cannot remove " << path << ": " << std::strerror(errno)
        << (learned ? " (learned)" : "") << "\n";
    SetAside(path, err);
    unreadable_path = true;
    ++spool.left;
    if (!learned) --spool.skipped;
  }
  const double learn_s = Seconds(start);
  const bool learning = !o.spam_paths.empty() || !o.ham_paths.empty() || !o.forget_paths.empty() ||
                        !o.spool_dir.empty();
  uint64_t expired = 0;
  double expire_s = 0;
  if (o.expire_days > 0) {
    const Clock::time_point t = Clock::now();
    Status s = store.Expire(o.expire_days, o.expire_keep, &expired);
    expire_s = Seconds(t);
    if (!s.ok()) {
      err << "train: " << s.message() << (learning ? " (the learning is committed)" : "") << "\n";
      return 2;
    }
  }
  if (!o.quiet) {
    const StoreCounts c = store.counts();
    if (learning) {
      char rate[64];
      std::snprintf(rate, sizeof(rate), "%.1f s (%.0f msgs/s)", learn_s,
                    learn_s > 0 ? tally.read / learn_s : 0.0);
      out << "train: read " << tally.read << " messages in " << rate << "\n";
    }
    if (!o.spam_paths.empty() || !o.spool_dir.empty())
      out << "  spam: " << tally.learned[1] << " learned, " << tally.known[1] << " already known, "
          << tally.moved[1] << " moved from ham\n";
    if (!o.ham_paths.empty() || !o.spool_dir.empty())
      out << "  ham:  " << tally.learned[0] << " learned, " << tally.known[0] << " already known, "
          << tally.moved[0] << " moved from spam\n";
    if (!o.forget_paths.empty())
      out << "  forgotten: " << tally.forgotten << " (" << tally.not_known << " not known)\n";
    if (tally.too_large + tally.empty + tally.unreadable > 0)
      out << "  skipped: " << tally.too_large << " too large, " << tally.empty << " empty; "
          << tally.unreadable << " unreadable\n";
    if (!o.spool_dir.empty()) {
      const uint64_t n = spool.learned[0] + spool.learned[1];
      out << "  reports in " << o.spool_dir << ": learned " << n
          << (n == 1 ? " report" : " reports") << " (" << spool.learned[1] << " spam, "
          << spool.learned[0] << " ham)"
          << (n + spool.skipped > 0 ? ", removed from the spool" : "");
      if (spool.skipped > 0) out << "; " << spool.skipped << " skipped and removed";
      if (spool.left > 0) out << "; " << spool.left << " set aside (see the errors)";
      out << "\n";
    }
    if (o.expire_days > 0) {
      char took[32];
      std::snprintf(took, sizeof(took), " (%.1f s)", expire_s);
      out << (learning ? "  expired " : "train: expired ") << expired
          << " tokens last learned before " << DayDate(store.today() - o.expire_days)
          << " and seen in fewer than " << o.expire_keep << " messages; " << c.tokens << " left"
          << took << "\n";
    }
    out << "  store " << store.path() << ": " << c.nspam << " spam, " << c.nham << " ham, "
        << c.tokens << " tokens\n";
    if (c.nspam < BayesParams{}.min_messages || c.nham < BayesParams{}.min_messages)
      out << "  the classifier gives no verdict until it has learned " << BayesParams{}.min_messages
          << " messages of each class\n";
  }
  return unreadable_path || tally.unreadable > 0 ? 1 : 0;
}

}  // namespace mailwarden::spam
