// MessageSizeCheck: refuses a message larger than `max_size` (rule parameter).
//
// Refuses at MAIL FROM when the ESMTP SIZE= the client announced already exceeds the limit,
// so no bandwidth is spent on the body, and again at end of message on the real size, since
// SIZE= is optional and may lie. Reply 552 5.3.4 (RFC 3463: message too big for policy).
#ifndef MAILWARDEN_MILTER_CHECKS_MESSAGE_SIZE_H_
#define MAILWARDEN_MILTER_CHECKS_MESSAGE_SIZE_H_

#include "milter/checks/check.h"

namespace mailwarden {

class MessageSizeCheck : public Check {
 public:
  explicit MessageSizeCheck(const RuleSpec& rule);
  Status OnMailFrom(const Envelope& envelope, std::vector<Finding>* out) const override;
  Status Inspect(const Message& message, std::vector<Finding>* out) const override;

 private:
  Finding TooBig(uint64_t size, const char* measured) const;
  uint64_t max_size_;
};

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_MESSAGE_SIZE_H_
