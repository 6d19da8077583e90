# A message a user took out of Junk: reported as ham (not spam after all) to mailwarden's
# classifier, unless it went to the Trash, which only says the user is done with it.
# Run by IMAPSieve; see 90-mailwarden-report.conf.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

# The mailbox the message arrived in.
if environment :matches "imap.mailbox" "*" {
  set "destination" "${1}";
}
if string :is "${destination}" "Trash" {
  stop;
}

pipe :copy "mailwarden-report" ["ham"];
