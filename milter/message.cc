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
  if (keep_raw_bytes_ > 0 && !raw_body_started_) {
    KeepRaw(name);
    KeepRaw(": ");
    KeepRaw(value);
    KeepRaw("\n");
  }
  headers_.push_back({std::move(name), std::move(value)});
}

void Message::AppendBody(std::string_view chunk) {
  body_bytes_ += chunk.size();
  if (reader_) reader_->AddBody(chunk);
  if (keep_raw_bytes_ == 0 || raw_truncated_) return;
  if (!raw_body_started_) {
    raw_body_started_ = true;
    KeepRaw("\n");
  }
  // A CR that ended the last chunk waits for a byte to tell whether it starts a CRLF.
  if (chunk.empty()) return;
  // CRLF becomes LF, also when a chunk ends between the two.
  size_t start = 0;
  if (raw_pending_cr_) {
    raw_pending_cr_ = false;
    if (chunk[0] != '\n') KeepRaw("\r");
  }
  for (size_t i = 0; i < chunk.size() && !raw_truncated_; ++i) {
    if (chunk[i] != '\r') continue;
    if (i + 1 == chunk.size()) {
      KeepRaw(chunk.substr(start, i - start));
      raw_pending_cr_ = true;
      return;
    }
    if (chunk[i + 1] == '\n') {
      KeepRaw(chunk.substr(start, i - start));
      start = i + 1;
    }
  }
  KeepRaw(chunk.substr(start));
}

void Message::KeepRaw(std::string_view bytes) {
  if (raw_truncated_) return;
  size_t room = keep_raw_bytes_ - raw_.size();
  if (bytes.size() > room) {
    raw_.append(bytes.substr(0, room));
    raw_truncated_ = true;
    return;
  }
  raw_.append(bytes);
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
