// libFuzzer target: the configuration loader against arbitrary files. The input is split at
// the first NUL byte into a main config and a rule file it names. Loading must never crash
// or throw; it either succeeds or reports errors.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "common/config.h"

namespace {

std::string WriteFile(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(content.data(), content.size());
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/mwfuzz.XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view main_text = input.substr(0, nul);
  std::string_view rules_text = nul == std::string_view::npos ? "" : input.substr(nul + 1);
  WriteFile(dir + "/rules.yaml", rules_text);
  std::string path = WriteFile(dir + "/mailwarden.yaml", main_text);
  auto config = mailwarden::LoadConfig(path);
  if (!config.ok() && config.status().message().empty()) std::abort();  // errors must say why
  return 0;
}
