// Normalises attacker-chosen file names. Walks the bytes once; a malformed UTF-8 sequence
// is copied byte by byte (never decoded past the end); output is never longer than input.
#include "milter/checks/file_name.h"

#include <cstdint>

namespace mailwarden {
namespace {

// Length of the UTF-8 sequence starting at s[i] and its code point; 1 and the byte itself
// for an invalid or truncated sequence.
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    *cp = c;
    return 1;
  }
  uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 0x2) {
      *cp = c;
      return 1;
    }
    v = (v << 6) | (cc & 0x3F);
  }
  *cp = v;
  return len;
}

bool Invisible(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xAD ||  // controls, SHY
         cp == 0x061C ||                                                        // arabic mark
         (cp >= 0x200B && cp <= 0x200F) ||                                      // ZW*, LRM, RLM
         (cp >= 0x202A && cp <= 0x202E) ||                                      // embeddings, RLO
         (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||    // isolates
         cp == 0xFEFF;                                                          // BOM / ZWNBSP
}

}  // namespace

std::string NormaliseFileName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    size_t len = DecodeUtf8(name, i, &cp);
    if (len > 1 || cp < 0x80) {
      if (!Invisible(cp)) {
        if (cp == '/' || cp == '\\') {
          out.clear();  // keep the last path component only
        } else if (cp >= 'A' && cp <= 'Z') {
          out.push_back(static_cast<char>(cp - 'A' + 'a'));
        } else {
          out.append(name.substr(i, len));
        }
      }
    } else {
      out.push_back(name[i]);  // a stray byte of invalid UTF-8: keep it as is
    }
    i += len;
  }
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string FinalExtension(std::string_view normalised) {
  size_t dot = normalised.rfind('.');
  if (dot == std::string_view::npos) return "";
  return std::string(normalised.substr(dot + 1));
}

std::string ReplySafeName(std::string_view name, size_t max) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c >= 0x80) {
      // One '?' per UTF-8 character, not per byte.
      while (i + 1 < name.size() && (static_cast<unsigned char>(name[i + 1]) & 0xC0) == 0x80) ++i;
      out.push_back('?');
    } else {
      out.push_back(c < 0x20 || c == 0x7F || c == '"' ? '?' : static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace mailwarden
