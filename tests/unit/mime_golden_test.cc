// Golden tests of the MIME parser: every tests/data/mime/<case>.eml is parsed and its
// DescribeForTest() rendering compared with <case>.expected. The expectations are only
// rewritten when MW_REGEN_GOLDEN=1 is set (scripts/regen-golden.sh), never automatically.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "milter/mime/parser.h"
#include "tests/unit/test_files.h"

namespace mailwarden::mime {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(MW_SOURCE_DIR) / "tests/data/mime";

// Small limits, so that the limit cases stay small files.
MimeLimits GoldenLimits() {
  MimeLimits limits;
  limits.max_depth = 8;
  limits.max_parts = 50;
  return limits;
}

std::string ReadFile(const fs::path& p) { return testing::ReadFile(p.string()); }

std::string Parse(const std::string& eml, size_t chunk) {
  MimeParser parser(GoldenLimits());
  for (size_t pos = 0; pos < eml.size(); pos += chunk) {
    parser.AddRaw(std::string_view(eml).substr(pos, chunk));
  }
  return DescribeForTest(parser.Finish());
}

std::vector<fs::path> Cases() {
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(kDir)) {
    if (e.path().extension() == ".eml") cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(MimeGoldenTest, EveryCaseMatchesItsExpectation) {
  const bool regen = std::getenv("MW_REGEN_GOLDEN") != nullptr &&
                     std::string(std::getenv("MW_REGEN_GOLDEN")) == "1";
  std::vector<fs::path> cases = Cases();
  ASSERT_GE(cases.size(), 13u);
  for (const fs::path& eml_path : cases) {
    SCOPED_TRACE(eml_path.filename().string());
    std::string eml = ReadFile(eml_path);
    std::string got = Parse(eml, eml.size() + 1);
    // Chunking must not change the result.
    EXPECT_EQ(Parse(eml, 1), got);
    EXPECT_EQ(Parse(eml, 7), got);
    fs::path expected_path = eml_path;
    expected_path.replace_extension(".expected");
    if (regen) {
      std::ofstream(expected_path, std::ios::binary) << got;
      continue;
    }
    ASSERT_TRUE(fs::exists(expected_path)) << "run scripts/regen-golden.sh";
    EXPECT_EQ(got, ReadFile(expected_path));
  }
}

}  // namespace
}  // namespace mailwarden::mime
