// The content type of a part as libmagic (file(1)'s database) sees it, for the decision log
// and for rules that compare it with the declared type.
//
// DetectMimeType() runs libmagic on the first bytes of a part (callers pass the same head
// the true-type sniffer sees) and returns a MIME type such as "application/pdf", or "" when
// libmagic is unavailable or undecided. It complements true_type.h rather than replacing
// it: the executable rule relies on the exact, fast checks there; libmagic names everything
// else. Compressed-content and ELF deep checks are off: the archive walker and the sniffer
// do those within their own limits.
//
// Thread-safety: a libmagic handle is not thread-safe, so each thread lazily opens its own
// (loading the compiled database once per thread, a few milliseconds) and keeps it until
// the thread ends.
#ifndef MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_
#define MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_

#include <string>
#include <string_view>

namespace mailwarden {

std::string DetectMimeType(std::string_view head);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_
