// libFuzzer target: the text extractors (OOXML/ODF, RTF, HTML, PDF) against arbitrary
// bytes; the first byte picks the extractor. They must never crash, leak or run away, and
// what they return must keep its promises: valid UTF-8 within the text limit, a named limit
// when truncated, a stated problem when damaged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "milter/mime/vietnamese_text.h"
#include "milter/text/html_text.h"
#include "milter/text/office_text.h"
#include "milter/text/pdf_text.h"
#include "milter/text/rtf_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace mailwarden::text;
  TextLimits limits;
  limits.max_text_bytes = 64 << 10;
  limits.max_document_xml_bytes = 1 << 20;
  limits.pdf_max_pages = 5;
  limits.pdf_max_time_ms = 1000;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  ExtractedText t;
  switch (data[0] % 4) {
    case 0:
      t = ExtractOfficeText(input, limits);
      break;
    case 1:
      t = ExtractRtfText(input, limits);
      break;
    case 2:
      t = HtmlToText(input, limits);
      break;
    default:
      t = ExtractPdfText(input, limits);
      break;
  }
  // NFC may compose or (rarely) expand a little after the cut: allow a margin.
  if (t.text.size() > limits.max_text_bytes + 64) std::abort();
  if (!mailwarden::mime::IsValidUtf8(t.text)) std::abort();
  if (t.truncated && t.limit.empty()) std::abort();
  if (t.damaged && t.problem.empty()) std::abort();
  return 0;
}
