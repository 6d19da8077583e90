#include "common/daemon.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mailwarden {
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unix";
}

sigset_t DaemonSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  return set;
}

Status ClaimUnixSocketPath(const SocketSpec& spec) {
  if (spec.kind != SocketSpec::Kind::kUnix) return Status::Ok();
  struct stat st;
  if (lstat(spec.path.c_str(), &st) != 0) return Status::Ok();  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    return Status::IoError(spec.path + " exists and is not a socket; refusing to replace it");
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket: " + Errno());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, spec.path.c_str(), sizeof(addr.sun_path) - 1);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  close(fd);
  if (rc == 0) {
    return Status::IoError("socket " + spec.path +
                           " is in use: another process is listening on it");
  }
  if (unlink(spec.path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("cannot remove stale socket " + spec.path + ": " + Errno());
  }
  return Status::Ok();
}

Result<int> OpenListener(const SocketSpec& spec, int backlog) {
  if (spec.kind == SocketSpec::Kind::kUnix) {
    if (Status s = ClaimUnixSocketPath(spec); !s.ok()) return s;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::IoError("socket: " + Errno());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, spec.path.c_str(), sizeof(addr.sun_path) - 1);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd, backlog) != 0) {
      std::string err = Errno();
      close(fd);
      return Status::IoError("cannot listen on " + spec.ToString() + ": " + err);
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(spec.port);
  if (int rc = getaddrinfo(spec.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::InvalidArgument("cannot resolve " + spec.host + ": " + gai_strerror(rc));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = Errno();
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
    last_error = Errno();
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::IoError("cannot listen on " + spec.ToString() + ": " + last_error);
  return fd;
}

// Descriptors of this process's listening sockets.
std::vector<int> ListeningSockets() {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  std::vector<int> fds;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && fd != dirfd(dir)) fds.push_back(static_cast<int>(fd));
  }
  closedir(dir);
  for (int fd : fds) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) {
      out.push_back(fd);
    }
  }
  return out;
}

Status SetNodelayOnListeners(int port) {
  int found = 0;
  for (int fd : ListeningSockets()) {
    sockaddr_storage addr{};
    socklen_t alen = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound_port = -1;
    if (addr.ss_family == AF_INET) {
      bound_port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      bound_port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    if (bound_port != port) continue;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
      return Status::IoError("setsockopt TCP_NODELAY: " + Errno());
    }
    ++found;
  }
  if (found == 0) return Status::NotFound("no listening socket on port " + std::to_string(port));
  return Status::Ok();
}

Status SetSocketOwnerAndMode(const std::string& path, const std::string& owner, int mode) {
  if (!owner.empty()) {
    std::string user = owner, group;
    if (size_t colon = owner.find(':'); colon != std::string::npos) {
      user = owner.substr(0, colon);
      group = owner.substr(colon + 1);
    }
    passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) return Status::InvalidArgument("socket_owner: unknown user '" + user + "'");
    gid_t gid = pw->pw_gid;
    if (!group.empty()) {
      struct group* gr = getgrnam(group.c_str());
      if (gr == nullptr) {
        return Status::InvalidArgument("socket_owner: unknown group '" + group + "'");
      }
      gid = gr->gr_gid;
    }
    if (chown(path.c_str(), pw->pw_uid, gid) != 0) {
      return Status::IoError("chown " + path + ": " + Errno());
    }
  }
  if (chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return Status::IoError("chmod " + path + ": " + Errno());
  }
  return Status::Ok();
}

Status DropPrivileges(const std::string& user) {
  if (user.empty()) return Status::Ok();
  passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return Status::InvalidArgument("user: unknown user '" + user + "'");
  if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid) return Status::Ok();
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    return Status::IoError("cannot switch to user '" + user + "': " + Errno());
  }
  // Make sure the switch cannot be undone.
  if (setuid(0) == 0 && pw->pw_uid != 0) {
    return Status::Internal("privileges could be regained after switching to '" + user + "'");
  }
  return Status::Ok();
}

void BlockDaemonSignals() {
  sigset_t set = DaemonSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void RunSignalLoop(const std::function<bool(DaemonSignal)>& handler) {
  sigset_t set = DaemonSignalSet();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    DaemonSignal what = sig == SIGHUP    ? DaemonSignal::kReload
                        : sig == SIGUSR1 ? DaemonSignal::kReopenLogs
                                         : DaemonSignal::kStop;
    if (!handler(what)) return;
  }
}

}  // namespace mailwarden
