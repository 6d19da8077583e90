// libFuzzer target: the archive walker against arbitrary bytes. Listing must never crash,
// leak or run away: it returns a listing within the limits or a ParseError that says why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milter/mime/archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mailwarden::ArchiveLimits limits;
  limits.max_depth = 3;
  limits.max_members = 200;
  limits.max_total_expanded = 8u << 20;
  limits.max_member_bytes_read = 1u << 20;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto listing = mailwarden::ListArchive(input, limits);
  if (!listing.ok()) {
    if (listing.status().message().empty()) std::abort();  // errors must say why
    return 0;
  }
  if (listing->members.size() > limits.max_members) std::abort();
  for (const auto& member : listing->members) {
    if (member.depth < 1 || member.depth > limits.max_depth) std::abort();
  }
  for (const auto& hit : listing->limit_hits) {
    if (hit.name.empty() || !listing->truncated) std::abort();
  }
  return 0;
}
