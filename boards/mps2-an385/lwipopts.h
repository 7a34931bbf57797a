/* lwIP for mps2-an385: NO_SYS=1 raw API, IPv4 with ARP, DHCP and DNS, static pools
 * only. Sized for pigeon's sessions: 2 SMTP + 1 POP3 clients, 1 smarthost
 * connection, a spare for closing ones, and the 5 listeners. */
#ifndef PIGEON_LWIPOPTS_H
#define PIGEON_LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0 /* lwIP runs only in the main loop, never in an IRQ */

#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_TCP 1
#define LWIP_UDP 1
#define LWIP_DHCP 1
#define LWIP_DNS 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_ACD 0
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_SINGLE_NETIF 1
#define IP_REASSEMBLY 0
#define IP_FRAG 0

#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 4
/* TX data copied by tcp_write, segments with their headers: about two connections'
 * full send buffers (TCP_SND_BUF) at once; others wait for room (tcp_write's
 * ERR_MEM is back-pressure, hal/lwip/lwip_net.cpp). 6 KiB, not 8, so that the IMAP
 * session fits RAM. */
#define MEM_SIZE (6 * 1024)
#define PBUF_POOL_SIZE 8
#define PBUF_POOL_BUFSIZE 1536
#define MEMP_NUM_PBUF 8
/* One per session slot of pigeon_opts.h (2 SMTP, 1 POP3, 1 IMAP) and the smarthost's,
 * and two for connections being refused or closed; one listener per service. */
#define MEMP_NUM_TCP_PCB 7
#define MEMP_NUM_TCP_PCB_LISTEN 7
#define MEMP_NUM_UDP_PCB 2
#define MEMP_NUM_TCP_SEG 16
#define MEMP_NUM_SYS_TIMEOUT 8
#define ARP_TABLE_SIZE 4
#define DNS_TABLE_SIZE 2

#define TCP_MSS 1460
#define TCP_WND (2 * TCP_MSS)
#define TCP_SND_BUF (2 * TCP_MSS)
#define TCP_SND_QUEUELEN 8

#define LWIP_STATS 0
#define LWIP_CHECKSUM_ON_COPY 1
#define ETH_PAD_SIZE 0

/* lwIP's checks stay on, but a failed one names only its file and line: its
 * message texts would take 5,964 bytes of flash (hal/lwip/arch/cc.h). */
#define PIGEON_LWIP_ASSERT_MESSAGES 0

#endif
