# The relay application, compiled once per board with that board's options header
# (pigeon_opts.h) and Mbed TLS library.
# pigeon_add_firmware(<target> <board dir> <mbedtls target>)
function(pigeon_add_firmware target board_dir mbedtls_target)
  file(GLOB sources CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/firmware/*.cpp")
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC "${board_dir}")
  target_link_libraries(${target} PUBLIC pigeon_protocol pigeon_hal ${mbedtls_target})
endfunction()
