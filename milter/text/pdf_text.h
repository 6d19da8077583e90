// The text of a PDF, read from memory with poppler-cpp.
//
// Text: page by page, each page in poppler's reading order (page::text with
// non_raw_non_physical_layout, what pdftotext prints by default). That layout splits a
// page into blocks of text and puts each block's lines on lines of their own, so a stamp
// such as "TỐI MẬT" set beside a letterhead column, or "Độ mật: Mật" under it, stays alone
// on its line. The other two layouts do not: the physical layout keeps the page's columns
// side by side on one line ("TỐI MẬT      Độc lập - Tự do - Hạnh phúc"), and raw order
// joins text that shares a baseline. Every line of the result ends with '\n' (CR LF and
// CR become LF), a page ends with a line break (poppler's form feed between pages is
// not kept, so it never glues a stamp to other text), and the whole is in NFC.
//
// Legacy fonts: words set in a TCVN3 font (a name starting with ".Vn", after a subset tag
// "ABCDEF+" and before a ",Bold"-style suffix; the "H" fonts as upper case,
// mime::IsTcvn3UppercaseFont) or a VNI font ("VNI-...") are converted to Unicode, a line's
// consecutive words in one font together, and the encoding is recorded in
// ExtractedText::legacy. Finding a word's font costs a second pass over the page
// (text_list) and a fontconfig look-up per non-embedded font, so it is done only on a page
// whose text holds a character typical of a legacy reading (a latin-1 sign or letter that
// Vietnamese does not use, such as "Ë" or "§"), of a document whose bytes name such a font
// in a /BaseFont or have object streams (which may hide one). Every degree of a
// classification marking has such a character in both encodings ("ậ" is "Ë" in TCVN3, "Ä"
// in VNI), so no marking is missed by the gate; a page of ASCII-only text in an "H" font
// keeps its (lower-case) letters.
//
// Limits (TextLimits): pages after the first pdf_max_pages are not read ("pdf_max_pages";
// below 1 reads no page). Time is measured from the moment the document is opened and
// checked before each page but the first: once pdf_max_time_ms have passed the remaining
// pages are not read ("pdf_max_time"); so 0 reads exactly the first page, and one page
// always runs to its end, however long poppler takes on it (it offers no way to stop a
// page). Text beyond max_text_bytes is cut at a character boundary ("max_text"). A page's
// text is built whole by poppler before these limits see it: a page whose content
// streams expand to very much text costs memory and time in proportion.
//
// Failure: a PDF poppler cannot open is returned empty and damaged ("not a readable PDF");
// one that needs a user password is damaged ("encrypted: a password is needed") — a PDF
// with only an owner password opens and its text is read, whatever its permissions say.
// A PDF that opens but whose end is missing (no "%%EOF", more than 1024 bytes after the
// last one, or the start of an object, "xref" or "trailer" after it: cut short in transit,
// perhaps inside an incremental update) returns the text poppler could recover, damaged
// ("truncated"); a page poppler cannot build is skipped, damaged ("unreadable page"); an
// exception from the standard library (memory) ends the call, damaged ("text extraction
// failed"). The first problem met is the one reported. Poppler's error messages are
// silenced (a quiet error function is installed once), so damaged files do not reach
// stderr.
//
// Memory: the document is read in place from `bytes` (load_from_raw_data, no copy), which
// must stay valid for the call; poppler's own structures come on top.
//
// Thread-safety: safe to call concurrently, but calls into poppler are serialised by one
// process-wide mutex: poppler 22.12 builds some global state lazily without locking (the
// colour-management profiles created by the first GfxState, which text extraction
// creates too), so separate documents on separate threads are not safe in every case. A
// call waits for the one in progress; its time limit starts once it holds the lock.
#ifndef MAILWARDEN_MILTER_TEXT_PDF_TEXT_H_
#define MAILWARDEN_MILTER_TEXT_PDF_TEXT_H_

#include <string_view>

#include "milter/text/extracted_text.h"

namespace mailwarden::text {

// The text of the PDF in `bytes` (see the file comment). Whether a PDF is signed is
// mime/signature_scan.h's business.
ExtractedText ExtractPdfText(std::string_view bytes, const TextLimits& limits);

}  // namespace mailwarden::text

#endif  // MAILWARDEN_MILTER_TEXT_PDF_TEXT_H_
