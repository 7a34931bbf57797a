/* lwIP options for the host test of hal/lwip: the boards' profile (NO_SYS=1, raw
 * API, static pools, IPv4) plus the loopback interface, so that clients and the
 * relay talk through lwIP inside one test process, and statistics for the leak
 * checks. Pools are larger than a board's because the relay runs with the host's
 * session limits here. */
#ifndef PIGEON_TEST_LWIPOPTS_H
#define PIGEON_TEST_LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0

#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_TCP 1
#define LWIP_UDP 1
#define LWIP_DNS 1
#define LWIP_DHCP 0
#define LWIP_HAVE_LOOPIF 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 0

#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8
#define MEM_SIZE (256 * 1024)
#define PBUF_POOL_SIZE 64
#define MEMP_NUM_PBUF 64
#define MEMP_NUM_TCP_PCB 24
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_TCP_SEG 256

#define TCP_MSS 1460
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)

#define LWIP_STATS 1
#define MEMP_STATS 1
#define MEM_STATS 1
#define LWIP_STATS_DISPLAY 0

/* A failed lwIP check reports lwIP's message (hal/lwip/arch/cc.h). */
#define PIGEON_LWIP_ASSERT_MESSAGES 1

#endif
