/* lwIP port header for pigeon: GCC on a little-endian target (the host or a
 * Cortex-M). lwIP's defaults cover the types; this only routes diagnostics and
 * the random numbers DNS uses for query ids and source ports to the board. */
#ifndef PIGEON_LWIP_ARCH_CC_H
#define PIGEON_LWIP_ARCH_CC_H

#ifdef __cplusplus
extern "C" {
#endif

/* Provided by the board (or test): a random 32-bit number from its DRBG. */
unsigned int pigeon_lwip_random(void);
/* Provided by the board (or test): reports a failed lwIP assertion and stops. */
void pigeon_lwip_assert_failed(const char* message, const char* file, int line);

#ifdef __cplusplus
}
#endif

#define LWIP_RAND() ((u32_t)pigeon_lwip_random())
/* Every lwipopts.h says whether a failed check reports lwIP's message or only
 * "lwIP": file and line name the check either way, and the messages are about
 * 5 KB of strings that a board short of flash leaves out (PIGEON_LWIP_ASSERT_MESSAGES 0). */
#define LWIP_PLATFORM_ASSERT(message) \
  pigeon_lwip_assert_failed(PIGEON_LWIP_ASSERT_MESSAGES ? (message) : "lwIP", __FILE__, __LINE__)
/* lwIP's debug output stays off (LWIP_DEBUG is not defined). */
#define LWIP_PLATFORM_DIAG(x) do { } while (0)

#endif
