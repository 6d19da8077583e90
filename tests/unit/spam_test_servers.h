// Servers for the tests of the spam check's network clients (DNS blocklists, rspamd,
// spamd): the real ones started privately on loopback (dnsmasq, spamd, rspamd, each in a
// temporary directory of its own, stopped by the destructor), and small in-process
// stand-ins for the failures real servers do not produce on demand (a DNS server that
// never answers, a TCP peer that hangs or talks nonsense). Header-only, for GoogleTest.
#ifndef MAILWARDEN_TESTS_UNIT_SPAM_TEST_SERVERS_H_
#define MAILWARDEN_TESTS_UNIT_SPAM_TEST_SERVERS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mailwarden::testing {

using SpamTestClock = std::chrono::steady_clock;

// A private directory under $TMPDIR (or /tmp), removed with everything in it.
class SpamTempDir {
 public:
  SpamTempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/mw-spam-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~SpamTempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  SpamTempDir(const SpamTempDir&) = delete;
  SpamTempDir& operator=(const SpamTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string SpamReadFile(const std::string& path, size_t tail = 4000) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > tail ? s.substr(s.size() - tail) : s;
}

inline void SpamWriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A loopback port of `type` (SOCK_DGRAM, SOCK_STREAM) nobody is bound to right now.
inline int SpamFreePort(int type) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// A child process with its stdout and stderr in a log file; SIGTERM (then SIGKILL) when
// stopped or destroyed.
class SpamChildProcess {
 public:
  ~SpamChildProcess() { Stop(); }

  bool Start(const std::vector<std::string>& argv, const std::string& log_path) {
    log_path_ = log_path;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      setpgid(0, 0);  // its own group: the helpers it forks stop with it
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return true;
  }

  // Whether it still runs (false once it exited; the exit is collected).
  bool Running() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    auto deadline = SpamTestClock::now() + std::chrono::seconds(10);
    int st = 0;
    while (waitpid(pid_, &st, WNOHANG) == 0) {
      if (SpamTestClock::now() > deadline) {
        kill(-pid_, SIGKILL);
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Children left in its group (spamd's, rspamd's workers) follow.
    kill(-pid_, SIGKILL);
    pid_ = -1;
  }

  std::string Log() const { return SpamReadFile(log_path_); }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Polls `ready` every 50 ms until it holds, the child exits, or `seconds` pass.
inline bool SpamWaitUntil(SpamChildProcess* child, double seconds,
                          const std::function<bool()>& ready) {
  auto deadline = SpamTestClock::now() + std::chrono::duration<double>(seconds);
  while (SpamTestClock::now() < deadline) {
    if (ready()) return true;
    if (!child->Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Connects to 127.0.0.1:port, sends `request`, returns what comes back until the peer
// closes (or 2 s pass); "" when nobody listens.
inline std::string SpamTcpExchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return reply;
}

// Whether a DNS server on 127.0.0.1:port answers an A query for `name` within `ms`.
inline bool SpamDnsAnswers(int port, const std::string& name, int ms = 300) {
  std::string q = {'\x4d', '\x57', '\x01', '\x00', '\x00', '\x01',
                   '\x00', '\x00', '\x00', '\x00', '\x00', '\x00'};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<char>(dot - start));
    q.append(name, start, dot - start);
    start = dot + 1;
  }
  q += std::string("\x00\x00\x01\x00\x01", 5);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  pollfd p{fd, POLLIN, 0};
  bool answered = poll(&p, 1, ms) == 1;
  if (answered) {
    char buf[512];
    answered = recv(fd, buf, sizeof(buf), 0) >= 12 && buf[0] == '\x4d' && buf[1] == '\x57';
  }
  close(fd);
  return answered;
}

// dnsmasq (Debian dnsmasq-base) answering A records for exact names and NXDOMAIN for any
// other name under `local_domains`; nothing is forwarded anywhere.
class SpamDnsmasq {
 public:
  static constexpr const char* kBinary = "/usr/sbin/dnsmasq";
  static bool Available() { return access(kBinary, X_OK) == 0; }

  // `records`: (name, IPv4 address); a name listed twice gets both addresses.
  bool Start(const std::vector<std::pair<std::string, std::string>>& records,
             const std::vector<std::string>& local_domains, std::string* error) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = SpamFreePort(SOCK_DGRAM);
      std::vector<std::string> argv = {kBinary,
                                       "--keep-in-foreground",
                                       "--conf-file=/dev/null",
                                       "--no-resolv",
                                       "--no-hosts",
                                       "--no-poll",
                                       "--bind-interfaces",
                                       "--listen-address=127.0.0.1",
                                       "--port=" + std::to_string(port_),
                                       "--pid-file=" + dir_.path() + "/dnsmasq.pid",
                                       "--log-facility=-",
                                       "--log-queries"};
      for (const std::string& d : local_domains) argv.push_back("--local=/" + d + "/");
      for (const auto& [name, addr] : records) {
        argv.push_back("--host-record=" + name + "," + addr);
      }
      if (!child_.Start(argv, dir_.path() + "/dnsmasq.log")) break;
      if (SpamWaitUntil(&child_, 10, [this] { return SpamDnsAnswers(port_, "ready.invalid"); })) {
        return true;
      }
      child_.Stop();
    }
    *error = "dnsmasq did not start: " + child_.Log();
    return false;
  }

  int port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Log() const { return child_.Log(); }

 private:
  SpamTempDir dir_;
  SpamChildProcess child_;
  int port_ = 0;
};

// A UDP socket on loopback that receives queries and never answers them.
class SpamSilentUdpServer {
 public:
  SpamSilentUdpServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SpamSilentUdpServer() { close(fd_); }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A TCP (or unix socket) peer in a thread of its own: per connection it reads the request
// (until `request_complete` says it is whole, or the client half-closes), records it,
// sends `reply`, and then closes, or hangs until destroyed when `hang`.
class SpamFakeServer {
 public:
  struct Behaviour {
    std::string reply;
    bool hang = false;  // keep the connection open without a word after the reply
    std::function<bool(const std::string&)> request_complete;
  };

  explicit SpamFakeServer(Behaviour behaviour, const std::string& unix_path = "")
      : behaviour_(std::move(behaviour)) {
    if (unix_path.empty()) {
      listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
      socklen_t len = sizeof(a);
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
    } else {
      listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, unix_path.c_str(), sizeof(a.sun_path) - 1);
      unlink(unix_path.c_str());
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    }
    listen(listen_fd_, 16);
    if (pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
    thread_ = std::thread([this] { Run(); });
  }

  ~SpamFakeServer() {
    if (stop_pipe_[1] >= 0) {
      char c = 'x';
      (void)!write(stop_pipe_[1], &c, 1);
    }
    thread_.join();
    close(listen_fd_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  // Waits for `fd` (or the stop pipe); false when stopping.
  bool WaitFor(int fd, short events) {
    pollfd p[2] = {{fd, events, 0}, {stop_pipe_[0], POLLIN, 0}};
    for (;;) {
      int rc = poll(p, 2, -1);
      if (rc < 0 && errno == EINTR) continue;
      return rc > 0 && p[1].revents == 0;
    }
  }

  void Run() {
    std::vector<int> open_fds;
    while (WaitFor(listen_fd_, POLLIN)) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string request;
      char buf[16384];
      bool stopping = false;
      while (!(behaviour_.request_complete && behaviour_.request_complete(request))) {
        if (!WaitFor(fd, POLLIN)) {
          stopping = true;
          break;
        }
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      if (!stopping && !behaviour_.reply.empty()) {
        (void)!send(fd, behaviour_.reply.data(), behaviour_.reply.size(), MSG_NOSIGNAL);
      }
      if (behaviour_.hang && !stopping) {
        open_fds.push_back(fd);  // closed at the end, when the test is over
      } else {
        close(fd);
      }
      if (stopping) break;
    }
    for (int fd : open_fds) close(fd);
  }

  Behaviour behaviour_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// A request with a header ending in an empty line and as many body bytes as its
// Content-Length (either spelling) announces.
inline bool SpamRequestComplete(const std::string& r) {
  size_t end = r.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = r.substr(0, end);
  for (const char* name : {"Content-Length: ", "Content-length: "}) {
    size_t at = head.find(name);
    if (at != std::string::npos) {
      size_t n = std::strtoul(head.c_str() + at + std::strlen(name), nullptr, 10);
      return r.size() - end - 4 >= n;
    }
  }
  return true;
}

// spamd (Debian spamd) on 127.0.0.1 with the stock rules plus `local_cf` as its site
// configuration (per-user configuration off, Bayes and network tests as local_cf says).
class SpamSpamd {
 public:
  static constexpr const char* kBinary = "/usr/sbin/spamd";
  static bool Available() { return access(kBinary, X_OK) == 0; }

  bool Start(const std::string& local_cf, std::string* error) {
    // Run as root, spamd's children read the site configuration as nobody.
    chmod(dir_.path().c_str(), 0755);
    const std::string site = dir_.path() + "/site";
    std::filesystem::create_directories(site);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/etc/spamassassin", ec)) {
      if (entry.path().extension() == ".pre") {
        std::filesystem::copy_file(entry.path(), site + "/" + entry.path().filename().string(), ec);
      }
    }
    SpamWriteFile(site + "/local.cf", local_cf);
    port_ = SpamFreePort(SOCK_STREAM);
    std::vector<std::string> argv = {kBinary,
                                     "--local",
                                     "--nouser-config",
                                     "--listen=127.0.0.1:" + std::to_string(port_),
                                     "--siteconfigpath=" + site,
                                     "--pidfile=" + dir_.path() + "/spamd.pid",
                                     "--max-children=2",
                                     "--syslog=" + dir_.path() + "/spamd.log",
                                     "--helper-home-dir=" + dir_.path()};
    if (!child_.Start(argv, dir_.path() + "/spamd.out")) {
      *error = "cannot start spamd";
      return false;
    }
    bool up = SpamWaitUntil(&child_, 60, [this] {
      return SpamTcpExchange(port_, "PING SPAMC/1.5\r\n\r\n").find("PONG") != std::string::npos;
    });
    if (!up) {
      *error =
          "spamd did not answer PING: " + child_.Log() + SpamReadFile(dir_.path() + "/spamd.log");
    }
    return up;
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  SpamTempDir dir_;
  SpamChildProcess child_;
  int port_ = 0;
};

// rspamd (Debian rspamd) on 127.0.0.1 with the stock rules, its state in a private
// directory: one normal worker, no controller, no Redis; DNS sent to a port where nobody
// answers quickly; a five-entry TLD list instead of the public suffix list (compiling that
// takes rspamd some 15 s).
class SpamRspamd {
 public:
  static constexpr const char* kBinary = "/usr/bin/rspamd";
  static bool Available() { return access(kBinary, X_OK) == 0 && access("/etc/rspamd", R_OK) == 0; }

  bool Start(std::string* error) {
    const std::string d = dir_.path();
    for (const char* sub : {"/db", "/run", "/local"}) std::filesystem::create_directories(d + sub);
    SpamWriteFile(d + "/tld.dat", "com\nnet\norg\nvn\ntest\n");
    port_ = SpamFreePort(SOCK_STREAM);
    dns_port_ = SpamFreePort(SOCK_DGRAM);
    SpamWriteFile(d + "/rspamd.conf",
                  ".include \"$CONFDIR/common.conf\"\n"
                  "options {\n"
                  "  pidfile = \"" +
                      d +
                      "/run/rspamd.pid\";\n"
                      "  filters = \"chartable,dkim,regexp,fuzzy_check\";\n"
                      "  url_tld = \"" +
                      d +
                      "/tld.dat\";\n"
                      "  cache_file = \"$DBDIR/symbols.cache\";\n"
                      "  hs_cache_dir = \"$DBDIR/\";\n"
                      "  control_socket = \"$DBDIR/rspamd.sock mode=0600\";\n"
                      "  task_timeout = 8s;\n"
                      "  dns { nameserver = [\"127.0.0.1:" +
                      std::to_string(dns_port_) +
                      "\"]; timeout = 0.1s; retransmits = 1; }\n"
                      "}\n"
                      "logging { type = \"file\"; filename = \"" +
                      d +
                      "/rspamd.log\"; level = \"info\"; }\n"
                      "worker \"normal\" { bind_socket = \"127.0.0.1:" +
                      std::to_string(port_) + "\"; count = 1; task_timeout = 8s; }\n");
    std::vector<std::string> argv = {kBinary,
                                     "--no-fork",
                                     "--config=" + d + "/rspamd.conf",
                                     "--insecure",
                                     "--var=LOCAL_CONFDIR=" + d + "/local",
                                     "--var=DBDIR=" + d + "/db",
                                     "--var=RUNDIR=" + d + "/run",
                                     "--var=LOGDIR=" + d};
    if (geteuid() == 0) {
      argv.push_back("--user=root");
      argv.push_back("--group=root");
    }
    if (!child_.Start(argv, d + "/rspamd.out")) {
      *error = "cannot start rspamd";
      return false;
    }
    bool up = SpamWaitUntil(&child_, 60, [this] {
      return SpamTcpExchange(port_, "GET /ping HTTP/1.0\r\n\r\n").find("pong") != std::string::npos;
    });
    if (!up)
      *error = "rspamd did not answer /ping: " + child_.Log() + SpamReadFile(d + "/rspamd.log");
    return up;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  SpamTempDir dir_;
  SpamChildProcess child_;
  int port_ = 0;
  int dns_port_ = 0;
};

}  // namespace mailwarden::testing

#endif  // MAILWARDEN_TESTS_UNIT_SPAM_TEST_SERVERS_H_
