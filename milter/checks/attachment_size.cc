#include "milter/checks/attachment_size.h"

#include <algorithm>

#include "common/units.h"

namespace mailwarden {
namespace {

// Parts named in the log when the limit is exceeded: enough to see what made it big.
constexpr size_t kLargestPartsLogged = 5;

}  // namespace

AttachmentSizeCheck::AttachmentSizeCheck(const RuleSpec& rule)
    : Check(rule),
      max_total_(static_cast<uint64_t>(rule.param("max_total").number)),
      text_allowance_(static_cast<uint64_t>(rule.param("text_allowance").number)) {}

uint64_t AttachmentSizeCheck::Base64WireSize(uint64_t decoded) {
  // 57 bytes make one full 76-character line plus CRLF; the rest a shorter last line.
  uint64_t rest = decoded % 57;
  return decoded / 57 * 78 + (rest == 0 ? 0 : (rest + 2) / 3 * 4 + 2);
}

Status AttachmentSizeCheck::OnMailFrom(const Envelope& envelope, std::vector<Finding>* out) const {
  if (!envelope.announced_size) return Status::Ok();
  uint64_t bound = Base64WireSize(max_total_) + text_allowance_;
  if (*envelope.announced_size <= bound) return Status::Ok();
  out->push_back(MakeFinding(
      "attachment_size", 552, "5.3.4",
      "message of " + std::to_string(*envelope.announced_size) +
          " bytes is too large for the attachment limit of " + FormatSize(max_total_),
      {{"announced_size", *envelope.announced_size},
       {"limit", max_total_},
       {"bound", bound},
       {"measured", "esmtp_size"}}));
  return Status::Ok();
}

Status AttachmentSizeCheck::Inspect(const Message& message, std::vector<Finding>* out) const {
  uint64_t total = 0;
  std::vector<const mime::MimePart*> counted;
  for (const ContentPart& cp : message.content().parts) {
    if (!cp.container.empty() || cp.part.is_main_body) continue;
    total += cp.part.size;
    counted.push_back(&cp.part);
  }
  if (total <= max_total_) return Status::Ok();
  std::sort(counted.begin(), counted.end(),
            [](const mime::MimePart* a, const mime::MimePart* b) { return a->size > b->size; });
  nlohmann::json largest = nlohmann::json::array();
  for (size_t i = 0; i < counted.size() && i < kLargestPartsLogged; ++i) {
    largest.push_back(
        {{"part", counted[i]->path}, {"name", counted[i]->file_name}, {"size", counted[i]->size}});
  }
  out->push_back(MakeFinding("attachment_size", 552, "5.3.4",
                             "attachments total " + std::to_string(total) + " bytes decoded, over the limit of " +
                                 FormatSize(max_total_),
                             {{"total", total},
                              {"limit", max_total_},
                              {"attachments", counted.size()},
                              {"largest", std::move(largest)},
                              {"measured", "decoded"}}));
  return Status::Ok();
}

}  // namespace mailwarden
