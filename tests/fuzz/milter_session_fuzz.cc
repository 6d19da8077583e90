// libFuzzer target: the milter protocol session against arbitrary bytes from the MTA, fed
// in arbitrary chunks (the first byte picks the chunk size) the way the server's buffer
// fills. Must never crash, never ask for more than a packet's bound, and must answer with
// well-formed reply packets only.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "milter/protocol/session.h"
#include "milter/protocol/wire.h"

namespace {

using namespace mailwarden;  // NOLINT

// Touches everything it is given and refuses or holds now and then, so every reply path
// runs.
class Handler : public MilterHandler {
 public:
  void OnConnect(const MilterMacros& m, std::string_view h, std::string_view a) override {
    sink_ += h.size() + a.size() + m.Get("client_addr").size();
  }
  void OnHelo(const MilterMacros&, std::string_view h) override { sink_ += h.size(); }
  MilterReply OnMailFrom(const MilterMacros& m, const std::vector<std::string_view>& args) override {
    sink_ += args.at(0).size() + m.Get("auth_authen").size();
    if (args.size() > 2) return MilterReply::Refuse("452 4.3.1 " + std::string(args[1]));
    return MilterReply::Continue();
  }
  MilterReply OnRcpt(const MilterMacros&, const std::vector<std::string_view>& args) override {
    sink_ += args.at(0).size();
    return MilterReply::Continue();
  }
  void OnHeader(const MilterMacros&, std::string_view n, std::string_view v) override {
    sink_ += n.size() + v.size();
  }
  void OnBody(const MilterMacros&, std::string_view c) override { sink_ += c.size(); }
  MilterReply OnEndOfMessage(const MilterMacros& m) override {
    MilterReply r = MilterReply::Accept();
    if (sink_ % 3 == 0) r.add_headers.emplace_back("X-Fuzz", std::string(m.Get("i")));
    if (sink_ % 5 == 0) r.quarantine_reason = "fuzz";
    if (sink_ % 7 == 0) r = MilterReply::Refuse("550 5.7.1 fuzz");
    return r;
  }
  void OnAbort() override {}

 private:
  size_t sink_ = 0;
};

void CheckReplies(std::string_view out) {
  while (!out.empty()) {
    if (out.size() < 5) std::abort();
    uint32_t len = mailwarden::milter::ReadUint32(out);
    if (len == 0 || out.size() - 4 < len) std::abort();
    out.remove_prefix(4 + len);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = 1 + data[0] % 97;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  MilterCapabilities caps;
  caps.required_actions = milter::kActAddHeaders;
  caps.actions = milter::kActAddHeaders | milter::kActQuarantine | milter::kActSetSymList;
  caps.skipped_steps = milter::kProtoNoData;
  caps.unanswered_steps = milter::kProtoNrRcpt | milter::kProtoNrHeader | milter::kProtoNrBody;
  caps.macros[2] = "{auth_authen}";
  MilterSession session(caps, [] { return std::make_unique<Handler>(); }, "fuzz");
  std::string buffer, out;
  while (!input.empty() && !session.closed()) {
    buffer.append(input.substr(0, chunk));
    input.remove_prefix(std::min(chunk, input.size()));
    size_t wanted = 0;
    size_t used = session.Consume(buffer, &out, &wanted);
    if (used > buffer.size() || wanted > kMaxMilterPacket + 4) std::abort();
    buffer.erase(0, used);
    CheckReplies(out);
    out.clear();
  }
  session.Close();
  return 0;
}
