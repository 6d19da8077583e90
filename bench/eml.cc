// Test message loading (see eml.h).
//
// Distrusts: the files given on the command line (size, header count and
// header length are bounded by EmlLimits). Header parsing is deliberately
// simple, the way an MTA sees a message before any MIME parsing: the header
// block ends at the first empty line, a line starting with SP/HT continues
// the previous field, and a line without a colon ends the header block (the
// MTA would treat it as body text).

#include "eml.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace mailwarden::bench {
namespace {

// Splits `text` into lines without their "\n" or "\r\n" terminators.
// `ends_with_newline` tells whether the last line was terminated.
std::vector<std::string_view> SplitLines(const std::string& text, bool* ends_with_newline) {
  std::vector<std::string_view> lines;
  std::string_view view(text);
  size_t start = 0;
  *ends_with_newline = false;
  while (start < view.size()) {
    size_t nl = view.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(view.substr(start));
      break;
    }
    std::string_view line = view.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = nl + 1;
    if (start == view.size()) *ends_with_newline = true;
  }
  return lines;
}

bool ReadFile(const std::string& path, uint64_t max_bytes, std::string* out, std::string* error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    *error = path + ": cannot stat";
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    *error = path + ": larger than the per-file limit of " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  *out = buf.str();
  if (out->size() > max_bytes) {
    *error = path + ": grew past the per-file limit while reading";
    return false;
  }
  return true;
}

}  // namespace

bool ParseMessage(const std::string& text, const std::string& name, const EmlLimits& limits,
                  TestMessage* out, std::string* error) {
  TestMessage msg;
  msg.name = name;
  bool ends_with_newline = false;
  std::vector<std::string_view> lines = SplitLines(text, &ends_with_newline);
  size_t i = 0;
  if (!lines.empty() && lines[0].starts_with("From ")) ++i;  // mbox separator

  uint64_t size = 0;
  for (; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) {
      ++i;  // the separator line belongs to neither part
      size += 2;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !msg.headers.empty()) {
      std::string& value = msg.headers.back().second;
      value += '\n';
      value.append(line);
      if (msg.headers.back().first.size() + value.size() + 2 > limits.max_header_bytes) {
        *error = name + ": header " + msg.headers.back().first + " exceeds the milter packet limit";
        return false;
      }
      size += line.size() + 2;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) break;  // body starts
    if (msg.headers.size() >= limits.max_headers) {
      *error = name + ": more than " + std::to_string(limits.max_headers) + " header fields";
      return false;
    }
    std::string field_name(line.substr(0, colon));
    while (!field_name.empty() && (field_name.back() == ' ' || field_name.back() == '\t')) {
      field_name.pop_back();
    }
    msg.headers.emplace_back(std::move(field_name), std::string(line.substr(colon + 1)));
    if (line.size() + 2 > limits.max_header_bytes) {
      *error = name + ": header line exceeds the milter packet limit";
      return false;
    }
    size += line.size() + 2;
  }
  for (size_t b = i; b < lines.size(); ++b) {
    msg.body.append(lines[b]);
    if (b + 1 < lines.size() || ends_with_newline) msg.body += "\r\n";
  }
  size += msg.body.size();
  msg.size = size;
  *out = std::move(msg);
  return true;
}

bool LoadMessages(const std::vector<std::string>& paths, const EmlLimits& limits,
                  std::vector<TestMessage>* out, std::string* error) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      *error = path + ": no such file or directory";
      return false;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR* dir = ::opendir(path.c_str());
      if (dir == nullptr) {
        *error = path + ": cannot open directory";
        return false;
      }
      std::vector<std::string> found;
      while (dirent* entry = ::readdir(dir)) {
        std::string_view entry_name(entry->d_name);
        if (entry_name.size() > 4 && entry_name.ends_with(".eml")) {
          found.push_back(path + "/" + std::string(entry_name));
        }
        if (found.size() > limits.max_files) break;
      }
      ::closedir(dir);
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(path);
    }
    if (files.size() > limits.max_files) {
      *error = "more than " + std::to_string(limits.max_files) + " message files";
      return false;
    }
  }
  for (const std::string& file : files) {
    std::string text;
    if (!ReadFile(file, limits.max_file_bytes, &text, error)) return false;
    TestMessage msg;
    if (!ParseMessage(text, file, limits, &msg, error)) return false;
    out->push_back(std::move(msg));
  }
  if (out->empty()) {
    *error = "no .eml files found";
    return false;
  }
  return true;
}

TestMessage BuiltinMessage(size_t total_bytes) {
  std::string text =
      "Return-Path: <sender@bench.example>\r\n"
      "Received: from client.bench.example (client.bench.example "
      "[192.0.2.10])\r\n"
      "\tby mx.bench.example (Postfix) with ESMTPS id 4XBENCH0001\r\n"
      "\tfor <rcpt@bench.example>; Mon, 30 Nov 2026 07:00:00 +0700 (+07)\r\n"
      "From: Bench Sender <sender@bench.example>\r\n"
      "To: Bench Recipient <rcpt@bench.example>\r\n"
      "Subject: mailwarden benchmark message\r\n"
      "Date: Mon, 30 Nov 2026 07:00:00 +0700\r\n"
      "Message-ID: <bench-0001@bench.example>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "Content-Transfer-Encoding: 7bit\r\n"
      "\r\n";
  static constexpr std::string_view kLine =
      "The quick brown fox jumps over the lazy dog while the benchmark "
      "counts.\r\n";
  while (text.size() + kLine.size() <= total_bytes) text.append(kLine);
  TestMessage msg;
  std::string error;
  ParseMessage(text, "builtin", EmlLimits{}, &msg, &error);
  return msg;
}

}  // namespace mailwarden::bench
