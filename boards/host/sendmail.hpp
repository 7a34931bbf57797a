// `sendmail` for the scripts on a router (docs/routers.md): the same binary,
// called as `sendmail` (a link named so) or as `pigeon sendmail`, reads one
// message on standard input and hands it to the running relay over SMTP on its
// own SMTP listener. This first version is an SMTP client of the relay, not a
// second way into the spool: the relay must be running, and it decides about
// the message exactly as for any LAN client.
//
// Options as sendmail's: -t (recipients from To, Cc and Bcc; Bcc is removed),
// -f ADDRESS (envelope sender), -F NAME (full name for a From header the
// message lacks), -i / -oi (a line of a single dot does not end the message),
// -oem / -oee / -oep / -odi / -odb (accepted: errors are always reported on
// stderr and in the exit status), -C FILE (pigeon's configuration, for the
// relay's address and port; default $PIGEON_CONFIG), -- (end of options), then
// recipients. Exit status (sysexits.h): 0 only after the relay's 250 to the end
// of the data; 75 EX_TEMPFAIL when the relay is not running or answers 4xx.
#pragma once

namespace pigeon::host {

bool called_as_sendmail(int argc, char** argv);
int run_sendmail(int argc, char** argv);

}  // namespace pigeon::host
