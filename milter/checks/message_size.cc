#include "milter/checks/message_size.h"

#include "common/units.h"

namespace mailwarden {

MessageSizeCheck::MessageSizeCheck(const RuleSpec& rule)
    : Check(rule), max_size_(static_cast<uint64_t>(rule.param("max_size").number)) {}

Finding MessageSizeCheck::TooBig(uint64_t size, const char* measured) const {
  return MakeFinding("message_size", 552, "5.3.4",
                     "message size " + std::to_string(size) + " bytes exceeds the limit of " +
                         FormatSize(max_size_),
                     {{"size", size}, {"limit", max_size_}, {"measured", measured}});
}

Status MessageSizeCheck::OnMailFrom(const Envelope& envelope, std::vector<Finding>* out) const {
  if (envelope.announced_size && *envelope.announced_size > max_size_) {
    out->push_back(TooBig(*envelope.announced_size, "esmtp_size"));
  }
  return Status::Ok();
}

Status MessageSizeCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  if (message.size() > max_size_) out->push_back(TooBig(message.size(), "message"));
  return Status::Ok();
}

}  // namespace mailwarden
