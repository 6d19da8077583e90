// Name lookups that end at a deadline, for the milter's network clients (the spam check's
// DNS blocklists and external scorers, the clamd client). The system's
// getaddrinfo() cannot be interrupted: with a resolver that does not answer it blocks for
// resolv.conf's timeout times its attempts (15 s by default) whatever the caller's time
// budget. Everything here runs on c-ares instead, driven by poll() until a deadline, after
// which what is still pending is cancelled.
//
// Thread-safety: every function may run on many threads at once; a channel handed to
// RunAresUntil() must not be used by another thread meanwhile.
#ifndef MAILWARDEN_MILTER_NET_RESOLVE_H_
#define MAILWARDEN_MILTER_NET_RESOLVE_H_

#include <ares.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mailwarden::net {

// ares_library_init(), once per process. kInternal when it failed (then it stays failed).
Status InitAres();

// Processes `channel`'s queries until `*pending` drops to 0 (the callbacks decrement it) or
// `deadline` passes; then cancels what is left, whose callbacks run before this returns
// (with ARES_ECANCELLED). Non-OK only when poll() fails; answers missing at the deadline
// are the callbacks' business, not an error here.
Status RunAresUntil(ares_channel channel, std::chrono::steady_clock::time_point deadline,
                    const int* pending);

// One address of a host, ready for connect().
struct ResolvedAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

// The addresses of `host` with `port` filled in, in the resolver's order: a numeric IPv4 or
// IPv6 address is taken as it is (no lookup); a name is looked up as the system would
// (/etc/hosts first, then DNS with resolv.conf's servers and search domains), or only at
// `servers` ("127.0.0.1:5353,[::1]:53", c-ares's CSV spelling) when not empty. Errors:
// kTimeout (no answer before `deadline`), kUnavailable (the name does not exist, has no
// address, or the servers failed), kInvalidArgument (empty host, bad `servers`),
// kInternal (c-ares could not start). Messages name the host.
Result<std::vector<ResolvedAddress>> ResolveHost(std::string_view host, int port,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 std::string_view servers = "");

}  // namespace mailwarden::net

#endif  // MAILWARDEN_MILTER_NET_RESOLVE_H_
