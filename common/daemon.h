// What both daemons do around their real work: sockets, privileges, signals.
//
// All functions report failures as Status values with the OS error spelled out; none
// exits the process. Call them from the main thread during start-up unless noted.
#ifndef MAILWARDEN_COMMON_DAEMON_H_
#define MAILWARDEN_COMMON_DAEMON_H_

#include <signal.h>
#include <sys/socket.h>

#include <functional>
#include <string>

#include "common/socket_spec.h"
#include "common/status.h"

namespace mailwarden {

// kIoError when `spec` is a unix socket some process is listening on (so starting a second
// daemon never steals the first one's socket); removes a stale socket file nobody listens on.
Status ClaimUnixSocketPath(const SocketSpec& spec);

// Creates, binds and listens on `spec`, non-blocking and close-on-exec. TCP listeners get
// TCP_NODELAY, which Linux copies to every accepted socket, so small replies are never held
// back waiting for the peer's delayed ACK. Returns the listening descriptor.
Result<int> OpenListener(const SocketSpec& spec, int backlog);

// Sets TCP_NODELAY on every listening TCP socket of this process bound to `port`, for
// listeners created by a library that does not expose its descriptor (libmilter). Why:
// libmilter writes a header change and the final verdict with separate write(2)s; with
// Nagle on, the verdict waits until the MTA ACKs the first write, and the MTA delays that
// ACK (40 ms on Linux) while it waits for the verdict. Linux copies TCP_NODELAY from the
// listening socket to every socket it accepts, so setting it once here fixes every
// connection; call it after the socket is opened and before connections are accepted.
// kNotFound when there is none.
Status SetNodelayOnListeners(int port);

// A connected peer for log lines: "192.0.2.1:2345", "[2001:db8::1]:2345" or "unix".
std::string PeerName(const sockaddr_storage& addr);

// Applies "user[:group]" ownership and `mode` to a unix socket file. Empty owner: mode only.
Status SetSocketOwnerAndMode(const std::string& path, const std::string& owner, int mode);

// Switches to `user` (its primary group and supplementary groups) for good. Empty: no-op.
// kInvalidArgument for an unknown user; kIoError when the switch fails (not root, ...).
Status DropPrivileges(const std::string& user);

// Signals that the daemons handle themselves.
enum class DaemonSignal { kReload, kReopenLogs, kStop };

// SIGHUP, SIGTERM, SIGINT and SIGUSR1: the signals both daemons handle themselves.
sigset_t DaemonSignalSet();

// Blocks SIGHUP, SIGTERM, SIGINT and SIGUSR1 in the calling thread (and every thread it
// creates afterwards) and ignores SIGPIPE. Call first thing in main().
void BlockDaemonSignals();

// Waits in the calling thread for the signals blocked above and calls `handler` for each
// until it returns false. On Linux the main thread gets first claim on a process-directed
// signal it waits for, so run this in the main thread when a library may wait for the same
// signals in a thread of its own. `handler` should return quickly.
void RunSignalLoop(const std::function<bool(DaemonSignal)>& handler);

}  // namespace mailwarden

#endif  // MAILWARDEN_COMMON_DAEMON_H_
