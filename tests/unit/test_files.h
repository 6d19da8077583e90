// Temporary files for tests: a directory removed with everything in it when the object dies,
// and configurations written into one.
#ifndef MAILWARDEN_TESTS_UNIT_TEST_FILES_H_
#define MAILWARDEN_TESTS_UNIT_TEST_FILES_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>

#include "common/config.h"

namespace mailwarden::testing {

// The whole file at `path` ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The start of the python3 scripts tests use to build fixtures: `out` (the directory given as
// the first argument), `exe` (ClamAV's clam.exe), zipped(members, method) -> bytes of a zip
// of (name, data) pairs, save(name, data) -> writes out/name.
inline constexpr char kPythonFixturePrelude[] = R"PY(
import binascii, gzip, hashlib, io, os, sys, zipfile
out = sys.argv[1]
exe = open('/usr/share/clamav-testfiles/clam.exe', 'rb').read()
def zipped(members, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', method) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()
def save(name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
)PY";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mwtest.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes `content` to `name` inside the directory (creating parents); returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Fixtures a test program builds once, on first use, into a temporary directory.
class FixtureFiles {
 public:
  // `prepare` writes the files into the directory and returns "" or what failed (naming
  // the package that provides a missing tool).
  explicit FixtureFiles(std::string (*prepare)(const TempDir&)) : prepare_(prepare) {}

  // Success once every fixture exists; else what is missing.
  ::testing::AssertionResult Ready() {
    std::call_once(once_, [this] { error_ = prepare_(dir_); });
    if (error_.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << error_;
  }
  // The bytes of fixture `name`, or of an absolute path; a test failure when missing or empty.
  std::string Read(const std::string& name) const {
    std::string path = !name.empty() && name.front() == '/' ? name : dir_.Path(name);
    std::string bytes = ReadFile(path);
    EXPECT_FALSE(bytes.empty()) << "fixture " << path << " missing or empty";
    return bytes;
  }

 private:
  std::string (*prepare_)(const TempDir&);
  TempDir dir_;
  std::once_flag once_;
  std::string error_;
};

// Loads a configuration whose rule file holds `rules` (YAML list items, indented by two)
// plus `extra` top-level YAML. Fails the calling test when the load fails. The files live
// for the whole test program.
inline std::shared_ptr<const Config> ConfigWithRules(const std::string& rules,
                                                     const std::string& extra = "") {
  static TempDir dir;
  static int n = 0;
  std::string rules_file =
      dir.Write("rules" + std::to_string(++n) + ".yaml", "version: 1\nrules:\n" + rules);
  std::string path = dir.Write("c" + std::to_string(n) + ".yaml",
                               "version: 1\nrule_files: [" + rules_file + "]\n" + extra);
  auto config = LoadConfig(path);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return config.ok() ? *config : nullptr;
}

}  // namespace mailwarden::testing

#endif  // MAILWARDEN_TESTS_UNIT_TEST_FILES_H_
