// Vietnamese classification markings (REGULATIONS.md M7): finds the stamps "MẬT",
// "TỐI MẬT", "TUYỆT MẬT" and the field "Độ mật: <degree>" in text. A marking is a stamp,
// not a word in prose. The exact semantics, on text in Unicode NFC:
//
//   Lines are split at LF, CR, CRLF, U+2028 and U+2029; a table cell or text box extracted
//   from a document is expected on its own line. "Frame" characters are whitespace,
//   controls, and Unicode punctuation and symbols (box drawing, stars, brackets, dashes...).
//
//   kStandaloneLine: a line that, once its frame characters are taken as separators,
//     holds exactly the words of a degree, in UPPER CASE: "MẬT", "TỐI MẬT", "TUYỆT MẬT"
//     ("*** TỐI MẬT ***", "│ MẬT │", "-MẬT-"). Spaced-out letters count when every word is
//     one letter: "M Ậ T", "T Ố I  M Ậ T". Any other letter or digit on the line (the law's
//     title "LUẬT BẢO VỆ BÍ MẬT NHÀ NƯỚC", "MẬT 2", "Mật" at a sentence start, lower-case
//     "mật") means the line is not a marking.
//   kSubjectTag (subject only): a bracketed tag — [..], (..), {..}, （..）, ［..］, 【..】 —
//     whose content is a degree as for a standalone line: "[MẬT]", "(TỐI MẬT)",
//     "Re: [M Ậ T] Báo cáo". A whole subject that is a degree is a kStandaloneLine.
//   kField: "Độ mật" (any case, e.g. "ĐỘ MẬT"), starting the line or after a frame character,
//     then optional spaces, a colon (":" or "："), optional spaces, then a degree in any case
//     ("Độ mật: Mật" is how forms are filled in; the field name is what makes it a
//     marking), longest degree first. The degree must end the field: be followed by the
//     end of the line, a frame character other than a single space, or two or more spaces
//     (a table gap). "Độ mật: mật khẩu" is therefore not a marking.
//
// Upper case is compared exactly (NFC code points); "any case" compares per-code-point
// lower case (ICU u_tolower). Text that is not NFC should go through FindMarkingsInText.
// Only the first kMaxMarkingScanBytes bytes are examined, and at most `max` markings are
// returned (in order of appearance). Pure functions, thread-safe.
#ifndef MAILWARDEN_MILTER_CHECKS_CLASSIFIED_MARKING_H_
#define MAILWARDEN_MILTER_CHECKS_CLASSIFIED_MARKING_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "milter/mime/vietnamese_text.h"

namespace mailwarden {

inline constexpr size_t kMaxMarkingScanBytes = 8u << 20;

enum class ClassificationDegree { kMat, kToiMat, kTuyetMat };

// "MẬT", "TỐI MẬT", "TUYỆT MẬT".
std::string_view ClassificationDegreeName(ClassificationDegree degree);

struct Marking {
  enum Kind { kStandaloneLine, kSubjectTag, kField };
  ClassificationDegree degree = ClassificationDegree::kMat;
  Kind kind = kStandaloneLine;
  size_t line = 0;  // 1-based line of the text where the marking is
};

// The markings in `nfc_text` (see the file comment). `subject` enables kSubjectTag.
std::vector<Marking> FindMarkings(std::string_view nfc_text, bool subject = false, size_t max = 16);

// Finds markings in text as a charset decoder produced it: converts from `encoding` when
// given (a document run in a TCVN3 or VNI font), else from what DetectLegacyVietnamese
// says, then NFC, then FindMarkings. `tcvn_case` is passed to the TCVN3 converter.
// When the text was converted, `*detected` (if not null) receives the encoding used.
std::vector<Marking> FindMarkingsInText(std::string_view decoded_text, bool subject = false,
                                        std::optional<mime::LegacyEncoding> encoding = std::nullopt,
                                        mime::TcvnCase tcvn_case = mime::TcvnCase::kHarmonize,
                                        size_t max = 16, mime::LegacyEncoding* detected = nullptr);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_CHECKS_CLASSIFIED_MARKING_H_
