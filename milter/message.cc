#include "milter/message.h"

#include <strings.h>

namespace mailwarden {

void Message::AddHeader(std::string name, std::string value) {
  // On the wire: "Name: value\r\n". MTAs hand milters folded values with bare "\n"
  // between the lines, each of which was "\r\n" on the wire.
  uint64_t bare_newlines = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) ++bare_newlines;
  }
  header_bytes_ += name.size() + 2 + value.size() + bare_newlines + 2;
  if (reader_) reader_->AddHeader(name, value);
  headers_.push_back({std::move(name), std::move(value)});
}

void Message::AppendBody(std::string_view chunk) {
  body_bytes_ += chunk.size();
  if (reader_) reader_->AddBody(chunk);
}

void Message::FinishContent() {
  if (!reader_) return;
  content_ = reader_->Finish();
  reader_.reset();
}

const HeaderField* Message::FindHeader(std::string_view name) const {
  for (const auto& h : headers_) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return &h;
    }
  }
  return nullptr;
}

ScopeInput ScopeOf(const Envelope& envelope) {
  ScopeInput in;
  in.sender = envelope.mail_from;
  in.recipients = envelope.recipients;
  in.authenticated = !envelope.auth_user.empty();
  in.client_address = envelope.client_addr;
  return in;
}

}  // namespace mailwarden
