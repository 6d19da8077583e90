// Sendmail milter protocol, version 6, as seen from the MTA side: command
// and reply codes, negotiation bits, and packet encoding.
//
// Wire format (both directions): a packet is a 4-byte big-endian length N,
// then N bytes of which the first is the command (MTA->milter, SMFIC_*) or
// reply (milter->MTA, SMFIR_*) code and the rest is its data. Strings in the
// data are NUL-terminated; integers are 32-bit big-endian, the CONNECT port
// is 16-bit big-endian.
//
// The values are protocol facts from libmilter's mfdef.h/mfapi.h;
// milter_wire.cc static_asserts them against the installed headers so a
// mismatch cannot build. This header itself does not include libmilter, so code
// that only speaks the protocol does not depend on libmilter's macros.
//
// Thread-safety: stateless functions only.

#ifndef MAILWARDEN_BENCH_MILTER_WIRE_H_
#define MAILWARDEN_BENCH_MILTER_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailwarden::bench::milter {

inline constexpr uint32_t kProtocolVersion = 6;

// Largest data part libmilter accepts in one packet by default
// (MILTER_MAX_DATA_SIZE); body chunks must not exceed it.
inline constexpr size_t kMaxChunk = 65535;

// Largest reply packet we accept. Postfix allows twice the chunk size (a
// replacement body chunk plus slack); anything bigger is a protocol error.
inline constexpr size_t kMaxReplyPacket = 2 * kMaxChunk;

// Commands, MTA to milter.
inline constexpr char kCmdAbort = 'A';
inline constexpr char kCmdBody = 'B';
inline constexpr char kCmdConnect = 'C';
inline constexpr char kCmdMacro = 'D';
inline constexpr char kCmdBodyEob = 'E';
inline constexpr char kCmdHelo = 'H';
inline constexpr char kCmdQuitNc = 'K';
inline constexpr char kCmdHeader = 'L';
inline constexpr char kCmdMail = 'M';
inline constexpr char kCmdEoh = 'N';
inline constexpr char kCmdOptneg = 'O';
inline constexpr char kCmdQuit = 'Q';
inline constexpr char kCmdRcpt = 'R';
inline constexpr char kCmdData = 'T';

// Replies, milter to MTA.
inline constexpr char kRepAddRcpt = '+';
inline constexpr char kRepDelRcpt = '-';
inline constexpr char kRepAddRcptPar = '2';
inline constexpr char kRepShutdown = '4';
inline constexpr char kRepAccept = 'a';
inline constexpr char kRepReplBody = 'b';
inline constexpr char kRepContinue = 'c';
inline constexpr char kRepDiscard = 'd';
inline constexpr char kRepChgFrom = 'e';
inline constexpr char kRepConnFail = 'f';
inline constexpr char kRepAddHeader = 'h';
inline constexpr char kRepInsHeader = 'i';
inline constexpr char kRepSetSymList = 'l';
inline constexpr char kRepChgHeader = 'm';
inline constexpr char kRepProgress = 'p';
inline constexpr char kRepQuarantine = 'q';
inline constexpr char kRepReject = 'r';
inline constexpr char kRepSkip = 's';
inline constexpr char kRepTempfail = 't';
inline constexpr char kRepReplyCode = 'y';

// Address family byte in CONNECT.
inline constexpr char kFamilyInet = '4';

// Actions the milter may take at end of message (SMFIF_*).
inline constexpr uint32_t kActAddHeaders = 0x001;
inline constexpr uint32_t kActChangeBody = 0x002;
inline constexpr uint32_t kActAddRcpt = 0x004;
inline constexpr uint32_t kActDelRcpt = 0x008;
inline constexpr uint32_t kActChangeHeaders = 0x010;
inline constexpr uint32_t kActQuarantine = 0x020;
inline constexpr uint32_t kActChangeFrom = 0x040;
inline constexpr uint32_t kActAddRcptPar = 0x080;
inline constexpr uint32_t kActSetSymList = 0x100;
inline constexpr uint32_t kAllActions = 0x1FF;

// Protocol bits (SMFIP_*). NO* = "MTA, don't send this step";
// NR_* = "the milter will not reply to this step".
inline constexpr uint32_t kProtoNoConnect = 0x00000001;
inline constexpr uint32_t kProtoNoHelo = 0x00000002;
inline constexpr uint32_t kProtoNoMail = 0x00000004;
inline constexpr uint32_t kProtoNoRcpt = 0x00000008;
inline constexpr uint32_t kProtoNoBody = 0x00000010;
inline constexpr uint32_t kProtoNoHeaders = 0x00000020;
inline constexpr uint32_t kProtoNoEoh = 0x00000040;
inline constexpr uint32_t kProtoNrHeader = 0x00000080;
inline constexpr uint32_t kProtoNoUnknown = 0x00000100;
inline constexpr uint32_t kProtoNoData = 0x00000200;
inline constexpr uint32_t kProtoSkip = 0x00000400;
inline constexpr uint32_t kProtoRcptRej = 0x00000800;
inline constexpr uint32_t kProtoNrConnect = 0x00001000;
inline constexpr uint32_t kProtoNrHelo = 0x00002000;
inline constexpr uint32_t kProtoNrMail = 0x00004000;
inline constexpr uint32_t kProtoNrRcpt = 0x00008000;
inline constexpr uint32_t kProtoNrData = 0x00010000;
inline constexpr uint32_t kProtoNrUnknown = 0x00020000;
inline constexpr uint32_t kProtoNrEoh = 0x00040000;
inline constexpr uint32_t kProtoNrBody = 0x00080000;
inline constexpr uint32_t kProtoHeaderLeadingSpace = 0x00100000;
// Every protocol bit defined for version 6 (SMFI_CURR_PROT). The 256K/1M
// max-data-size bits are deliberately not part of it: we always send body
// chunks of at most kMaxChunk.
inline constexpr uint32_t kAllProtocol = 0x001FFFFF;

// A name=value macro definition.
using Macro = std::pair<std::string, std::string>;

// Appends one packet (length, command, data) to *out.
void AppendPacket(std::string* out, char command, std::string_view data);

// Appends a NUL-terminated string to a packet data buffer.
void AppendCString(std::string* data, std::string_view text);

// Appends a 32-bit big-endian integer to a packet data buffer.
void AppendUint32(std::string* data, uint32_t value);

// Reads a 32-bit big-endian integer from the first 4 bytes of `data`.
uint32_t ReadUint32(std::string_view data);

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

// Splits packet data into its NUL-terminated strings. Returns false if the
// data does not end in NUL (every string must be terminated).
bool SplitCStrings(std::string_view data, std::vector<std::string_view>* out);

// Returns true if `text` is a well-formed SMFIR_REPLYCODE text: three digits
// starting with 4 or 5, then ' ' or '-', and (when an enhanced status code
// follows) a class digit that matches the first digit. Postfix rejects
// anything else.
bool IsValidReplyCode(std::string_view text);

// Human-readable name of a reply code ("SMFIR_ACCEPT"), or "unknown".
const char* ReplyName(char reply);

}  // namespace mailwarden::bench::milter

#endif  // MAILWARDEN_BENCH_MILTER_WIRE_H_
