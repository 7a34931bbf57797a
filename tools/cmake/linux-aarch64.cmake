# 64-bit ARM routers (Cortex-A53 class: MT7622, IPQ807x, Filogic).
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PIGEON_CROSS_TRIPLE aarch64-linux-gnu)
set(PIGEON_QEMU_ARCH aarch64)
set(PIGEON_CROSS_CPU_FLAGS "-mcpu=cortex-a53")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
