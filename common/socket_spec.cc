#include "common/socket_spec.h"

#include <charconv>

namespace mailwarden {
namespace {

bool ParsePort(std::string_view text, int* port) {
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1 || value > 65535) {
    return false;
  }
  *port = value;
  return true;
}

}  // namespace

std::string SocketSpec::ToLibmilter() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  bool v6 = host.find(':') != std::string::npos;
  return std::string(v6 ? "inet6:" : "inet:") + std::to_string(port) + "@" + host;
}

std::string SocketSpec::ToString() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  bool v6 = host.find(':') != std::string::npos;
  return "inet:" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<SocketSpec> ParseSocketSpec(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad socket '" + std::string(text) + "': " + std::string(why) +
                                   " (expected inet:HOST:PORT, inet:PORT@HOST or unix:/path)");
  };
  SocketSpec spec;
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad("no type prefix");
  std::string_view type = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  if (type == "unix" || type == "local") {
    if (rest.empty() || rest.front() != '/') return bad("the path must be absolute");
    if (rest.size() > 107) return bad("the path is longer than a unix socket allows");
    spec.kind = SocketSpec::Kind::kUnix;
    spec.path = std::string(rest);
    return spec;
  }
  if (type != "inet" && type != "inet6") return bad("unknown type '" + std::string(type) + "'");
  spec.kind = SocketSpec::Kind::kInet;
  std::string_view host, port;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    port = rest.substr(0, at);
    host = rest.substr(at + 1);
  } else if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find("]:");
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t last = rest.rfind(':');
    if (last == std::string_view::npos) return bad("no port");
    host = rest.substr(0, last);
    port = rest.substr(last + 1);
  }
  if (host.empty()) return bad("no host");
  if (!ParsePort(port, &spec.port)) return bad("the port must be a number from 1 to 65535");
  spec.host = std::string(host);
  return spec;
}

}  // namespace mailwarden
