// Training input for the classifier (`mailwarden-milter train`): the messages stored at a
// path, whatever the mail store.
//   - a file: an mbox when it starts with "From ", else one message;
//   - a maildir (a directory with cur/ and new/): the messages in cur/ and new/ (tmp/
//     holds deliveries in progress and is left alone);
//   - any other directory: every file in it and below it (sorted by name; names starting
//     with '.' skipped), each read as above, maildirs below included;
//   - "-": standard input, read as a file (an mbox or one message; origin "stdin"), for a
//     mail server's hook that pipes a message a user reported.
// mbox: a message starts at a line beginning "From " that follows an empty line (or starts
// the file); that line and the empty line before it are not part of the messages;
// ">From " lines (any number of '>') lose one '>' (mboxrd), so quoted lines read as written.
//
// A file that cannot be read, a message over the size limit, or an empty one is reported to
// the problem callback and reading goes on. Files are streamed: memory is bounded by the
// size limit, not by the size of an mbox. Single-threaded; the callbacks run on the
// caller's thread.
#ifndef MAILWARDEN_MILTER_SPAM_MAIL_SOURCE_H_
#define MAILWARDEN_MILTER_SPAM_MAIL_SOURCE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mailwarden::spam {

struct MailSourceLimits {
  size_t max_message_bytes = 32 << 20;  // bigger messages are skipped (kTooLarge)
  int max_depth = 32;                   // directory nesting followed
};

struct MailProblem {
  enum class Kind {
    kUnreadable,  // a file or directory that cannot be read
    kTooLarge,    // a message over max_message_bytes, skipped
    kEmpty,       // an empty file or mbox entry, skipped
  };
  Kind kind;
  std::string origin;  // the file, or "file#N" for the Nth message of an mbox
  std::string detail;
};

// `origin` names the message as in MailProblem; `text` is its bytes.
using MailCallback = std::function<void(const std::string& origin, std::string_view text)>;
using ProblemCallback = std::function<void(const MailProblem& problem)>;

// Reads every message at `path` (see above). kNotFound when `path` does not exist and
// kIoError when it cannot be read at all; problems below it go to `on_problem`.
Status ReadMailSource(const std::string& path, const MailSourceLimits& limits,
                      const MailCallback& on_message, const ProblemCallback& on_problem);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_MAIL_SOURCE_H_
