# CMake toolchain for Cortex-M boards: Debian's arm-none-eabi GCC with newlib-nano.
# Code sticks to the base ARMv7-M ISA (-mcpu=cortex-m3), so it also runs on M4/M7.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_SIZE arm-none-eabi-size)
# The archives hold LTO objects: the plugin-aware wrappers index their symbols.
set(CMAKE_AR arm-none-eabi-gcc-ar)
set(CMAKE_RANLIB arm-none-eabi-gcc-ranlib)
# The compiler checks link a test program; a static library needs no start-up code.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Link-time optimisation: flash is the budget of these boards, and optimising the
# image whole (inlining and dropping across pigeon, lwIP and Mbed TLS) saves about
# 19 KB of mps2-an385's 256 KB. The objects are fat (machine code beside the IR),
# so that tools/size-report can tell from them which library defines what the LTO
# output holds; the machine code itself is not linked. -fconserve-stack keeps the
# inliner from merging frames past the 6 KB stack: without it the board's relay of
# a message to many recipients overflowed it (test_relay); with it the stack
# high-water that test_relay measures is below the one without LTO. The host and router builds use other
# toolchain files and do not change.
set(PIGEON_LTO_FLAGS "-flto=auto -ffat-lto-objects -fconserve-stack")
set(PIGEON_CORTEX_M_FLAGS
    "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft -ffunction-sections -fdata-sections ${PIGEON_LTO_FLAGS}")
set(CMAKE_C_FLAGS_INIT "${PIGEON_CORTEX_M_FLAGS}")
set(CMAKE_CXX_FLAGS_INIT
    "${PIGEON_CORTEX_M_FLAGS} -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nano.specs -nostartfiles -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
