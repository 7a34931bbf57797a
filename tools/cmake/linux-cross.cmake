# Shared part of the Linux router toolchains (linux-*.cmake beside this file):
# Debian's cross GCC for ${PIGEON_CROSS_TRIPLE}, linked fully static against its
# glibc so that one file runs on any router kernel of that architecture
# (docs/routers.md says why glibc and what the static link must avoid).
# Each linux-*.cmake sets PIGEON_CROSS_TRIPLE, PIGEON_CROSS_CPU_FLAGS and
# PIGEON_QEMU_ARCH (the qemu-user emulator tests/arch runs the binary under).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${PIGEON_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PIGEON_CROSS_TRIPLE}-g++)
set(CMAKE_STRIP ${PIGEON_CROSS_TRIPLE}-strip)
set(CMAKE_SIZE ${PIGEON_CROSS_TRIPLE}-size)
set(CMAKE_FIND_ROOT_PATH /usr/${PIGEON_CROSS_TRIPLE})

set(pigeon_cross_flags "${PIGEON_CROSS_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_C_FLAGS_INIT "${pigeon_cross_flags}")
# One thread (docs/architecture.md): function-local statics need no lock, and
# the lock's error path would link libstdc++'s exception machinery.
set(CMAKE_CXX_FLAGS_INIT "${pigeon_cross_flags} -fno-threadsafe-statics")
# --gc-sections drops what the relay never calls, from pigeon, Mbed TLS and libc;
# -s strips the symbols: the file built is the file a router gets.
# --fatal-warnings: static glibc marks the functions that would load shared
# objects at run time (NSS: getaddrinfo, getpwnam...; dlopen) with a link-time
# warning; here it fails the build.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -s -Wl,--gc-sections -Wl,--fatal-warnings")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
