#include "milter/eml_reader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mailwarden {

void ReadMessageText(std::string_view text, Message* message) {
  size_t pos = 0;
  std::string name, value;
  bool in_header = false;
  auto flush = [&] {
    if (in_header) message->AddHeader(std::move(name), std::move(value));
    name.clear();
    value.clear();
    in_header = false;
  };
  // Header section: up to the first empty line. A line without a colon that is not a
  // continuation ends the headers too, as in Postfix's cleanup.
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line =
        text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      pos = next;
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && in_header) {
      value += '\n';  // as an MTA hands folded headers to a milter
      value += line;
      pos = next;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) break;  // body starts here
    flush();
    name = std::string(line.substr(0, colon));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    value = std::string(v);
    in_header = true;
    pos = next;
  }
  flush();
  // Body, with CRLF line ends as an MTA would transmit it.
  std::string chunk;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    chunk.append(line);
    if (eol != std::string_view::npos) chunk.append("\r\n");
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (chunk.size() >= 65536) {
      message->AppendBody(chunk);
      chunk.clear();
    }
  }
  if (!chunk.empty()) message->AppendBody(chunk);
}

Status ReadMessageFile(const std::string& path, Message* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  ReadMessageText(buf.str(), message);
  return Status::Ok();
}

}  // namespace mailwarden
