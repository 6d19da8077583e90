// Reads a message file (RFC 5322, LF or CRLF line ends) into a Message, for --test mode
// and tests. Headers are unfolded into name/value pairs the way an MTA hands them to a
// milter; the body is streamed into the Message in chunks, with CRLF line ends.
#ifndef MAILWARDEN_MILTER_EML_READER_H_
#define MAILWARDEN_MILTER_EML_READER_H_

#include <string>

#include "common/status.h"
#include "milter/message.h"

namespace mailwarden {

// Feeds the file at `path` into `message`. kIoError when it cannot be read.
Status ReadMessageFile(const std::string& path, Message* message);
// Same, from memory.
void ReadMessageText(std::string_view text, Message* message);

}  // namespace mailwarden

#endif  // MAILWARDEN_MILTER_EML_READER_H_
