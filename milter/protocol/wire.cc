// Milter packet encoding (see wire.h).
#include "milter/protocol/wire.h"

namespace mailwarden::milter {

void AppendUint32(std::string* data, uint32_t value) {
  data->push_back(static_cast<char>((value >> 24) & 0xFF));
  data->push_back(static_cast<char>((value >> 16) & 0xFF));
  data->push_back(static_cast<char>((value >> 8) & 0xFF));
  data->push_back(static_cast<char>(value & 0xFF));
}

uint32_t ReadUint32(std::string_view data) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

void AppendCString(std::string* data, std::string_view text) {
  data->append(text);
  data->push_back('\0');
}

void AppendPacket(std::string* out, char command, std::string_view data) {
  AppendUint32(out, static_cast<uint32_t>(data.size() + 1));
  out->push_back(command);
  out->append(data);
}

bool SplitCStrings(std::string_view data, std::vector<std::string_view>* out) {
  out->clear();
  if (data.empty() || data.back() != '\0') return false;
  size_t start = 0;
  while (start < data.size()) {
    size_t nul = data.find('\0', start);
    out->push_back(data.substr(start, nul - start));
    start = nul + 1;
  }
  return true;
}

bool IsValidReplyCode(std::string_view text) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.size() < 4) return false;
  if (text[0] != '4' && text[0] != '5') return false;
  if (!digit(text[1]) || !digit(text[2])) return false;
  if (text[3] != ' ' && text[3] != '-') return false;
  // An enhanced status code, if present, must be of the same class.
  if (text.size() >= 6 && digit(text[4]) && text[5] == '.' && text[4] != text[0]) return false;
  return true;
}

}  // namespace mailwarden::milter
