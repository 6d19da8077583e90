// The Sendmail milter protocol, version 6, on the wire: command and reply codes,
// negotiation bits, and packet encoding. Shared by mailwarden-milter's protocol server and
// the benchmark's MTA-side client.
//
// Wire format (both directions): a packet is a 4-byte big-endian length N, then N bytes of
// which the first is the command (MTA -> milter, kCmd*) or reply (milter -> MTA, kRep*)
// code and the rest is its data. Strings in the data are NUL-terminated; integers are
// 32-bit big-endian, the CONNECT port is 16-bit big-endian.
//
// The values are protocol facts (libmilter's mfdef.h and mfapi.h spell them SMFIC_*,
// SMFIR_*, SMFIF_*, SMFIP_*, SMFIM_*); nothing here includes libmilter. The benchmark
// tools, which link libmilter for their null milter, static_assert every value against
// the installed headers.
//
// Thread-safety: constants and stateless functions only.
#ifndef MAILWARDEN_MILTER_PROTOCOL_WIRE_H_
#define MAILWARDEN_MILTER_PROTOCOL_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailwarden::milter {

inline constexpr uint32_t kProtocolVersion = 6;
// Oldest MTA protocol version we talk to (Sendmail 8.13 spoke 2 to 4; no NR_* steps).
inline constexpr uint32_t kOldestProtocolVersion = 2;

// Largest body chunk an MTA sends unless both sides negotiated bigger ones (we never do).
inline constexpr size_t kMaxChunk = 65535;

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
inline constexpr char kCmdUnknown = 'U';

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
inline constexpr char kFamilyUnknown = 'U';
inline constexpr char kFamilyUnix = 'L';
inline constexpr char kFamilyInet = '4';
inline constexpr char kFamilyInet6 = '6';

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

// Protocol bits (SMFIP_*). No* = "MTA, do not send this step"; Nr* = "the milter will not
// reply to this step".
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
// Every protocol bit defined for version 6. The 256K/1M body chunk bits are not part of
// it: body chunks stay at kMaxChunk.
inline constexpr uint32_t kAllProtocol = 0x001FFFFF;

// The stages a milter may ask macros for in its OPTNEG reply (SMFIM_*), in wire order.
enum class MacroStage : uint32_t {
  kConnect = 0,
  kHelo = 1,
  kMail = 2,
  kRcpt = 3,
  kData = 4,
  kEndOfMessage = 5,
  kEndOfHeaders = 6,
};
inline constexpr size_t kMacroStages = 7;

// Appends one packet (length, command, data) to *out.
void AppendPacket(std::string* out, char command, std::string_view data);

// Appends a NUL-terminated string to a packet data buffer.
void AppendCString(std::string* data, std::string_view text);

// Appends a 32-bit big-endian integer to a packet data buffer.
void AppendUint32(std::string* data, uint32_t value);

// Reads a 32-bit big-endian integer from the first 4 bytes of `data` (at least 4 long).
uint32_t ReadUint32(std::string_view data);

// Splits packet data into its NUL-terminated strings. Returns false if the data does not
// end in NUL (every string must be terminated); empty data gives no strings and false.
bool SplitCStrings(std::string_view data, std::vector<std::string_view>* out);

// True if `text` is a reply an MTA accepts in SMFIR_REPLYCODE: three digits starting with
// 4 or 5, then ' ' or '-', and (when an enhanced status code follows) a class digit that
// matches the first digit.
bool IsValidReplyCode(std::string_view text);

}  // namespace mailwarden::milter

#endif  // MAILWARDEN_MILTER_PROTOCOL_WIRE_H_
