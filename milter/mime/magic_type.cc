#include "milter/mime/magic_type.h"

#include <magic.h>

#include <memory>
#include <mutex>
#include <vector>

namespace mailwarden {
namespace {

using std::string_view_literals::operator""sv;

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

// Loaded handles, shared by all threads. A handle is not thread-safe, and loading one
// costs about a millisecond and 8 MB (the compiled database), while the milter serves each
// connection on a thread of its own: so handles are lent out, not kept per thread. The
// pool grows to the number of concurrent callers and no further.
class MagicPool {
 public:
  MagicPtr Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_) return nullptr;
      if (!idle_.empty()) {
        MagicPtr m = std::move(idle_.back());
        idle_.pop_back();
        return m;
      }
    }
    MagicPtr m = OpenMagic();
    if (!m) {
      // The database does not appear later: stop trying.
      std::lock_guard<std::mutex> lock(mu_);
      broken_ = true;
    }
    return m;
  }
  void Give(MagicPtr m) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(m));
  }

 private:
  std::mutex mu_;
  std::vector<MagicPtr> idle_;
  bool broken_ = false;
};

MagicPool& Pool() {
  static MagicPool* pool = new MagicPool();  // never destroyed: threads may outlive main()
  return *pool;
}

// The formats mail carries most, recognised by their first bytes without libmagic (whose
// full pass costs 20 µs on a PDF but up to 2 ms on text).
struct Signature {
  std::string_view magic;
  const char* type;
};
constexpr Signature kSignatures[] = {
    {"%PDF-"sv, "application/pdf"},
    {"\x89PNG\r\n\x1a\n"sv, "image/png"},
    {"\xff\xd8\xff"sv, "image/jpeg"},
    {"GIF87a"sv, "image/gif"},
    {"GIF89a"sv, "image/gif"},
    {"{\\rtf"sv, "text/rtf"},
    {"7z\xbc\xaf\x27\x1c"sv, "application/x-7z-compressed"},
    {"Rar!\x1a\x07"sv, "application/x-rar"},
    {"\x1f\x8b"sv, "application/gzip"},
    {"BZh"sv, "application/x-bzip2"},
    {"\xfd" "7zXZ\x00"sv, "application/x-xz"},
    {"MSCF\0\0\0\0"sv, "application/vnd.ms-cab-compressed"},
    {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"sv, "application/x-ole-storage"},
    {"\x7f" "ELF"sv, "application/x-executable"},
    {"BEGIN:VCALENDAR"sv, "text/calendar"},
    {"BEGIN:VCARD"sv, "text/vcard"},
    {"-----BEGIN PGP"sv, "application/pgp"},
};

const char* FastType(std::string_view head) {
  for (const Signature& s : kSignatures) {
    if (head.starts_with(s.magic)) return s.type;
  }
  return nullptr;
}

// Plain text: no NUL and no other C0 control than the usual whitespace in the head. libmagic
// would only tell text/plain from text/html or a script language, slowly; the declared type
// says as much, and the checks that care read the text itself.
bool LooksLikePlainText(std::string_view head) {
  for (unsigned char c : head) {
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b) return false;
  }
  return true;
}

}  // namespace

std::string DetectMimeType(std::string_view head) {
  if (head.empty()) return "";
  if (const char* type = FastType(head)) return type;
  if (LooksLikePlainText(head)) return "text/plain";
  MagicPtr magic = Pool().Take();
  if (!magic) return "";
  const char* type = magic_buffer(magic.get(), head.data(), head.size());
  std::string out = type == nullptr ? "" : type;
  Pool().Give(std::move(magic));
  return out;
}

}  // namespace mailwarden
