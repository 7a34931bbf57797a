// Every compile-time limit of the relay. A board's pigeon_opts.h sets what differs
// from these defaults (the lwipopts.h pattern); the defaults suit a 256 KB-RAM
// microcontroller. Relationships between limits are checked here.
#pragma once

#include "pigeon_opts.h"

// Concurrent sessions per protocol, and TLS sessions shared by all of them.
#ifndef PIGEON_SMTP_SESSIONS
#define PIGEON_SMTP_SESSIONS 4
#endif
#ifndef PIGEON_POP3_SESSIONS
#define PIGEON_POP3_SESSIONS 2
#endif
#ifndef PIGEON_TLS_SESSIONS
#define PIGEON_TLS_SESSIONS 2
#endif

// The longest PEM key or certificate of the server's own identity. Parsing needs
// a NUL-terminated copy, kept in static storage rather than on the stack so that
// the stack of a small board is not sized by a start-up step.
#ifndef PIGEON_TLS_IDENTITY_PEM_BYTES
#define PIGEON_TLS_IDENTITY_PEM_BYTES 8192
#endif

// Per-connection buffers. The receive buffer holds at least one full command or
// SASL line (the engines parse lines in place); the output buffer at least one
// reply of the engines' reply_reserve_bytes.
#ifndef PIGEON_RECEIVE_BUFFER_BYTES
#define PIGEON_RECEIVE_BUFFER_BYTES 2048
#endif
#ifndef PIGEON_OUTPUT_BUFFER_BYTES
#define PIGEON_OUTPUT_BUFFER_BYTES 2048
#endif

// The envelope of one SMTP transaction: recipients are kept packed in this many
// bytes (addresses are at most 256 octets, RFC 5321 §4.5.3.1.3).
#ifndef PIGEON_ENVELOPE_BYTES
#define PIGEON_ENVELOPE_BYTES 2048
#endif
#ifndef PIGEON_MAX_RECIPIENTS
#define PIGEON_MAX_RECIPIENTS 32
#endif

// Messages one POP3 session can list (its maildrop snapshot).
#ifndef PIGEON_POP3_MAX_MESSAGES
#define PIGEON_POP3_MAX_MESSAGES 128
#endif

#ifndef PIGEON_MAX_MESSAGE_BYTES
#define PIGEON_MAX_MESSAGE_BYTES (1024u * 1024u)
#endif

static_assert(PIGEON_RECEIVE_BUFFER_BYTES >= 1024, "a command or SASL line must fit");
static_assert(PIGEON_OUTPUT_BUFFER_BYTES >= 1024, "a reply must fit");
static_assert(PIGEON_TLS_SESSIONS >= 1, "TLS is required for submission and POP3");
static_assert(PIGEON_ENVELOPE_BYTES >= 512, "at least one full-length recipient");
