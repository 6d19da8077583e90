// AttachmentSizeCheck (REGULATIONS.md M1): the attachments of one message may total at most
// `max_total` bytes decoded (default 15 MiB).
//
// What counts: every leaf part that is not the message's main text or HTML body (parser.h
// decides which those are), so inline images, attached .txt files, uuencoded files and the
// parts of attached messages all count, at their decoded size. Files inside archives and
// TNEF streams do not count again: the container already counted, and what an archive
// expands to is the archive limits' business (zip bombs), not this rule's.
//
// At MAIL FROM, ESMTP SIZE= is an upper bound on what follows. Attachments travel base64
// encoded (4 bytes per 3, plus a line end every 76 characters), so a message announcing
// more than that encoding of max_total plus `text_allowance` cannot fit unless it carries
// more than text_allowance of text, which office mail does not: it is refused before any
// data is sent. The real decoded sizes decide at end of message. Reply 552 5.3.4.
#ifndef MAILWARDEN_MILTER_CHECKS_ATTACHMENT_SIZE_H_
#define MAILWARDEN_MILTER_CHECKS_ATTACHMENT_SIZE_H_

#include "milter/checks/check.h"

namespace mailwarden {

class AttachmentSizeCheck : public Check {
 public:
  explicit AttachmentSizeCheck(const RuleSpec& rule);
  Status OnMailFrom(const Envelope& envelope, std::vector<Finding>* out) const override;
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

  // Bytes on the wire of `decoded` bytes in base64 with 76-character lines and CRLF.
  static uint64_t Base64WireSize(uint64_t decoded);

 private:
  uint64_t max_total_;
  uint64_t text_allowance_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_ATTACHMENT_SIZE_H_
