# 32-bit ARM routers (Qualcomm IPQ40xx class: Cortex-A7 with NEON-VFPv4).
set(CMAKE_SYSTEM_PROCESSOR arm)
set(PIGEON_CROSS_TRIPLE arm-linux-gnueabihf)
set(PIGEON_QEMU_ARCH arm)
set(PIGEON_CROSS_CPU_FLAGS "-mcpu=cortex-a7")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
