/* pigeon's C interface for firmware written in C (docs/architecture.md §7). */
#ifndef PIGEON_H
#define PIGEON_H

#ifdef __cplusplus
extern "C" {
#endif

/* Zero and above: accepted. Below zero: refused, nothing stored. */
typedef enum {
  PIGEON_ALERT_SENT = 0,          /* committed to the spool, durable */
  PIGEON_ALERT_COALESCED = 1,     /* counted into the key's window summary */
  PIGEON_ALERT_RATE_LIMITED = 2,  /* counted; reported in the key's next message */
  PIGEON_ALERT_HEADER_INJECTION = -1, /* CR or LF in to or subject */
  PIGEON_ALERT_BAD_ADDRESS = -2,
  PIGEON_ALERT_BAD_TEXT = -3,     /* not UTF-8, or NUL in the text */
  PIGEON_ALERT_TOO_LONG = -4,
  PIGEON_ALERT_SPOOL_FULL = -5,
  PIGEON_ALERT_STORAGE_ERROR = -6,
  PIGEON_ALERT_NOT_READY = -7,
  PIGEON_ALERT_BUSY = -8          /* every key slot or endpoint slot is taken: try again */
} pigeon_alert_status;

/* Sends `subject` and `body` (UTF-8, NUL-terminated) to `to`. Alerts with the
 * same `key` within the configured window become one message. Returns only
 * after the message is durable in the spool (or was counted). */
pigeon_alert_status pigeon_alert_send(const char* to, const char* subject, const char* body, const char* key);

#ifdef __cplusplus
}
#endif

#endif
