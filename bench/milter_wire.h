// The milter protocol as seen from the MTA side: what mw-milter-bench needs on top of the
// shared wire codec (milter/protocol/wire.h), which this namespace re-exports.
//
// Thread-safety: stateless functions only.

#ifndef MAILWARDEN_BENCH_MILTER_WIRE_H_
#define MAILWARDEN_BENCH_MILTER_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milter/protocol/wire.h"

namespace mailwarden::bench::milter {

using namespace ::mailwarden::milter;  // NOLINT: the codec is this namespace's vocabulary

// Largest reply packet we accept. Postfix allows twice the chunk size (a
// replacement body chunk plus slack); anything bigger is a protocol error.
inline constexpr size_t kMaxReplyPacket = 2 * kMaxChunk;

// A name=value macro definition.
using Macro = std::pair<std::string, std::string>;

// Appends an OPTNEG packet offering `version`, `actions` and `protocol`.
void AppendOptneg(std::string* out, uint32_t version, uint32_t actions, uint32_t protocol);

// Appends a MACRO packet for the command `for_command`. Macro names longer
// than one character are sent in braces ("{daemon_name}"), as Postfix and
// Sendmail do.
void AppendMacros(std::string* out, char for_command, const std::vector<Macro>& macros);

// Appends the data of a CONNECT packet for an IPv4 SMTP client: host name,
// family '4', port (16-bit big-endian), address.
void AppendConnectData(std::string* data, std::string_view client_name, uint16_t client_port,
                       std::string_view client_address);

// Human-readable name of a reply code ("SMFIR_ACCEPT"), or "unknown".
const char* ReplyName(char reply);

}  // namespace mailwarden::bench::milter

#endif  // MAILWARDEN_BENCH_MILTER_WIRE_H_
