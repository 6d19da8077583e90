// Milter packet encoding (see milter_wire.h).

#include "milter_wire.h"

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

namespace mailwarden::bench::milter {

// Our constants must agree with the libmilter the milters link against.
static_assert(kProtocolVersion == SMFI_PROT_VERSION);
static_assert(kMaxChunk == MILTER_CHUNK_SIZE);
static_assert(kCmdAbort == SMFIC_ABORT && kCmdBody == SMFIC_BODY && kCmdConnect == SMFIC_CONNECT &&
              kCmdMacro == SMFIC_MACRO && kCmdBodyEob == SMFIC_BODYEOB && kCmdHelo == SMFIC_HELO &&
              kCmdQuitNc == SMFIC_QUIT_NC && kCmdHeader == SMFIC_HEADER && kCmdMail == SMFIC_MAIL &&
              kCmdEoh == SMFIC_EOH && kCmdOptneg == SMFIC_OPTNEG && kCmdQuit == SMFIC_QUIT &&
              kCmdRcpt == SMFIC_RCPT && kCmdData == SMFIC_DATA);
static_assert(kRepAddRcpt == SMFIR_ADDRCPT && kRepDelRcpt == SMFIR_DELRCPT &&
              kRepAddRcptPar == SMFIR_ADDRCPT_PAR && kRepShutdown == SMFIR_SHUTDOWN &&
              kRepAccept == SMFIR_ACCEPT && kRepReplBody == SMFIR_REPLBODY &&
              kRepContinue == SMFIR_CONTINUE && kRepDiscard == SMFIR_DISCARD &&
              kRepChgFrom == SMFIR_CHGFROM && kRepConnFail == SMFIR_CONN_FAIL &&
              kRepAddHeader == SMFIR_ADDHEADER && kRepInsHeader == SMFIR_INSHEADER &&
              kRepSetSymList == SMFIR_SETSYMLIST && kRepChgHeader == SMFIR_CHGHEADER &&
              kRepProgress == SMFIR_PROGRESS && kRepQuarantine == SMFIR_QUARANTINE &&
              kRepReject == SMFIR_REJECT && kRepSkip == SMFIR_SKIP &&
              kRepTempfail == SMFIR_TEMPFAIL && kRepReplyCode == SMFIR_REPLYCODE);
static_assert(kFamilyInet == SMFIA_INET);
static_assert(kActAddHeaders == SMFIF_ADDHDRS && kActChangeBody == SMFIF_CHGBODY &&
              kActAddRcpt == SMFIF_ADDRCPT && kActDelRcpt == SMFIF_DELRCPT &&
              kActChangeHeaders == SMFIF_CHGHDRS && kActQuarantine == SMFIF_QUARANTINE &&
              kActChangeFrom == SMFIF_CHGFROM && kActAddRcptPar == SMFIF_ADDRCPT_PAR &&
              kActSetSymList == SMFIF_SETSYMLIST && kAllActions == SMFI_CURR_ACTS);
static_assert(kProtoNoConnect == SMFIP_NOCONNECT && kProtoNoHelo == SMFIP_NOHELO &&
              kProtoNoMail == SMFIP_NOMAIL && kProtoNoRcpt == SMFIP_NORCPT &&
              kProtoNoBody == SMFIP_NOBODY && kProtoNoHeaders == SMFIP_NOHDRS &&
              kProtoNoEoh == SMFIP_NOEOH && kProtoNrHeader == SMFIP_NR_HDR &&
              kProtoNoUnknown == SMFIP_NOUNKNOWN && kProtoNoData == SMFIP_NODATA &&
              kProtoSkip == SMFIP_SKIP && kProtoRcptRej == SMFIP_RCPT_REJ &&
              kProtoNrConnect == SMFIP_NR_CONN && kProtoNrHelo == SMFIP_NR_HELO &&
              kProtoNrMail == SMFIP_NR_MAIL && kProtoNrRcpt == SMFIP_NR_RCPT &&
              kProtoNrData == SMFIP_NR_DATA && kProtoNrUnknown == SMFIP_NR_UNKN &&
              kProtoNrEoh == SMFIP_NR_EOH && kProtoNrBody == SMFIP_NR_BODY &&
              kProtoHeaderLeadingSpace == SMFIP_HDR_LEADSPC && kAllProtocol == SMFI_CURR_PROT);

void AppendUint32(std::string* data, uint32_t value) {
  data->push_back(static_cast<char>((value >> 24) & 0xFF));
  data->push_back(static_cast<char>((value >> 16) & 0xFF));
  data->push_back(static_cast<char>((value >> 8) & 0xFF));
  data->push_back(static_cast<char>(value & 0xFF));
}

uint32_t ReadUint32(std::string_view data) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  return (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
}

void AppendCString(std::string* data, std::string_view text) {
  data->append(text);
  data->push_back('\0');
}

void AppendPacket(std::string* out, char command, std::string_view data) {
  AppendUint32(out, static_cast<uint32_t>(data.size() + 1));
  out->push_back(command);
  out->append(data);
}

void AppendOptneg(std::string* out, uint32_t version, uint32_t actions, uint32_t protocol) {
  std::string data;
  AppendUint32(&data, version);
  AppendUint32(&data, actions);
  AppendUint32(&data, protocol);
  AppendPacket(out, kCmdOptneg, data);
}

void AppendMacros(std::string* out, char for_command, const std::vector<Macro>& macros) {
  std::string data(1, for_command);
  for (const auto& [name, value] : macros) {
    if (name.size() > 1) {
      AppendCString(&data, "{" + name + "}");
    } else {
      AppendCString(&data, name);
    }
    AppendCString(&data, value);
  }
  AppendPacket(out, kCmdMacro, data);
}

void AppendConnectData(std::string* data, std::string_view client_name, uint16_t client_port,
                       std::string_view client_address) {
  AppendCString(data, client_name);
  data->push_back(kFamilyInet);
  data->push_back(static_cast<char>((client_port >> 8) & 0xFF));
  data->push_back(static_cast<char>(client_port & 0xFF));
  AppendCString(data, client_address);
}

bool SplitCStrings(std::string_view data, std::vector<std::string_view>* out) {
  out->clear();
  if (data.empty() || data.back() != '\0') return false;
  size_t start = 0;
  while (start < data.size()) {
    size_t nul = data.find('\0', start);
    out->push_back(data.substr(start, nul - start));
    start = nul + 1;
  }
  return true;
}

bool IsValidReplyCode(std::string_view text) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.size() < 4) return false;
  if (text[0] != '4' && text[0] != '5') return false;
  if (!digit(text[1]) || !digit(text[2])) return false;
  if (text[3] != ' ' && text[3] != '-') return false;
  // An enhanced status code, if present, must be of the same class.
  if (text.size() >= 6 && digit(text[4]) && text[5] == '.' && text[4] != text[0]) {
    return false;
  }
  return true;
}

const char* ReplyName(char reply) {
  switch (reply) {
    case kRepAddRcpt:
      return "SMFIR_ADDRCPT";
    case kRepDelRcpt:
      return "SMFIR_DELRCPT";
    case kRepAddRcptPar:
      return "SMFIR_ADDRCPT_PAR";
    case kRepShutdown:
      return "SMFIR_SHUTDOWN";
    case kRepAccept:
      return "SMFIR_ACCEPT";
    case kRepReplBody:
      return "SMFIR_REPLBODY";
    case kRepContinue:
      return "SMFIR_CONTINUE";
    case kRepDiscard:
      return "SMFIR_DISCARD";
    case kRepChgFrom:
      return "SMFIR_CHGFROM";
    case kRepConnFail:
      return "SMFIR_CONN_FAIL";
    case kRepAddHeader:
      return "SMFIR_ADDHEADER";
    case kRepInsHeader:
      return "SMFIR_INSHEADER";
    case kRepSetSymList:
      return "SMFIR_SETSYMLIST";
    case kRepChgHeader:
      return "SMFIR_CHGHEADER";
    case kRepProgress:
      return "SMFIR_PROGRESS";
    case kRepQuarantine:
      return "SMFIR_QUARANTINE";
    case kRepReject:
      return "SMFIR_REJECT";
    case kRepSkip:
      return "SMFIR_SKIP";
    case kRepTempfail:
      return "SMFIR_TEMPFAIL";
    case kRepReplyCode:
      return "SMFIR_REPLYCODE";
    case kCmdOptneg:
      return "SMFIC_OPTNEG";
    default:
      return "unknown";
  }
}

}  // namespace mailwarden::bench::milter
