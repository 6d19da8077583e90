// The content type of a part as libmagic (file(1)'s database) sees it, for the decision log
// and for rules that compare it with the declared type.
//
// DetectMimeType() names the content of a part from its first bytes (callers pass the same
// head the true-type sniffer sees) as a MIME type such as "application/pdf", or "" when
// undecided. The formats mail carries most (PDF, images, RTF, archives, OLE2, calendar)
// and plain text are recognised by a fast check of their own; everything else goes to
// libmagic (file(1)'s database). It complements true_type.h rather than replacing it: the
// executable rule relies on the exact checks there; this names everything for the log.
// Compressed-content and ELF deep checks are off in libmagic: the archive walker and the
// sniffer do those within their own limits.
//
// Thread-safety: safe to call from any thread. libmagic handles are not thread-safe and
// cost a database load each, so a process-wide pool lends them out; it holds as many as
// there were concurrent callers.
#ifndef MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_
#define MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_

#include <string>
#include <string_view>

namespace mailwarden {

std::string DetectMimeType(std::string_view head);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_MIME_MAGIC_TYPE_H_
