// Socket addresses as written in configuration files and on command lines.
//
// Accepted spellings: "inet:HOST:PORT" (also "inet:[v6addr]:PORT"), Sendmail's "inet:PORT@HOST",
// "inet6:PORT@HOST", and "unix:/path" or "local:/path". Parsing is strict: a port outside
// 1..65535 or an empty path is an error. Pure values, thread-safe.
#ifndef MAILWARDEN_COMMON_SOCKET_SPEC_H_
#define MAILWARDEN_COMMON_SOCKET_SPEC_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden {

struct SocketSpec {
  enum class Kind { kInet, kUnix };
  Kind kind = Kind::kInet;
  std::string host;  // kInet: address or name, without brackets
  int port = 0;      // kInet
  std::string path;  // kUnix

  // The spelling libmilter's smfi_setconn() expects: "inet:PORT@HOST", "inet6:PORT@HOST"
  // or "unix:/path".
  std::string ToLibmilter() const;
  // The canonical spelling: "inet:HOST:PORT" or "unix:/path".
  std::string ToString() const;
};

Result<SocketSpec> ParseSocketSpec(std::string_view text);

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_SOCKET_SPEC_H_
