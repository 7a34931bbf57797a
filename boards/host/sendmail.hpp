// `sendmail` for the scripts on a router (docs/routers.md): the same binary,
// called as `sendmail` (a link named so) or as `pigeon sendmail`, reads one
// message on standard input and hands it to the running relay over its local
// socket (boards/host/local_socket.hpp), as an SMTP session that may relay
// without AUTH: the socket's file mode already decided who may use it. The
// relay must be running, and the spool decides as for any client.
//
// Options as sendmail's: -t (recipients from To, Cc and Bcc; Bcc is removed),
// -f ADDRESS (envelope sender), -F NAME (full name for a From header the
// message lacks), -i / -oi (a line of a single dot does not end the message),
// -oem / -oee / -oep / -odi / -odb (accepted: errors are always reported on
// stderr and in the exit status), -C FILE (pigeon's configuration, for the
// socket's path and the host name; default $PIGEON_CONFIG), -- (end of
// options), then recipients. Exit status (sysexits.h): 0 only after the
// relay's 250 to the end of the data; 75 EX_TEMPFAIL when the relay is not
// running or answers 4xx (a full spool), 77 EX_NOPERM when the socket's mode
// refuses the caller, 67 for a refused recipient.
#pragma once

namespace pigeon::host {

bool called_as_sendmail(int argc, char** argv);
int run_sendmail(int argc, char** argv);

}  // namespace pigeon::host
