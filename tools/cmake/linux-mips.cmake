# Big-endian MIPS routers (Qualcomm Atheros ath79 class: MIPS 24Kc, 74Kc).
set(CMAKE_SYSTEM_PROCESSOR mips)
set(PIGEON_CROSS_TRIPLE mips-linux-gnu)
set(PIGEON_QEMU_ARCH mips)
set(PIGEON_CROSS_CPU_FLAGS "-march=mips32r2")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
