// Between the milter protocol server (milter/protocol/) and the Engine: turns the MTA's
// steps into an Envelope and a Message, asks the Engine at MAIL FROM and at end of
// message, and turns the Verdict into the reply (SMTP reply code, added headers, hold).
// Per-connection state lives in one handler per MTA connection and is freed when the
// connection ends, also in the middle of a message.
#ifndef MAILWARDEN_MILTER_MILTER_GLUE_H_
#define MAILWARDEN_MILTER_MILTER_GLUE_H_

#include <functional>
#include <memory>

#include "common/decision_log.h"
#include "common/socket_spec.h"
#include "common/status.h"
#include "milter/engine.h"

namespace mailwarden {

// What the handlers need from the daemon; all members are thread-safe.
struct MilterServices {
  // The engine in force; a message keeps the one it started with.
  std::function<std::shared_ptr<const Engine>()> engine;
  // The decision log in force.
  std::function<std::shared_ptr<DecisionLog>()> decision_log;
};

struct MilterListenOptions {
  int timeout_seconds = 300;   // milter.connection_timeout
  int max_connections = 1024;  // milter.max_connections
};

// Opens the listening socket and, when `egress_spec` is not null, the egress listener's
// (before privileges are dropped), and prepares the servers. kIoError when a socket cannot
// be opened or is in use.
Status MilterOpen(const SocketSpec& spec, const SocketSpec* egress_spec,
                  const MilterListenOptions& options, MilterServices services);
// Serves MTA connections; blocks for as long as the process runs.
Status MilterRun();
// Starts the shutdown: new messages are tempfailed at MAIL FROM (421 4.3.2, the MTA
// retries), messages already past MAIL FROM go on to their verdict, open connections stay
// served.
void MilterDrain();
// Messages between MAIL FROM and end of message (or abort) right now.
int MilterMessagesInFlight();

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MILTER_GLUE_H_
