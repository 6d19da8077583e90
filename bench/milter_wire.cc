// MTA-side milter packet encoding (see milter_wire.h).

#include "milter_wire.h"

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

namespace mailwarden::bench::milter {

// The shared constants must agree with the libmilter the null milter links against.
static_assert(kFamilyUnknown == SMFIA_UNKNOWN && kFamilyUnix == SMFIA_UNIX &&
              kFamilyInet6 == SMFIA_INET6 && kCmdUnknown == SMFIC_UNKNOWN);
static_assert(static_cast<uint32_t>(MacroStage::kConnect) == SMFIM_CONNECT &&
              static_cast<uint32_t>(MacroStage::kHelo) == SMFIM_HELO &&
              static_cast<uint32_t>(MacroStage::kMail) == SMFIM_ENVFROM &&
              static_cast<uint32_t>(MacroStage::kRcpt) == SMFIM_ENVRCPT &&
              static_cast<uint32_t>(MacroStage::kData) == SMFIM_DATA &&
              static_cast<uint32_t>(MacroStage::kEndOfMessage) == SMFIM_EOM &&
              static_cast<uint32_t>(MacroStage::kEndOfHeaders) == SMFIM_EOH);
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
