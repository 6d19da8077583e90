// Temporary files for tests: a directory removed with everything in it when the object dies.
#ifndef MAILWARDEN_TESTS_UNIT_TEST_FILES_H_
#define MAILWARDEN_TESTS_UNIT_TEST_FILES_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace mailwarden::testing {

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

}  // namespace mailwarden::testing

#endif  // MAILWARDEN_TESTS_UNIT_TEST_FILES_H_
