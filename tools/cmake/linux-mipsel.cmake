# Little-endian MIPS routers (MediaTek MT7621 class: MIPS 1004Kc). mips32r2 is
# Debian's baseline, so its static glibc links; a core without an FPU runs the
# few floating-point instructions through the kernel's emulator.
set(CMAKE_SYSTEM_PROCESSOR mipsel)
set(PIGEON_CROSS_TRIPLE mipsel-linux-gnu)
set(PIGEON_QEMU_ARCH mipsel)
set(PIGEON_CROSS_CPU_FLAGS "-march=mips32r2")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
