# Builds lwIP 2.2.1 from the Debian source package that tools/deps unpacked, with a
# board's own lwipopts.h. Only the raw API is built (NO_SYS=1): core, IPv4,
# Ethernet/ARP, DHCP and DNS. Every board (and the host test) gets its own copy.
set(PIGEON_LWIP_DIR "${PIGEON_THIRD_PARTY}/lwip-2.2.1")
if(NOT EXISTS "${PIGEON_LWIP_DIR}/src/core/tcp.c")
  message(FATAL_ERROR "lwIP sources missing in ${PIGEON_LWIP_DIR}: run tools/deps")
endif()

# pigeon_add_lwip(<target> <directory holding lwipopts.h>)
function(pigeon_add_lwip target options_dir)
  set(core "${PIGEON_LWIP_DIR}/src/core")
  add_library(${target} STATIC
    ${core}/init.c ${core}/def.c ${core}/dns.c ${core}/inet_chksum.c ${core}/ip.c
    ${core}/mem.c ${core}/memp.c ${core}/netif.c ${core}/pbuf.c ${core}/stats.c
    ${core}/tcp.c ${core}/tcp_in.c ${core}/tcp_out.c ${core}/timeouts.c ${core}/udp.c
    ${core}/ipv4/acd.c ${core}/ipv4/dhcp.c ${core}/ipv4/etharp.c ${core}/ipv4/icmp.c
    ${core}/ipv4/ip4.c ${core}/ipv4/ip4_addr.c ${core}/ipv4/ip4_frag.c
    ${PIGEON_LWIP_DIR}/src/netif/ethernet.c)
  # arch/cc.h is pigeon's port header, shared by every lwIP build.
  target_include_directories(${target} SYSTEM PUBLIC
    "${PIGEON_LWIP_DIR}/src/include" "${options_dir}" "${CMAKE_SOURCE_DIR}/hal/lwip")
  # Assertion messages name lwIP's files from its src folder (lwip/core/tcp.c).
  target_compile_options(${target} PRIVATE -w "-fmacro-prefix-map=${PIGEON_LWIP_DIR}/src/=lwip/")
endfunction()

# pigeon_add_lwip_net(<target> <lwip target>): the network HAL over that lwIP build.
function(pigeon_add_lwip_net target lwip_target)
  add_library(${target} STATIC "${CMAKE_SOURCE_DIR}/hal/lwip/lwip_net.cpp")
  target_link_libraries(${target} PUBLIC pigeon_hal ${lwip_target})
endfunction()
