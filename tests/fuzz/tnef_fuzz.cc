// libFuzzer target: the TNEF reader (our record walk, libytnef's MAPI block parser)
// against arbitrary bytes. Reading must never crash, leak or run away: it returns a listing
// within the limits or a ParseError that says why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milter/mime/tnef.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mailwarden::TnefLimits limits;
  limits.max_files = 50;
  limits.max_total_bytes = 1u << 20;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto contents = mailwarden::ReadTnef(input, limits);
  if (!contents.ok()) {
    if (contents.status().message().empty()) std::abort();  // errors must say why
    if (mailwarden::LooksLikeTnef(input) && size >= 6) std::abort();  // only non-TNEF fails
    return 0;
  }
  if (contents->files.size() > limits.max_files) std::abort();
  uint64_t total = 0;
  for (const auto& file : contents->files) total += file.content.size();
  if (total > limits.max_total_bytes) std::abort();
  if (contents->limit_hit != !contents->limit_name.empty()) std::abort();
  return 0;
}
