// `mailwarden-milter train`: teaches the classifier (bayes.h) the site's own mail.
//
//   mailwarden-milter [--config FILE] train [--db PATH] [--spam PATH]... [--ham PATH]...
//                     [--forget PATH]... [--spool DIR] [--expire DAYS [--expire-keep N]]
//                     [--quiet]
//
// Each PATH is an mbox, a maildir, a directory of message files or one message
// (mail_source.h), or "-" for standard input (a message or an mbox piped in). Every
// message is read as the milter reads it (the same content limits and message view, so
// that training sees what classification will see), tokenized, and learned into the store
// at --db (created when missing): --forget paths first (their messages are unlearned), then
// --spam, then --ham, then the reports in --spool. A message learned before as the same
// class is not counted twice; learned before as the other class it moves, which is how a
// user's "report as spam" corrects the store. With --expire, once the learning is
// committed, the tokens last learned more than DAYS days ago and seen in fewer than N
// messages (default 5) are removed and the file compacted (BayesStore::Expire); --expire
// may also be given alone. A summary follows: messages read, learned, already known,
// moved, forgotten, skipped (and why), reports learned, tokens expired, the store's totals,
// time taken.
//
// --spool DIR: users' reports, as the mail server's hook (conf/dovecot/mailwarden-report)
// queues them: one message per file in DIR/spam/new and DIR/ham/new (tmp/ holds reports
// being written and is left alone; names starting with '.' are skipped). The files of both
// classes are learned in the order of their names, which start with the time the report
// was made, so a message reported as spam and later as ham ends as ham. Once the learning
// is committed, the reports learned, and those skipped as empty, too large or not a regular
// file, are removed; an unreadable one stays and is named on the error stream. Stopping
// between the commit and the removal costs nothing: the next run finds the same reports
// already known. A missing DIR/spam/new or DIR/ham/new holds no reports; a missing DIR is a
// usage error. The spool's directories are a drop box that local users may write to, so a
// report is opened without following a symbolic link and read only if it is a regular file.
//
// Exit status: 0 done; 1 done, but some input could not be read, or a report could not be
// removed (named on the error stream); 2 usage error or the store could not be opened or
// written (nothing committed since the last commit; learning is committed every
// TrainOptions::commit_every messages; no report is removed).
//
// A hidden mode measures the tokenizer and the classifier without touching any store:
// `train --cross-check FILE --spam P --ham P` learns, in a temporary store, the messages
// whose split digit (the first hex digit of the 32-hex-digit name part that the public
// corpora use, else of the message's MD5) is 0-7, classifies those with 8-f, writes one
// line per classified message to FILE (origin, label, probability, clues) and prints the
// false-positive rate on ham and the recall on spam at several probability thresholds.
#ifndef MAILWARDEN_MILTER_SPAM_TRAIN_H_
#define MAILWARDEN_MILTER_SPAM_TRAIN_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "milter/message.h"
#include "milter/spam/bayes.h"
#include "milter/spam/mail_source.h"
#include "milter/spam/message_view.h"
#include "milter/spam/tokenizer.h"

namespace mailwarden::spam {

struct TrainOptions {
  std::string config_path;  // --config given after `train`; read by the caller, "" if none
  std::string db_path;      // --db; "" lets the caller use the spam rule's bayes_db
  std::vector<std::string> spam_paths;
  std::vector<std::string> ham_paths;
  std::vector<std::string> forget_paths;
  std::string spool_dir;     // --spool DIR: users' reports (above); "" if none
  int64_t expire_days = 0;   // --expire DAYS, 1..36500; 0: no expiry
  uint32_t expire_keep = 5;  // --expire-keep N, 1..1000000: tokens seen this often stay
  bool quiet = false;        // only problems and errors are printed
  bool help = false;         // --help: the caller prints TrainUsage and exits 0
  // A new message to feed, with the milter's content limits (Engine::NewMessage); null: the
  // defaults, with text bodies and max_raw_bytes of the raw message kept.
  std::function<std::unique_ptr<Message>()> new_message;
  ViewLimits view;  // the spam rule's max_text and max_raw
  TokenizerLimits tokenizer;
  MailSourceLimits source;
  size_t commit_every = 5000;  // messages per transaction
  // Hidden: `--cross-check FILE` (see above); the classifier's parameters for it.
  std::string cross_check;
  BayesParams bayes;
};

// Parses the arguments after `train` ("--db", "x.sqlite", ...). kInvalidArgument naming the
// bad argument or value; none of --spam, --ham, --forget, --spool, --expire is one too
// (unless --help), and so are --expire-keep without --expire and --spool given twice.
Result<TrainOptions> ParseTrainArgs(std::span<char* const> args);

// The usage lines of the train command.
void TrainUsage(std::ostream& out);

// Runs the command; returns the exit status (see above).
int RunTrain(const TrainOptions& options, std::ostream& out, std::ostream& err);

}  // namespace mailwarden::spam

#endif  // MAILWARDEN_MILTER_SPAM_TRAIN_H_
