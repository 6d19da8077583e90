// libFuzzer target: the ARJ reader (arj.h) and the archive walker on ARJ input, against
// arbitrary bytes. Every ARJ header carries a CRC-32, so random mutations would almost never
// get past the first one: each input is listed twice, as it is and with every CRC the
// header chain reaches rewritten to match, so that sizes, flags, methods, names, extended
// headers, stored members and nesting are all explored. Listing must never crash, leak or
// run away, and must keep the walker's invariants.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milter/mime/archive.h"
#include "milter/mime/arj.h"

namespace {

uint32_t Le(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

void PutLe32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

// Follows the header chain from the start as a reader would and makes every header and
// extended header CRC right; stops where the chain leaves the input.
std::string FixCrcs(std::string b) {
  size_t pos = 0;
  while (b.size() - pos >= 4 && static_cast<uint8_t>(b[pos]) == 0x60 &&
         static_cast<uint8_t>(b[pos + 1]) == 0xEA) {
    size_t size = Le(b, pos + 2, 2);
    if (size == 0 || b.size() - pos - 4 < size + 4) break;
    PutLe32(b, pos + 4 + size, mailwarden::ArjCrc32(std::string_view(b).substr(pos + 4, size)));
    uint32_t compressed = size >= 16 ? Le(b, pos + 4 + 12, 4) : 0;
    pos += 4 + size + 4;
    while (b.size() - pos >= 2) {
      size_t ext = Le(b, pos, 2);
      pos += 2;
      if (ext == 0 || b.size() - pos < ext + 4) break;
      PutLe32(b, pos + ext, mailwarden::ArjCrc32(std::string_view(b).substr(pos, ext)));
      pos += ext + 4;
    }
    if (b.size() - pos < compressed) break;
    pos += compressed;
  }
  return b;
}

void Check(std::string_view input, const mailwarden::ArchiveLimits& limits) {
  // The reader alone: entries point into the input, within their declared sizes.
  mailwarden::ArjReader reader(input);
  mailwarden::ArjEntry entry;
  size_t entries = 0;
  while (reader.Next(&entry)) {
    if (entry.data.size() > entry.compressed_size) std::abort();
    if (!entry.data.empty() &&
        (entry.data.data() < input.data() ||
         entry.data.data() + entry.data.size() > input.data() + input.size())) {
      std::abort();
    }
    if (entry.data_cut == (entry.data.size() == entry.compressed_size)) std::abort();
    if (entry.name.size() > mailwarden::kArjMaxBasicHeader) std::abort();
    if (++entries > input.size()) std::abort();  // every header consumes bytes
  }
  if (reader.at_end() != reader.damage().empty()) std::abort();

  auto listing = mailwarden::ListArchive(input, limits);
  if (!listing.ok()) {
    if (listing.status().message().empty()) std::abort();  // errors must say why
    if (mailwarden::LooksLikeArj(input)) std::abort();     // ARJ is always a listing
    return;
  }
  if (mailwarden::LooksLikeArj(input) && listing->format != "arj") std::abort();
  if (listing->members.size() > limits.max_members) std::abort();
  if (listing->unread_members > listing->members.size()) std::abort();
  for (const auto& member : listing->members) {
    if (member.depth < 1 || member.depth > limits.max_depth) std::abort();
  }
  for (const auto& hit : listing->limit_hits) {
    if (hit.name.empty() || !listing->truncated) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mailwarden::ArchiveLimits limits;
  limits.max_depth = 4;
  limits.max_members = 200;
  limits.max_total_expanded = 8u << 20;
  limits.max_member_bytes_read = 1u << 20;
  std::string input(reinterpret_cast<const char*>(data), size);
  Check(input, limits);
  std::string fixed = FixCrcs(input);
  if (fixed != input) Check(fixed, limits);
  return 0;
}
