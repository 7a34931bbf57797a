/* pigeon's limits on mps2-an385: the product in 128 KB of RAM with two TLS
 * sessions at once (one inbound, one to the smarthost). Every number here is paid
 * for in static RAM; the link fails when the sum passes the budget (board.ld). */
#ifndef PIGEON_OPTS_H
#define PIGEON_OPTS_H

#define PIGEON_SMTP_SESSIONS 2
#define PIGEON_POP3_SESSIONS 1
#define PIGEON_IMAP_SESSIONS 1
#define PIGEON_TLS_SESSIONS 2
#define PIGEON_RECEIVE_BUFFER_BYTES 1024
#define PIGEON_OUTPUT_BUFFER_BYTES 1024
#define PIGEON_ENVELOPE_BYTES 512
/* RFC 5321's 100 recipients, of any length: the SMTP session writes each to flash as it
 * is accepted and the smarthost client reads each back as it sends its RCPT, so neither
 * keeps a list (docs/spool-format.md §3.6). What still grows with this number: the
 * two outcome bits per recipient of each spool detail (a message owing the smarthost).
 * Envelopes written whole (delivery reports, alerts) have one recipient, so the spool's
 * buffer for them holds one. */
#define PIGEON_MAX_RECIPIENTS 100
#define PIGEON_SPOOL_INLINE_RECIPIENTS 1
#define PIGEON_MAX_MESSAGE_BYTES (256u * 1024u)
#define PIGEON_MAX_USERS 2
#define PIGEON_MAX_LOCAL_DOMAINS 2
/* The board's own P-256 key and certificate (board_record.hpp) fit with room. */
#define PIGEON_TLS_IDENTITY_PEM_BYTES 1536

/* CRC-32 half a byte at a time: a 64-byte table instead of 1 KiB of flash, for
 * about 5 more instructions per byte stored or read. */
#define PIGEON_CRC32_TABLE_BITS 4

/* The spool: 8 KiB sectors over the PSRAM stand-in for NOR flash. Each message
 * costs 33 bytes of index and a byte of the IMAP view; only those that owe the
 * smarthost (up to the queue's length) hold a 40-byte detail as well
 * (docs/architecture.md §5). */
#define PIGEON_SPOOL_MAX_MESSAGES 96
#define PIGEON_SPOOL_MAX_SECTORS 64
#define PIGEON_SPOOL_WRITE_BUFFER_BYTES 512
#define PIGEON_SPOOL_MAILBOX_NAME_BYTES 32
/* Messages that may owe the smarthost at once (each a queue entry and a spool
 * detail: 72 bytes); more relayed mail gets 452 4.3.1 until the smarthost takes
 * some, local mail is still taken. */
#define PIGEON_DELIVERY_QUEUE_LENGTH 16
/* An IMAP session's view (a flag byte per message): no mailbox holds more than
 * the spool. The expunges by others it can owe its client (4 bytes each): more
 * between two of its commands end the session (BYE), as on the host. */
#define PIGEON_IMAP_MAX_MESSAGES PIGEON_SPOOL_MAX_MESSAGES
#define PIGEON_IMAP_VANISHED 32

/* Mbed TLS arena: per session the 16 KiB input and 4 KiB output record buffers
 * plus the handshake's peak, and shared state (our key and certificate). */
#define PIGEON_TLS_SESSION_BYTES (26u * 1024u)
#define PIGEON_TLS_SHARED_BYTES (6u * 1024u)

#endif
