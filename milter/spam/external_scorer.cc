// Clients of rspamd and spamd (see external_scorer.h).
//
// Distrusts the scorer's answer as any peer's: it is read within a size bound (kMaxHttpReply,
// kMaxSpamdReply), JSON is parsed only after a nesting check and without exceptions,
// numbers are parsed locale-independently, symbol names are reduced to [A-Za-z0-9_] and
// capped before they reach the log. Every connect, write and read waits for the one
// deadline of the exchange. Envelope values sent as header fields lose control characters,
// so that a crafted HELO cannot add header lines to the request.
#include "milter/spam/external_scorer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/socket_spec.h"
#include "common/unique_fd.h"
#include "milter/net/resolve.h"

namespace mailwarden::spam {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHttpReply = 2 << 20;  // rspamd's JSON lists every symbol with options
constexpr size_t kMaxSpamdReply = 64 << 10;
constexpr size_t kMaxHeaderValue = 998;
constexpr size_t kMaxRecipients = 1024;
constexpr int kMaxJsonDepth = 32;
constexpr size_t kMaxSymbolsShown = 10;
constexpr size_t kMaxSymbolName = 64;

std::string Errno(int e) { return std::strerror(e); }

// Where a scorer listens.
struct Endpoint {
  SocketSpec socket;
  std::string http_path;    // rspamd: "/checkv2" or "/prefix/checkv2"
  std::string host_header;  // rspamd: "127.0.0.1:11333"
  std::string shown;        // as configured, for messages
};

// "1.25" -> "1.25", 15.0 -> "15", 7.2 -> "7.2"; independent of the locale.
std::string FormatNumber(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, 2);
  if (ec != std::errc()) return "?";
  std::string s(buf, end);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

bool ParseNumber(std::string_view text, double* out) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  // from_chars also reads "nan" and "inf", which no score may be.
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(*out);
}

// An envelope value as a header field value: no control characters, bounded.
std::string HeaderValue(std::string_view v) {
  std::string out;
  out.reserve(std::min(v.size(), kMaxHeaderValue));
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) continue;
    out.push_back(c);
    if (out.size() >= kMaxHeaderValue) break;
  }
  return out;
}

std::string SymbolName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out.push_back(c);
    }
    if (out.size() >= kMaxSymbolName) break;
  }
  return out;
}

// The message with every line ending as CRLF.
std::string ToCrlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32 + 2);
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out.push_back('\r');
    out.push_back(in[i]);
  }
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Header lines of a reply ("Name: value" up to the empty line), as (name, value) pairs.
std::vector<std::pair<std::string_view, std::string_view>> HeaderFields(std::string_view head) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = Trim(head.substr(pos, eol - pos));
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out.emplace_back(Trim(line.substr(0, colon)), Trim(line.substr(colon + 1)));
  }
  return out;
}

// Where the header of a reply ends: the index after "\r\n\r\n" (or "\n\n"), npos if not yet.
size_t HeaderEnd(std::string_view data) {
  size_t crlf = data.find("\r\n\r\n");
  size_t lf = data.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) {
    return crlf + 4;
  }
  return lf + 2;
}

// The deepest nesting of JSON arrays and objects in `text` (strings skipped).
int JsonDepth(std::string_view text) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

// One exchange with a scorer: connect, send, read, within one deadline.
class Exchange {
 public:
  Exchange(const Endpoint& endpoint, std::string_view who, std::chrono::milliseconds timeout)
      : endpoint_(endpoint),
        who_(std::string(who) + " at " + endpoint.shown),
        timeout_(timeout),
        deadline_(Clock::now() + timeout) {}

  Status Connect() {
    const SocketSpec& s = endpoint_.socket;
    if (s.kind == SocketSpec::Kind::kUnix) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (s.path.size() >= sizeof(addr.sun_path)) {
        return Status::InvalidArgument(who_ + ": socket path too long");
      }
      std::memcpy(addr.sun_path, s.path.c_str(), s.path.size() + 1);
      return ConnectTo(AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    }
    // The lookup shares the exchange's deadline: getaddrinfo() could block for seconds
    // past it when the site's resolver is slow.
    auto addresses = net::ResolveHost(s.host, s.port, deadline_);
    if (!addresses.ok()) {
      const Status& e = addresses.status();
      return e.code() == Status::Code::kTimeout ? Status::Timeout(who_ + ": " + e.message())
                                                : Status::Unavailable(who_ + ": " + e.message());
    }
    Status last = Status::Unavailable(who_ + ": no address");
    for (const net::ResolvedAddress& a : *addresses) {
      last = ConnectTo(a.family, reinterpret_cast<const sockaddr*>(&a.addr), a.len);
      if (last.ok() || last.code() == Status::Code::kTimeout) break;
    }
    return last;
  }

  Status SendAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (Status s = Wait(POLLOUT, "sending the message"); !s.ok()) return s;
        continue;
      }
      return Status::Unavailable(who_ + ": sending: " + Errno(errno));
    }
    return Status::Ok();
  }

  void ShutdownWrite() { shutdown(fd_.get(), SHUT_WR); }

  // Appends what arrives to `reply` until `complete(reply)` holds or the peer closes.
  // Returns whether the peer closed (false: complete) or an error.
  template <typename Complete>
  Result<bool> Read(std::string* reply, size_t max_bytes, Complete complete) {
    char buf[16384];
    while (!complete(*reply)) {
      ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
      if (n > 0) {
        reply->append(buf, static_cast<size_t>(n));
        if (reply->size() > max_bytes) {
          return Status::Internal(who_ + ": answer longer than " + std::to_string(max_bytes) +
                                  " bytes");
        }
        continue;
      }
      if (n == 0) return true;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (Status s = Wait(POLLIN, "waiting for the answer"); !s.ok()) return s;
        continue;
      }
      return Status::Unavailable(who_ + ": reading: " + Errno(errno));
    }
    return false;
  }

  const std::string& who() const { return who_; }

 private:
  Status ConnectTo(int family, const sockaddr* addr, socklen_t len) {
    fd_.reset(socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_.valid()) return Status::IoError(who_ + ": socket: " + Errno(errno));
    if (connect(fd_.get(), addr, len) == 0) return Status::Ok();
    if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
      return Status::Unavailable(who_ + ": connect: " + Errno(errno));
    }
    if (Status s = Wait(POLLOUT, "connecting"); !s.ok()) return s;
    int err = 0;
    socklen_t err_len = sizeof(err);
    getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) return Status::Unavailable(who_ + ": connect: " + Errno(err));
    return Status::Ok();
  }

  Status Wait(short events, std::string_view doing) {
    for (;;) {
      int ms = MillisLeft(deadline_);
      if (ms == 0) {
        return Status::Timeout(who_ + ": no answer within " + std::to_string(timeout_.count()) +
                               " ms (" + std::string(doing) + ")");
      }
      pollfd p{fd_.get(), events, 0};
      int rc = poll(&p, 1, ms);
      if (rc > 0) return Status::Ok();  // errors show in the next call
      if (rc < 0 && errno != EINTR) return Status::IoError(who_ + ": poll: " + Errno(errno));
    }
  }

  const Endpoint& endpoint_;
  std::string who_;
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
  UniqueFd fd_;
};

Status TooLarge(std::string_view who, size_t size, size_t max) {
  return Status::LimitExceeded("message of " + std::to_string(size) +
                               " bytes is larger than max_message_bytes " + std::to_string(max) +
                               ": not sent to " + std::string(who));
}

// ---- rspamd ------------------------------------------------------------------------------

class RspamdScorer : public ExternalScorer {
 public:
  RspamdScorer(ExternalScorerOptions options, Endpoint endpoint)
      : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

  Result<Signal> Score(std::string_view raw_message, const ScorerContext& ctx) const override {
    if (raw_message.size() > options_.max_message_bytes) {
      return TooLarge("rspamd", raw_message.size(), options_.max_message_bytes);
    }
    const std::string body = ToCrlf(raw_message);
    std::string request =
        "POST " + endpoint_.http_path + " HTTP/1.1\r\nHost: " + endpoint_.host_header +
        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    auto field = [&request](std::string_view name, std::string_view value) {
      std::string v = HeaderValue(value);
      if (!v.empty()) request += std::string(name) + ": " + v + "\r\n";
    };
    field("IP", ctx.client_addr);
    field("Hostname", ctx.client_name);
    field("Helo", ctx.helo);
    field("From", ctx.mail_from.empty() ? "<>" : std::string_view(ctx.mail_from));
    for (size_t i = 0; i < ctx.recipients.size() && i < kMaxRecipients; ++i) {
      field("Rcpt", ctx.recipients[i]);
    }
    field("Queue-Id", ctx.queue_id);
    field("User", ctx.auth_user);
    request += "\r\n";

    Exchange ex(endpoint_, "rspamd", options_.timeout);
    if (Status s = ex.Connect(); !s.ok()) return s;
    if (Status s = ex.SendAll(request); !s.ok()) return s;
    if (Status s = ex.SendAll(body); !s.ok()) return s;
    std::string reply;
    auto closed =
        ex.Read(&reply, kMaxHttpReply, [](const std::string& r) { return HttpComplete(r); });
    if (!closed.ok()) return closed.status();
    return Parse(ex.who(), reply);
  }

  const std::string& name() const override { return name_; }
  const ExternalScorerOptions& options() const override { return options_; }

  // The answer's readers (also behind RspamdReplyComplete and ParseRspamdReply).
  struct HttpReply {
    int status = 0;
    std::string status_line;
    std::string body;
  };

  // Whether `data` holds a whole HTTP response (Content-Length or chunked; otherwise the
  // body ends when the connection does).
  static bool HttpComplete(std::string_view data) {
    size_t end = HeaderEnd(data);
    if (end == std::string_view::npos) return false;
    for (const auto& [name, value] : HeaderFields(data.substr(0, end))) {
      if (EqualsNoCase(name, "Content-Length")) {
        size_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || ptr != value.data() + value.size()) return false;
        return data.size() - end >= n;
      }
      if (EqualsNoCase(name, "Transfer-Encoding") && EqualsNoCase(value, "chunked")) {
        return Dechunk("", data.substr(end)).ok();
      }
    }
    return false;
  }

  static Result<std::string> Dechunk(const std::string& who, std::string_view in) {
    std::string out;
    for (;;) {
      size_t eol = in.find("\r\n");
      if (eol == std::string_view::npos) break;
      std::string_view size_text = in.substr(0, eol);
      if (size_t semi = size_text.find(';'); semi != std::string_view::npos) {
        size_text = size_text.substr(0, semi);
      }
      size_text = Trim(size_text);
      size_t n = 0;
      auto [ptr, ec] =
          std::from_chars(size_text.data(), size_text.data() + size_text.size(), n, 16);
      if (ec != std::errc() || ptr != size_text.data() + size_text.size()) break;
      in.remove_prefix(eol + 2);
      if (n == 0) return out;
      if (in.size() < 2 || in.size() - 2 < n) break;  // n + 2 could wrap
      out.append(in.substr(0, n));
      in.remove_prefix(n + 2);
    }
    return Status::Internal(who + ": malformed chunked answer");
  }

  static Result<HttpReply> ParseHttp(const std::string& who, std::string_view data) {
    auto garbled = [&who, &data](std::string_view why) {
      std::string start(data.substr(0, 40));
      for (char& c : start) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '.';
      }
      return Status::Internal(who + ": not an HTTP answer (" + std::string(why) + "): \"" + start +
                              "\"");
    };
    if (data.empty()) return Status::Unavailable(who + ": closed the connection without an answer");
    if (!data.starts_with("HTTP/1.")) return garbled("status line");
    size_t end = HeaderEnd(data);
    if (end == std::string_view::npos) return garbled("incomplete header");
    HttpReply reply;
    std::string_view head = data.substr(0, end);
    size_t eol = head.find('\n');
    reply.status_line = std::string(Trim(head.substr(0, eol)));
    std::string_view code = reply.status_line;
    if (code.size() < 12 || code[8] != ' ') return garbled("status line");
    code = code.substr(9, 3);
    auto [ptr, ec] = std::from_chars(code.data(), code.data() + 3, reply.status);
    if (ec != std::errc() || ptr != code.data() + 3) return garbled("status code");
    std::string_view body = data.substr(end);
    bool chunked = false;
    std::optional<size_t> length;
    for (const auto& [name, value] : HeaderFields(head.substr(eol + 1))) {
      if (EqualsNoCase(name, "Transfer-Encoding") && EqualsNoCase(value, "chunked")) chunked = true;
      if (EqualsNoCase(name, "Content-Length")) {
        size_t n = 0;
        auto [p, e] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (e != std::errc() || p != value.data() + value.size()) return garbled("Content-Length");
        length = n;
      }
      if (EqualsNoCase(name, "Content-Encoding") && !EqualsNoCase(value, "identity")) {
        return Status::Internal(who + ": answer compressed with " + std::string(value));
      }
    }
    if (chunked) {
      auto plain = Dechunk(who, body);
      if (!plain.ok()) return plain.status();
      reply.body = std::move(*plain);
    } else if (length) {
      if (body.size() < *length) {
        return Status::Unavailable(who + ": connection closed in the middle of the answer");
      }
      reply.body = std::string(body.substr(0, *length));
    } else {
      reply.body = std::string(body);
    }
    return reply;
  }

  Result<Signal> Parse(const std::string& who, std::string_view data) const {
    auto http = ParseHttp(who, data);
    if (!http.ok()) return http.status();
    if (http->status != 200) {
      std::string what = who + ": " + HeaderValue(http->status_line).substr(0, 200);
      // A 5xx is rspamd failing for now (overload, a broken module); anything else means
      // the request or the endpoint is wrong, which retrying will not fix.
      if (http->status >= 500) return Status::Unavailable(what);
      return Status::Internal(what);
    }
    if (JsonDepth(http->body) > kMaxJsonDepth) {
      return Status::Internal(who + ": answer nested deeper than " + std::to_string(kMaxJsonDepth));
    }
    nlohmann::json j = nlohmann::json::parse(http->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::Internal(who + ": the answer is not a JSON object");
    }
    auto score = j.find("score");
    if (score == j.end() || !score->is_number()) {
      // An "error" member is how rspamd reports a failed scan.
      auto error = j.find("error");
      if (error != j.end() && error->is_string()) {
        return Status::Unavailable(who + ": " + HeaderValue(error->get<std::string>()));
      }
      return Status::Internal(who + ": no score in the answer");
    }
    const double their_score = score->get<double>();
    std::string detail = "rspamd " + FormatNumber(their_score);
    auto required = j.find("required_score");
    if (required != j.end() && required->is_number()) {
      detail += "/" + FormatNumber(required->get<double>());
    }
    auto action = j.find("action");
    if (action != j.end() && action->is_string()) {
      detail += " action=" + HeaderValue(action->get<std::string>()).substr(0, 32);
    }
    auto symbols = j.find("symbols");
    if (symbols != j.end() && symbols->is_object()) {
      std::vector<std::pair<double, std::string>> list;
      for (auto it = symbols->begin(); it != symbols->end(); ++it) {
        double s = 0;
        if (it->is_object()) {
          auto v = it->find("score");
          if (v != it->end() && v->is_number()) s = v->get<double>();
        }
        std::string name = SymbolName(it.key());
        if (!name.empty()) list.emplace_back(s, std::move(name));
      }
      // The weightiest first, either way; equal weights by name, for stable logs.
      std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        if (std::abs(a.first) != std::abs(b.first)) return std::abs(a.first) > std::abs(b.first);
        return a.second < b.second;
      });
      if (!list.empty()) detail += " symbols=";
      for (size_t i = 0; i < list.size() && i < kMaxSymbolsShown; ++i) {
        if (i > 0) detail += ",";
        detail += list[i].second;
      }
    }
    return Signal{name_, options_.weight * their_score, detail};
  }

 private:
  ExternalScorerOptions options_;
  Endpoint endpoint_;
  std::string name_ = "RSPAMD";
};

// ---- spamd -------------------------------------------------------------------------------

class SpamdScorer : public ExternalScorer {
 public:
  SpamdScorer(ExternalScorerOptions options, Endpoint endpoint)
      : options_(std::move(options)), endpoint_(std::move(endpoint)) {}

  Result<Signal> Score(std::string_view raw_message, const ScorerContext& ctx) const override {
    if (raw_message.size() > options_.max_message_bytes) {
      return TooLarge("spamd", raw_message.size(), options_.max_message_bytes);
    }
    const std::string body = ToCrlf(raw_message);
    std::string request =
        "SYMBOLS SPAMC/1.5\r\nContent-length: " + std::to_string(body.size()) + "\r\n";
    if (ctx.recipients.size() == 1) {
      std::string user = HeaderValue(ctx.recipients[0]);
      if (!user.empty()) request += "User: " + user + "\r\n";
    }
    request += "\r\n";

    Exchange ex(endpoint_, "spamd", options_.timeout);
    if (Status s = ex.Connect(); !s.ok()) return s;
    if (Status s = ex.SendAll(request); !s.ok()) return s;
    if (Status s = ex.SendAll(body); !s.ok()) return s;
    ex.ShutdownWrite();  // the protocol's end of request, for servers that wait for it
    std::string reply;
    auto closed =
        ex.Read(&reply, kMaxSpamdReply, [](const std::string& r) { return SpamdComplete(r); });
    if (!closed.ok()) return closed.status();
    return Parse(ex.who(), reply);
  }

  const std::string& name() const override { return name_; }
  const ExternalScorerOptions& options() const override { return options_; }

  // The answer's readers (also behind SpamdReplyComplete and ParseSpamdReply).
  // spamd closes the connection after its answer; a Content-length lets us stop earlier.
  static bool SpamdComplete(std::string_view data) {
    size_t end = HeaderEnd(data);
    if (end == std::string_view::npos) return false;
    for (const auto& [name, value] : HeaderFields(data.substr(0, end))) {
      if (EqualsNoCase(name, "Content-length")) {
        size_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        return ec == std::errc() && data.size() - end >= n;
      }
    }
    return false;
  }

  Result<Signal> Parse(const std::string& who, std::string_view data) const {
    auto garbled = [&who, &data](std::string_view why) {
      std::string start(data.substr(0, 40));
      for (char& c : start) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '.';
      }
      return Status::Internal(who + ": not a spamd answer (" + std::string(why) + "): \"" + start +
                              "\"");
    };
    if (data.empty()) return Status::Unavailable(who + ": closed the connection without an answer");
    if (!data.starts_with("SPAMD/")) return garbled("status line");
    size_t eol = data.find('\n');
    std::string_view status_line = Trim(data.substr(0, eol));
    // "SPAMD/1.1 0 EX_OK"
    size_t sp1 = status_line.find(' ');
    if (sp1 == std::string_view::npos) return garbled("status line");
    std::string_view rest = status_line.substr(sp1 + 1);
    size_t sp2 = rest.find(' ');
    std::string_view code_text = rest.substr(0, sp2);
    int code = -1;
    auto [ptr, ec] = std::from_chars(code_text.data(), code_text.data() + code_text.size(), code);
    if (ec != std::errc() || ptr != code_text.data() + code_text.size()) {
      return garbled("status code");
    }
    if (code != 0) {
      std::string what = who + ": " + HeaderValue(status_line).substr(0, 200);
      // sysexits: EX_UNAVAILABLE, EX_OSERR, EX_IOERR, EX_TEMPFAIL may pass.
      if (code == 69 || code == 71 || code == 74 || code == 75) return Status::Unavailable(what);
      return Status::Internal(what);
    }
    size_t end = HeaderEnd(data);
    if (end == std::string_view::npos) return garbled("incomplete header");
    std::optional<bool> is_spam;
    double score = 0;
    double threshold = 0;
    for (const auto& [name, value] : HeaderFields(data.substr(eol + 1, end - eol - 1))) {
      if (!EqualsNoCase(name, "Spam")) continue;
      // "True ; 7.3 / 5.0"
      size_t semi = value.find(';');
      size_t slash = value.find('/');
      if (semi == std::string_view::npos || slash == std::string_view::npos || slash < semi) {
        return garbled("Spam header");
      }
      std::string_view verdict = Trim(value.substr(0, semi));
      if (EqualsNoCase(verdict, "True") || EqualsNoCase(verdict, "Yes")) {
        is_spam = true;
      } else if (EqualsNoCase(verdict, "False") || EqualsNoCase(verdict, "No")) {
        is_spam = false;
      } else {
        return garbled("Spam header");
      }
      if (!ParseNumber(value.substr(semi + 1, slash - semi - 1), &score) ||
          !ParseNumber(value.substr(slash + 1), &threshold)) {
        return garbled("Spam header");
      }
    }
    if (!is_spam) return garbled("no Spam header");
    std::string detail = "spamd " + FormatNumber(score) + "/" + FormatNumber(threshold) +
                         " spam=" + (*is_spam ? "yes" : "no");
    // SYMBOLS: the names of the rules that hit, comma-separated.
    std::string_view symbols = Trim(data.substr(end));
    size_t shown = 0;
    while (!symbols.empty() && shown < kMaxSymbolsShown) {
      size_t comma = symbols.find(',');
      std::string name = SymbolName(symbols.substr(0, comma));
      symbols = comma == std::string_view::npos ? std::string_view() : symbols.substr(comma + 1);
      if (name.empty()) continue;
      detail += (shown++ == 0 ? " symbols=" : ",") + name;
    }
    return Signal{name_, options_.weight * score, detail};
  }

 private:
  ExternalScorerOptions options_;
  Endpoint endpoint_;
  std::string name_ = "SPAMD";
};

Result<Endpoint> RspamdEndpoint(const std::string& address) {
  auto bad = [&address](std::string_view why) {
    return Status::InvalidArgument("rspamd address '" + address + "': " + std::string(why) +
                                   " (expected http://HOST:PORT or unix:/path)");
  };
  Endpoint e;
  e.shown = address;
  if (address.starts_with("unix:")) {
    auto spec = ParseSocketSpec(address);
    if (!spec.ok()) return bad(spec.status().message());
    e.socket = *spec;
    e.http_path = "/checkv2";
    e.host_header = "localhost";
    return e;
  }
  if (address.starts_with("https://")) return bad("TLS is not supported; use rspamd's local port");
  if (!address.starts_with("http://")) return bad("not an http:// URL");
  std::string_view rest = std::string_view(address).substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  if (authority.empty()) return bad("no host");
  if (authority.find('@') != std::string_view::npos) return bad("credentials are not supported");
  std::string spec_text = "inet:" + std::string(authority);
  // Without a port, the URL's default.
  bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos &&
                  (authority.front() != '[' || authority.find("]:") != std::string_view::npos);
  if (!has_port) spec_text += ":80";
  auto spec = ParseSocketSpec(spec_text);
  if (!spec.ok()) return bad(spec.status().message());
  e.socket = *spec;
  e.host_header = std::string(authority);
  if (path.find_first_of("?# ") != std::string::npos) return bad("a query or fragment");
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.http_path = path + "/checkv2";
  return e;
}

Result<Endpoint> SpamdEndpoint(const std::string& address) {
  Endpoint e;
  e.shown = address;
  std::string text = address;
  if (!text.starts_with("unix:") && !text.starts_with("local:") && !text.starts_with("inet:") &&
      !text.starts_with("inet6:")) {
    // "HOST:PORT", "[v6]:PORT", or a bare host on spamd's port.
    bool has_port = text.find("]:") != std::string::npos ||
                    (text.front() != '[' && std::count(text.begin(), text.end(), ':') == 1);
    if (!has_port) {
      if (text.find(':') != std::string::npos && text.front() != '[') text = "[" + text + "]";
      text += ":783";
    }
    text = "inet:" + text;
  }
  auto spec = ParseSocketSpec(text);
  if (!spec.ok()) {
    return Status::InvalidArgument("spamd address '" + address + "': " + spec.status().message());
  }
  e.socket = *spec;
  return e;
}

}  // namespace

Result<std::unique_ptr<ExternalScorer>> ExternalScorer::Create(ExternalScorerOptions options) {
  if (options.address.empty()) return Status::InvalidArgument("no scorer address");
  if (options.timeout.count() <= 0) return Status::InvalidArgument("the timeout must be positive");
  if (options.kind == ExternalScorerOptions::Kind::kRspamd) {
    auto endpoint = RspamdEndpoint(options.address);
    if (!endpoint.ok()) return endpoint.status();
    return std::unique_ptr<ExternalScorer>(
        new RspamdScorer(std::move(options), std::move(*endpoint)));
  }
  auto endpoint = SpamdEndpoint(options.address);
  if (!endpoint.ok()) return endpoint.status();
  return std::unique_ptr<ExternalScorer>(new SpamdScorer(std::move(options), std::move(*endpoint)));
}

bool RspamdReplyComplete(std::string_view reply) { return RspamdScorer::HttpComplete(reply); }

Result<Signal> ParseRspamdReply(std::string_view reply, double weight) {
  ExternalScorerOptions options;
  options.weight = weight;
  return RspamdScorer(std::move(options), Endpoint{}).Parse("rspamd", reply);
}

bool SpamdReplyComplete(std::string_view reply) { return SpamdScorer::SpamdComplete(reply); }

Result<Signal> ParseSpamdReply(std::string_view reply, double weight) {
  ExternalScorerOptions options;
  options.kind = ExternalScorerOptions::Kind::kSpamd;
  options.weight = weight;
  return SpamdScorer(std::move(options), Endpoint{}).Parse("spamd", reply);
}

}  // namespace mailwarden::spam
