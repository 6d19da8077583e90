#include "milter/mime/magic_type.h"

#include <magic.h>

#include <memory>

namespace mailwarden {
namespace {

// Bytes libmagic may look at: the head the caller passes is already bounded, this bounds
// libmagic's own searches inside it.
constexpr size_t kMagicBytesMax = 64 << 10;

struct MagicCloser {
  void operator()(magic_set* m) const { magic_close(m); }
};
using MagicPtr = std::unique_ptr<magic_set, MagicCloser>;

MagicPtr OpenMagic() {
  MagicPtr m(magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS |
                        MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_TAR));
  if (!m) return nullptr;
  size_t bytes_max = kMagicBytesMax;
  magic_setparam(m.get(), MAGIC_PARAM_BYTES_MAX, &bytes_max);
  if (magic_load(m.get(), nullptr) != 0) return nullptr;
  return m;
}

}  // namespace

std::string DetectMimeType(std::string_view head) {
  if (head.empty()) return "";
  // A failed open is not retried on every part: the database does not appear later.
  thread_local MagicPtr magic = OpenMagic();
  if (!magic) return "";
  const char* type = magic_buffer(magic.get(), head.data(), head.size());
  return type == nullptr ? "" : type;
}

}  // namespace mailwarden
