// The libmilter side of mailwarden-milter: the only file that includes libmilter.
//
// Turns the MTA's callbacks into an Envelope and a Message, asks the Engine at MAIL FROM
// and at end of message, and applies the Verdict (smfi_setreply, smfi_quarantine,
// smfi_addheader). Per-connection state lives in the libmilter private pointer and is
// freed at close, also when the client disconnects in the middle of a message.
#ifndef MAILWARDEN_MILTER_MILTER_GLUE_H_
#define MAILWARDEN_MILTER_MILTER_GLUE_H_

#include <functional>
#include <memory>

#include "common/decision_log.h"
#include "common/socket_spec.h"
#include "common/status.h"
#include "milter/engine.h"

namespace mailwarden {

// What the callbacks need from the daemon; all members are thread-safe.
struct MilterServices {
  // The engine in force; a message keeps the one it started with.
  std::function<std::shared_ptr<const Engine>()> engine;
  // The decision log in force.
  std::function<std::shared_ptr<DecisionLog>()> decision_log;
};

// Registers the filter with libmilter and opens the listening socket (so that privileges
// can be dropped afterwards). kIoError when the socket cannot be opened or is in use.
Status MilterOpen(const SocketSpec& spec, int timeout_seconds, MilterServices services);
// Runs libmilter's accept loop; blocks for as long as the process runs.
Status MilterRun();
// Starts the shutdown: new connections and new messages are tempfailed (421 4.3.2, the MTA
// retries), messages already past MAIL FROM go on to their verdict. libmilter's own stop is
// not used: it also stops serving the sessions already open.
void MilterDrain();
// Messages between MAIL FROM and end of message (or abort) right now.
int MilterMessagesInFlight();

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MILTER_GLUE_H_
