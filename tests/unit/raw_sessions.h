// Test support for the account stores: plain sessions on an SQLite file or a PostgreSQL
// database, as another process (or a DBA) would hold them, and the URI of the PostgreSQL
// server of the ctest fixture (tests/unit/policyd_tests.cmake, started by
// tests/integration/mwpostgres.py).
#ifndef MAILWARDEN_TESTS_UNIT_RAW_SESSIONS_H_
#define MAILWARDEN_TESTS_UNIT_RAW_SESSIONS_H_

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "tests/unit/test_files.h"

namespace mailwarden::testing {

// Another client of the same store: what another process (or a DBA) would hold.
class RawSession {
 public:
  virtual ~RawSession() = default;
  // Runs `sql`; its error message, "" when it succeeded.
  virtual std::string Exec(const std::string& sql) = 0;
  // The first column of the first row of `sql` as text ("" when none).
  virtual std::string Scalar(const std::string& sql) = 0;
};

class RawSqlite final : public RawSession {
 public:
  explicit RawSqlite(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawSqlite() override { sqlite3_close(db_); }
  std::string Exec(const std::string& sql) override {
    char* error = nullptr;
    sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string out = error ? error : "";
    sqlite3_free(error);
    return out;
  }
  std::string Scalar(const std::string& sql) override {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class RawPostgres final : public RawSession {
 public:
  explicit RawPostgres(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str())) {
    EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~RawPostgres() override { PQfinish(conn_); }
  std::string Exec(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    ExecStatusType status = PQresultStatus(r);
    std::string out = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                          ? ""
                          : std::string(PQresultErrorMessage(r));
    PQclear(r);
    return out;
  }
  std::string Scalar(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

// The URI of the fixture's server (see the top of the file); "" when not given.
inline std::string PostgresServerDsn() {
  const char* env = std::getenv("MW_TEST_POSTGRES_DSN");
  std::string dsn = env ? env : "";
  if (dsn.starts_with("/")) dsn = testing::ReadFile(dsn);
  while (!dsn.empty() && (dsn.back() == '\n' || dsn.back() == ' ')) dsn.pop_back();
  return dsn;
}

// `dsn` (a postgresql:// URI) naming database `db` instead of its own.
inline std::string WithDatabase(const std::string& dsn, const std::string& db) {
  size_t authority = dsn.find("://");
  size_t slash = dsn.find('/', authority == std::string::npos ? 0 : authority + 3);
  size_t query = dsn.find('?');
  std::string head = dsn.substr(0, std::min(slash, query));
  std::string tail = query == std::string::npos ? "" : dsn.substr(query);
  return head + "/" + db + tail;
}

}  // namespace mailwarden::testing

#endif  // MAILWARDEN_TESTS_UNIT_RAW_SESSIONS_H_
