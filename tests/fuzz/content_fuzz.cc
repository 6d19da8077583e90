// libFuzzer target: the whole content pipeline of the milter on arbitrary messages. Each
// input is read like a message from the MTA (eml_reader: headers unfolded, body in chunks),
// finished (MIME parse, archives, TNEF, encoded attached messages) and judged by the
// shipped attachment rules with small limits, so limit and damage paths are reached, and by
// the forwarding rules, whose traces are read from the header and envelope (the input's
// length picks an inbound or a locally submitted outbound envelope). It must never crash,
// hang or leak, and every message must get a verdict.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"
#include "milter/eml_reader.h"
#include "milter/engine.h"

namespace {

constexpr char kConfig[] = R"(version: 1
rule_files: [rules.yaml]
domains:
  internal: [example.gov.vn]
  public_providers: [gmail.com, yahoo.*]
mime:
  max_depth: 6
  max_parts: 60
  max_kept_part_bytes: 64KiB
  max_kept_total_bytes: 256KiB
archive:
  max_depth: 3
  max_members: 200
  max_total_expanded: 2MiB
  min_expanded_for_ratio: 64KiB
tnef:
  max_files: 20
  max_total_bytes: 256KiB
)";

constexpr char kRules[] = R"(version: 1
rules:
  - {id: attachment-size, check: attachment_size, max_total: 100KiB}
  - {id: executable, check: executable}
  - {id: encrypted-archive, check: encrypted_archive}
  - {id: macro-document, check: macro_document}
  - {id: auto-forward-out, check: auto_forward_out}
  - {id: auto-forward-in, check: auto_forward_in}
)";

std::shared_ptr<const mailwarden::Engine> BuildEngine() {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "mw-content-fuzz";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "mailwarden.yaml") << kConfig;
  std::ofstream(dir / "rules.yaml") << kRules;
  auto config = mailwarden::LoadConfig((dir / "mailwarden.yaml").string());
  if (!config.ok()) std::abort();
  auto engine = mailwarden::Engine::Build(*config);
  if (!engine.ok()) std::abort();
  return *engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<const mailwarden::Engine> engine = BuildEngine();
  mailwarden::Envelope env;
  if (size % 2 == 0) {
    env.mail_from = "a@example.net";
    env.recipients = {"b@example.gov.vn"};
  } else {
    env.smtp = false;
    env.mail_from = "SRS0=h=t=example.net=a@example.gov.vn";
    env.recipients = {"b@example.gov.vn", "c@gmail.com"};
    env.original_recipients = {"", "b@example.gov.vn"};
  }
  std::unique_ptr<mailwarden::Message> message = engine->NewMessage(env);
  mailwarden::ReadMessageText(std::string_view(reinterpret_cast<const char*>(data), size),
                              message.get());
  mailwarden::Verdict v = engine->AtEndOfMessage(*message);
  // Every finding names its rule; a refusal carries a reply.
  for (const auto& f : v.findings) {
    if (f.rule_id.empty()) std::abort();
  }
  if ((v.action == mailwarden::Action::kReject || v.action == mailwarden::Action::kTempfail) &&
      v.ReplyLine().empty()) {
    std::abort();
  }
  // As the decision log writes it: invalid UTF-8 from the sender replaced, never thrown.
  engine->DecisionRecord(*message, v, mailwarden::Stage::kEndOfMessage)
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
