// The store file is distrusted as input: it may be damaged, another program's database, or
// trained by another version. Every SQLite error becomes a Status naming the file; counts
// read back are clamped to 32 bits; a model never reads more rows than the table's count
// said it holds when sizing its table.
#include "milter/spam/bayes.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace mailwarden::spam {
namespace {

// Schema 2 added tokens.day; schema 1 is still read, and upgraded by BayesStore.
constexpr int kSchemaVersion = 2;
constexpr int kOldestSchema = 1;
// Deltas held in memory before they are written out inside the open transaction.
constexpr size_t kMaxPendingDeltas = 2'000'000;

// A prepared statement, finalized when it goes.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

std::string SqliteError(sqlite3* db, const std::string& path, const char* what) {
  return path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

// NOTADB and CORRUPT mean the file is not (or no longer) a store.
Status ErrorStatus(sqlite3* db, const std::string& path, const char* what) {
  int code = db ? (sqlite3_errcode(db) & 0xff) : SQLITE_NOMEM;
  std::string m = SqliteError(db, path, what);
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
    return Status::ParseError(m + " (not a classifier store, or a damaged one)");
  return Status::IoError(m);
}

int64_t ToSql(uint64_t hash) { return static_cast<int64_t>(hash); }
uint64_t FromSql(int64_t v) { return static_cast<uint64_t>(v); }

uint32_t Clamp32(int64_t v) {
  if (v < 0) return 0;
  if (v > static_cast<int64_t>(UINT32_MAX)) return UINT32_MAX;
  return static_cast<uint32_t>(v);
}

// The meta table as key -> integer; false when the table is missing or unreadable.
struct Meta {
  int64_t schema = -1;
  int64_t tokenizer = -1;
  int64_t nspam = 0;
  int64_t nham = 0;
  int64_t generation = 0;
};

// Reads meta. kParseError when the file has no meta table or a schema this program does not
// read.
Status ReadMeta(sqlite3* db, const std::string& path, Meta* meta) {
  Stmt st(db, "SELECT key, value FROM meta");
  if (!st.ok()) {
    std::string m = sqlite3_errmsg(db);
    int code = sqlite3_errcode(db) & 0xff;
    if (code == SQLITE_ERROR && m.find("no such table") != std::string::npos)
      return Status::ParseError(path + ": not a classifier store (no meta table)");
    return ErrorStatus(db, path, "reading meta");
  }
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    const char* key = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
    int64_t v = sqlite3_column_int64(st.get(), 1);
    if (!key) continue;
    if (std::strcmp(key, "schema") == 0) meta->schema = v;
    if (std::strcmp(key, "tokenizer") == 0) meta->tokenizer = v;
    if (std::strcmp(key, "nspam") == 0) meta->nspam = v;
    if (std::strcmp(key, "nham") == 0) meta->nham = v;
    if (std::strcmp(key, "generation") == 0) meta->generation = v;
  }
  if (rc != SQLITE_DONE) return ErrorStatus(db, path, "reading meta");
  if (meta->schema < kOldestSchema || meta->schema > kSchemaVersion)
    return Status::ParseError(path + ": classifier store schema " + std::to_string(meta->schema) +
                              ", this program reads schemas " + std::to_string(kOldestSchema) +
                              " to " + std::to_string(kSchemaVersion));
  if (meta->nspam < 0 || meta->nham < 0)
    return Status::ParseError(path + ": classifier store has negative message counts");
  return Status::Ok();
}

Status CheckTokenizer(const Meta& meta, const std::string& path) {
  if (meta.tokenizer == kTokenizerVersion) return Status::Ok();
  return Status::InvalidArgument(path + ": trained with tokenizer version " +
                                 std::to_string(meta.tokenizer) + ", this program uses version " +
                                 std::to_string(kTokenizerVersion) +
                                 ": train a new store from the same mail");
}

// Opens `path` read-only for a model; kNotFound when it is not there.
Result<sqlite3*> OpenReadOnly(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no classifier store (not trained yet)");
    return Status::IoError(path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Status::IoError(path + ": not a regular file");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = ErrorStatus(db, path, "open");
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 5000);
  // A WAL store read by a user who may not create its -shm and -wal files (a store file
  // copied alone into a directory the milter cannot write) cannot be read the usual way.
  // Without a -wal file no one has it open for writing: read it as immutable then.
  rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
  const int code = sqlite3_errcode(db) & 0xff;
  struct stat wal;
  if (rc != SQLITE_OK && (code == SQLITE_READONLY || code == SQLITE_CANTOPEN) &&
      ::stat((path + "-wal").c_str(), &wal) != 0 && errno == ENOENT) {
    sqlite3_close(db);
    db = nullptr;
    std::string uri = "file:";
    for (unsigned char c : path) {
      if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
        char esc[4];
        std::snprintf(esc, sizeof(esc), "%%%02X", c);
        uri += esc;
      } else {
        uri += static_cast<char>(c);
      }
    }
    uri += "?immutable=1";
    rc = sqlite3_open_v2(uri.c_str(), &db,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) {
      Status s = ErrorStatus(db, path, "open");
      sqlite3_close(db);
      return s;
    }
  }
  return db;
}

// Days since 1970-01-01 UTC, now.
int64_t Today() {
  using namespace std::chrono;
  return floor<days>(system_clock::now()).time_since_epoch().count();
}

struct DbCloser {
  sqlite3* db;
  ~DbCloser() { sqlite3_close(db); }
};

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

// Chi-square survival function for even degrees of freedom `v` (SpamBayes' chi2Q).
double Chi2Q(double x2, int v) {
  double m = x2 / 2.0;
  double term = std::exp(-m);
  double sum = term;
  for (int i = 1; i < v / 2; ++i) {
    term *= m / i;
    sum += term;
  }
  return std::min(sum, 1.0);
}

}  // namespace

std::string MessageKey(const MessageView& view) {
  std::string input;
  for (const ViewHeader& h : view.headers) {
    if (h.name.size() == 10 && strncasecmp(h.name.c_str(), "message-id", 10) == 0) {
      input = h.value;
      break;
    }
  }
  // Trim the Message-ID.
  size_t b = input.find_first_not_of(" \t\r\n");
  input = b == std::string::npos ? "" : input.substr(b, input.find_last_not_of(" \t\r\n") - b + 1);
  input += '\n';
  bool space = false, any = false;
  for (char c : view.body_text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = any;
      continue;
    }
    if (space) input += ' ';
    space = false;
    any = true;
    input += c;
  }
  if (input.size() == 1) {
    input += view.subject + '\n' + view.from_address + '\n';
    for (const ViewHeader& h : view.headers)
      if (strcasecmp(h.name.c_str(), "date") == 0) input += h.value;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  return Hex(md, len);
}

// ---- BayesStore ----

Result<std::unique_ptr<BayesStore>> BayesStore::Open(const std::string& path, bool create) {
  struct stat st;
  bool fresh = false;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IoError(path + ": " + std::strerror(errno));
    if (!create) return Status::NotFound(path + ": no classifier store");
    // Created here, so that it has its mode before SQLite writes anything (SQLite gives
    // the journal files the database's mode).
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) return Status::IoError(path + ": cannot create: " + std::strerror(errno));
    ::fchmod(fd, 0640);
    ::close(fd);
    fresh = true;
  } else if (!S_ISREG(st.st_mode)) {
    return Status::IoError(path + ": not a regular file");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = ErrorStatus(db, path, "open");
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<BayesStore> store(new BayesStore(path, db));
  store->today_ = Today();
  Status s = store->Init(fresh);
  if (!s.ok()) return s;
  return store;
}

BayesStore::~BayesStore() {
  if (in_transaction_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  // Everything into the database file, and the kept -wal file emptied.
  sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
}

Status BayesStore::Fail(const char* what) { return ErrorStatus(db_, path_, what); }

Status BayesStore::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Fail(sql);
  return Status::Ok();
}

Status BayesStore::Init(bool fresh) {
  sqlite3_busy_timeout(db_, 10000);
  // Keep the -wal and -shm files when the store closes: the milter usually may read the
  // store but not write its directory, and SQLite can open a WAL database read-only only
  // when those files exist.
  int persist = 1;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  // A file that is not a database fails here, on its first read.
  Status s = Exec("PRAGMA journal_mode=WAL");
  if (!s.ok()) return s;
  if (s = Exec("PRAGMA synchronous=NORMAL"); !s.ok()) return s;
  if (!fresh) {
    // An empty file (created and never written) is a fresh store too.
    Stmt st(db_, "SELECT count(*) FROM sqlite_master");
    if (!st.ok() || sqlite3_step(st.get()) != SQLITE_ROW) return Fail("reading the schema");
    fresh = sqlite3_column_int64(st.get(), 0) == 0;
  }
  if (fresh) {
    if (s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    std::string sql =
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
        "CREATE TABLE tokens(hash INTEGER PRIMARY KEY, spam INTEGER NOT NULL, "
        "ham INTEGER NOT NULL, day INTEGER NOT NULL);"
        "CREATE TABLE learned(msg_key TEXT PRIMARY KEY, is_spam INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta VALUES('schema'," +
        std::to_string(kSchemaVersion) + "),('tokenizer'," + std::to_string(kTokenizerVersion) +
        "),('nspam',0),('nham',0),('generation',0);"
        "COMMIT";
    if (s = Exec(sql.c_str()); !s.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
  }
  Meta meta;
  if (s = ReadMeta(db_, path_, &meta); !s.ok()) return s;
  if (meta.tokenizer != kTokenizerVersion) {
    if (meta.nspam + meta.nham > 0) return CheckTokenizer(meta, path_);
    // Nothing learned yet: the store takes this program's tokenizer.
    std::string sql =
        "UPDATE meta SET value=" + std::to_string(kTokenizerVersion) + " WHERE key='tokenizer'";
    if (s = Exec(sql.c_str()); !s.ok()) return s;
  }
  if (meta.schema < kSchemaVersion) {
    if (s = Upgrade(); !s.ok()) return s;
  }
  counts_.nspam = static_cast<uint64_t>(meta.nspam);
  counts_.nham = static_cast<uint64_t>(meta.nham);
  generation_ = static_cast<uint64_t>(meta.generation);
  Stmt count(db_, "SELECT count(*) FROM tokens");
  if (!count.ok() || sqlite3_step(count.get()) != SQLITE_ROW) return Fail("counting tokens");
  counts_.tokens = static_cast<uint64_t>(sqlite3_column_int64(count.get(), 0));
  return Status::Ok();
}

Status BayesStore::Upgrade() {
  Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  // Another training run may have upgraded it since meta was read.
  Meta meta;
  s = ReadMeta(db_, path_, &meta);
  if (s.ok() && meta.schema == 1) {
    // The tokens learned so far count as learned today: none of them expires before a
    // whole period has passed. SQLite does not rewrite the rows for this.
    const std::string sql = "ALTER TABLE tokens ADD COLUMN day INTEGER NOT NULL DEFAULT " +
                            std::to_string(today_) +
                            ";"
                            "UPDATE meta SET value=2 WHERE key='schema'";
    s = Exec(sql.c_str());
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return s;
}

Status BayesStore::Begin() {
  if (in_transaction_) return Status::Ok();
  Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  // Another training run (a user's report, an expiry) may have committed since this store
  // last looked. Under the write lock, held until Commit, the message counts and the
  // generation are read again, so that what Commit writes adds to theirs.
  Meta meta;
  if (s = ReadMeta(db_, path_, &meta); !s.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  counts_.nspam = static_cast<uint64_t>(meta.nspam);
  counts_.nham = static_cast<uint64_t>(meta.nham);
  generation_ = static_cast<uint64_t>(meta.generation);
  in_transaction_ = true;
  return Status::Ok();
}

void BayesStore::AddDeltas(const TokenSet& tokens, int spam, int ham, bool learned) {
  for (uint64_t h : tokens.hashes) {
    Delta& d = deltas_[h];
    d.spam += spam;
    d.ham += ham;
    if (learned) d.learned = 1;
  }
}

Status BayesStore::Learn(const TokenSet& tokens, std::string_view key, bool is_spam,
                         LearnOutcome* outcome) {
  Status s = Begin();
  if (!s.ok()) return s;
  Stmt find(db_, "SELECT is_spam FROM learned WHERE msg_key=?1");
  if (!find.ok()) return Fail("reading learned messages");
  sqlite3_bind_text(find.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  int rc = sqlite3_step(find.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Fail("reading learned messages");
  const int was = rc == SQLITE_ROW ? sqlite3_column_int(find.get(), 0) : -1;
  if (was == (is_spam ? 1 : 0)) {
    *outcome = LearnOutcome::kAlreadyKnown;
    return Status::Ok();
  }
  Stmt put(db_, "INSERT OR REPLACE INTO learned(msg_key, is_spam) VALUES(?1, ?2)");
  if (!put.ok()) return Fail("recording a learned message");
  sqlite3_bind_text(put.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  sqlite3_bind_int(put.get(), 2, is_spam ? 1 : 0);
  if (sqlite3_step(put.get()) != SQLITE_DONE) return Fail("recording a learned message");
  if (was >= 0) {
    // Learned as the other class: take it out of that one.
    AddDeltas(tokens, is_spam ? 1 : -1, is_spam ? -1 : 1, /*learned=*/true);
    if (is_spam) {
      ++counts_.nspam;
      if (counts_.nham > 0) --counts_.nham;
    } else {
      ++counts_.nham;
      if (counts_.nspam > 0) --counts_.nspam;
    }
    *outcome = LearnOutcome::kMoved;
  } else {
    AddDeltas(tokens, is_spam ? 1 : 0, is_spam ? 0 : 1, /*learned=*/true);
    ++(is_spam ? counts_.nspam : counts_.nham);
    *outcome = LearnOutcome::kLearned;
  }
  changed_ = true;
  if (deltas_.size() > kMaxPendingDeltas) return Flush();
  return Status::Ok();
}

Status BayesStore::Forget(const TokenSet& tokens, std::string_view key, ForgetOutcome* outcome) {
  Status s = Begin();
  if (!s.ok()) return s;
  Stmt find(db_, "SELECT is_spam FROM learned WHERE msg_key=?1");
  if (!find.ok()) return Fail("reading learned messages");
  sqlite3_bind_text(find.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  int rc = sqlite3_step(find.get());
  if (rc == SQLITE_DONE) {
    *outcome = ForgetOutcome::kNotKnown;
    return Status::Ok();
  }
  if (rc != SQLITE_ROW) return Fail("reading learned messages");
  const bool was_spam = sqlite3_column_int(find.get(), 0) != 0;
  Stmt del(db_, "DELETE FROM learned WHERE msg_key=?1");
  if (!del.ok()) return Fail("forgetting a message");
  sqlite3_bind_text(del.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  if (sqlite3_step(del.get()) != SQLITE_DONE) return Fail("forgetting a message");
  AddDeltas(tokens, was_spam ? -1 : 0, was_spam ? 0 : -1, /*learned=*/false);
  uint64_t& n = was_spam ? counts_.nspam : counts_.nham;
  if (n > 0) --n;
  changed_ = true;
  *outcome = ForgetOutcome::kForgotten;
  if (deltas_.size() > kMaxPendingDeltas) return Flush();
  return Status::Ok();
}

// Writes the pending deltas, in hash order (the table's order), inside the transaction.
// A token a Learn counted is dated today_, even when a Forget in the same batch evened
// out its counts; one only forgotten keeps its day.
Status BayesStore::Flush() {
  if (deltas_.empty()) return Status::Ok();
  std::vector<std::pair<uint64_t, Delta>> sorted(deltas_.begin(), deltas_.end());
  deltas_.clear();
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return ToSql(a.first) < ToSql(b.first); });
  Stmt up(db_,
          "INSERT INTO tokens(hash, spam, ham, day) VALUES(?1, max(?2, 0), max(?3, 0), ?4) "
          "ON CONFLICT(hash) DO UPDATE SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0), "
          "day = CASE WHEN ?5 THEN ?4 ELSE day END");
  Stmt prune(db_, "DELETE FROM tokens WHERE hash=?1 AND spam=0 AND ham=0");
  if (!up.ok() || !prune.ok()) return Fail("updating token counts");
  sqlite3_bind_int64(up.get(), 4, today_);
  for (const auto& [hash, d] : sorted) {
    if (d.spam == 0 && d.ham == 0 && !d.learned) continue;
    sqlite3_bind_int64(up.get(), 1, ToSql(hash));
    sqlite3_bind_int(up.get(), 2, d.spam);
    sqlite3_bind_int(up.get(), 3, d.ham);
    sqlite3_bind_int(up.get(), 5, d.learned);
    if (sqlite3_step(up.get()) != SQLITE_DONE) return Fail("updating token counts");
    sqlite3_reset(up.get());
    if (d.spam <= 0 && d.ham <= 0) {  // neither count grew: the token may be at 0/0
      sqlite3_bind_int64(prune.get(), 1, ToSql(hash));
      if (sqlite3_step(prune.get()) != SQLITE_DONE) return Fail("updating token counts");
      sqlite3_reset(prune.get());
    }
  }
  return Status::Ok();
}

Status BayesStore::Commit() {
  if (!in_transaction_) return Status::Ok();
  Status s = Flush();
  if (s.ok() && changed_) {
    std::string sql =
        "UPDATE meta SET value=CASE key WHEN 'nspam' THEN " + std::to_string(counts_.nspam) +
        " WHEN 'nham' THEN " + std::to_string(counts_.nham) + " WHEN 'generation' THEN " +
        std::to_string(generation_ + 1) + " END WHERE key IN ('nspam','nham','generation')";
    s = Exec(sql.c_str());
  }
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    in_transaction_ = false;
    deltas_.clear();
    changed_ = false;
    return s;
  }
  in_transaction_ = false;
  if (changed_) ++generation_;
  changed_ = false;
  Stmt count(db_, "SELECT count(*) FROM tokens");
  if (!count.ok() || sqlite3_step(count.get()) != SQLITE_ROW) return Fail("counting tokens");
  counts_.tokens = static_cast<uint64_t>(sqlite3_column_int64(count.get(), 0));
  return Status::Ok();
}

Status BayesStore::Expire(int64_t max_age_days, uint32_t keep_count, uint64_t* removed) {
  if (removed) *removed = 0;
  if (max_age_days < 0) return Status::InvalidArgument(path_ + ": expiry age must not be negative");
  Status s = Commit();
  if (!s.ok()) return s;
  if (s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  int64_t n = 0;
  {
    // No index on `day`: one scan a month costs less than keeping an index on every Learn.
    Stmt del(db_, "DELETE FROM tokens WHERE day < ?1 AND spam + ham < ?2");
    if (!del.ok()) s = Fail("expiring tokens");
    if (s.ok()) {
      sqlite3_bind_int64(del.get(), 1, today_ - max_age_days);
      sqlite3_bind_int64(del.get(), 2, keep_count);
      if (sqlite3_step(del.get()) != SQLITE_DONE)
        s = Fail("expiring tokens");
      else
        n = sqlite3_changes64(db_);
    }
  }
  // Counted on from the file's generation: another run may have committed since Open.
  if (s.ok() && n > 0) s = Exec("UPDATE meta SET value=value+1 WHERE key='generation'");
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  if (removed) *removed = static_cast<uint64_t>(n);
  Meta meta;
  if (s = ReadMeta(db_, path_, &meta); !s.ok()) return s;
  generation_ = static_cast<uint64_t>(meta.generation);
  {
    Stmt count(db_, "SELECT count(*) FROM tokens");
    if (!count.ok() || sqlite3_step(count.get()) != SQLITE_ROW) return Fail("counting tokens");
    counts_.tokens = static_cast<uint64_t>(sqlite3_column_int64(count.get(), 0));
  }
  if (n == 0) return Status::Ok();
  // The freed pages go back to the file system: VACUUM rewrites the file (through the
  // -wal file), and the checkpoint moves it into place and empties the -wal file.
  if (sqlite3_exec(db_, "VACUUM", nullptr, nullptr, nullptr) != SQLITE_OK)
    return Status::IoError(SqliteError(db_, path_, "compacting after expiry") + " (" +
                           std::to_string(n) + " tokens were expired)");
  sqlite3_exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  return Status::Ok();
}

// ---- BayesModel ----

Result<std::shared_ptr<const BayesModel>> BayesModel::Load(const std::string& path,
                                                           const BayesParams& params) {
  auto opened = OpenReadOnly(path);
  if (!opened.ok()) return opened.status();
  sqlite3* db = *opened;
  DbCloser closer{db};
  // One read transaction: meta and tokens of the same generation.
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK)
    return ErrorStatus(db, path, "begin");
  Meta meta;
  Status s = ReadMeta(db, path, &meta);
  if (!s.ok()) return s;
  if (s = CheckTokenizer(meta, path); !s.ok()) return s;
  std::shared_ptr<BayesModel> m(new BayesModel());
  m->params_ = params;
  m->nspam_ = static_cast<uint64_t>(meta.nspam);
  m->nham_ = static_cast<uint64_t>(meta.nham);
  m->generation_ = static_cast<uint64_t>(meta.generation);

  Stmt count(db, "SELECT count(*) FROM tokens");
  if (!count.ok() || sqlite3_step(count.get()) != SQLITE_ROW)
    return ErrorStatus(db, path, "counting tokens");
  const uint64_t rows =
      static_cast<uint64_t>(std::max<int64_t>(0, sqlite3_column_int64(count.get(), 0)));
  // At most 3/4 full, so probes stay short.
  size_t size = 1024;
  int bits = 10;
  while (size * 3 / 4 < rows) {
    size *= 2;
    ++bits;
  }
  m->slots_.assign(size, Slot{});
  m->shift_ = 64 - bits;
  const size_t mask = size - 1;

  Stmt all(db, "SELECT hash, spam, ham FROM tokens");
  if (!all.ok()) return ErrorStatus(db, path, "reading tokens");
  int rc;
  uint64_t n = 0;
  while ((rc = sqlite3_step(all.get())) == SQLITE_ROW) {
    if (n >= rows) break;  // rows appeared since the count: cannot happen in one transaction
    uint64_t hash = FromSql(sqlite3_column_int64(all.get(), 0));
    if (hash == 0) continue;
    Slot slot{hash, Clamp32(sqlite3_column_int64(all.get(), 1)),
              Clamp32(sqlite3_column_int64(all.get(), 2))};
    size_t i = m->Home(hash);
    while (m->slots_[i].hash != 0) i = (i + 1) & mask;
    m->slots_[i] = slot;
    ++n;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return ErrorStatus(db, path, "reading tokens");
  m->count_ = n;
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  return std::shared_ptr<const BayesModel>(std::move(m));
}

Result<uint64_t> BayesModel::StoredGeneration(const std::string& path) {
  auto opened = OpenReadOnly(path);
  if (!opened.ok()) return opened.status();
  DbCloser closer{*opened};
  Meta meta;
  Status s = ReadMeta(*opened, path, &meta);
  if (!s.ok()) return s;
  return static_cast<uint64_t>(meta.generation);
}

TokenCounts BayesModel::Lookup(uint64_t hash) const {
  if (slots_.empty() || hash == 0) return {};
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(hash);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == hash) return {s.spam, s.ham};
    if (s.hash == 0) return {};
  }
}

double BayesModel::Probability(uint32_t spam, uint32_t ham) const {
  const double x = params_.unknown_prob;
  if (spam == 0 && ham == 0) return x;
  // Frequencies within each class, so that a store with more ham than spam is not biased.
  const double spam_ratio = nspam_ ? std::min(1.0, static_cast<double>(spam) / nspam_) : 0;
  const double ham_ratio = nham_ ? std::min(1.0, static_cast<double>(ham) / nham_) : 0;
  if (spam_ratio + ham_ratio == 0) return x;
  const double p = spam_ratio / (spam_ratio + ham_ratio);
  const double n = static_cast<double>(spam) + ham;
  const double s = params_.unknown_strength;
  return (s * x + n * p) / (s + n);
}

double BayesModel::TokenProbability(uint64_t hash) const {
  TokenCounts c = Lookup(hash);
  return Probability(c.spam, c.ham);
}

BayesResult BayesModel::Classify(const TokenSet& tokens) const {
  BayesResult r;
  r.trained = nspam_ >= params_.min_messages && nham_ >= params_.min_messages;
  if (!r.trained || slots_.empty()) return r;
  // (strength, f) of every clue; the strongest max_clues are combined.
  std::vector<std::pair<double, double>> clues;
  clues.reserve(std::min<size_t>(tokens.hashes.size(), 4096));
  // The lookups miss the cache: ask for the slots of tokens a few places ahead.
  constexpr size_t kAhead = 8;
  const std::vector<uint64_t>& hashes = tokens.hashes;
  for (size_t i = 0; i < std::min(kAhead, hashes.size()); ++i)
    __builtin_prefetch(&slots_[Home(hashes[i])]);
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i + kAhead < hashes.size()) __builtin_prefetch(&slots_[Home(hashes[i + kAhead])]);
    TokenCounts c = Lookup(hashes[i]);
    if (c.spam == 0 && c.ham == 0) continue;
    double f = Probability(c.spam, c.ham);
    double strength = std::fabs(f - 0.5);
    if (strength < params_.min_strength) continue;
    clues.emplace_back(strength, f);
  }
  const size_t keep = std::min(clues.size(), static_cast<size_t>(std::max(params_.max_clues, 0)));
  std::partial_sort(clues.begin(), clues.begin() + static_cast<std::ptrdiff_t>(keep), clues.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  if (keep == 0) return r;
  // Fisher: -2 sum ln(f) is chi-square with 2n degrees of freedom when the f are uniform.
  double ln_ham = 0, ln_spam = 0;
  for (size_t i = 0; i < keep; ++i) {
    const double f = std::clamp(clues[i].second, 1e-9, 1 - 1e-9);
    ln_spam += std::log(1 - f);
    ln_ham += std::log(f);
  }
  const int dof = static_cast<int>(2 * keep);
  const double spamminess = 1.0 - Chi2Q(-2.0 * ln_spam, dof);
  const double hamminess = 1.0 - Chi2Q(-2.0 * ln_ham, dof);
  r.probability = std::clamp((spamminess - hamminess + 1.0) / 2.0, 0.0, 1.0);
  r.tokens_used = static_cast<int>(keep);
  return r;
}

}  // namespace mailwarden::spam
