// ASCII case folding for protocol text: domains, addresses, keywords, header names. Mail
// compares these without regard to ASCII case only (RFC 5321 2.4); bytes outside A-Z,
// UTF-8 included, are left as they are, whatever the process locale.
#ifndef MAILWARDEN_COMMON_ASCII_H_
#define MAILWARDEN_COMMON_ASCII_H_

#include <string>
#include <string_view>

namespace mailwarden {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_ASCII_H_
