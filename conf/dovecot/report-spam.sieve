# A message a user put into Junk (moved, copied or appended there by the mail client):
# reported as spam to mailwarden's classifier (mailwarden-report queues it for
# `mailwarden-milter train --spool`). Run by IMAPSieve; see 90-mailwarden-report.conf.
require ["vnd.dovecot.pipe", "copy", "imapsieve"];

pipe :copy "mailwarden-report" ["spam"];
