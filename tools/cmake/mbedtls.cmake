# Builds Mbed TLS from the Debian source package that tools/deps unpacked, with a
# board's own configuration header. Every board gets its own copy of the library.
set(PIGEON_MBEDTLS_DIR "${PIGEON_THIRD_PARTY}/mbedtls-3.6.6")
if(NOT EXISTS "${PIGEON_MBEDTLS_DIR}/library/ssl_tls.c")
  message(FATAL_ERROR "Mbed TLS sources missing in ${PIGEON_MBEDTLS_DIR}: run tools/deps")
endif()

# pigeon_add_mbedtls(<target> <config header>): the board's header includes
# boards/pigeon_mbedtls_common.h, what every board's build holds.
function(pigeon_add_mbedtls target config_header)
  file(GLOB sources CONFIGURE_DEPENDS "${PIGEON_MBEDTLS_DIR}/library/*.c")
  add_library(${target} STATIC ${sources})
  get_filename_component(config_dir "${config_header}" DIRECTORY)
  get_filename_component(config_name "${config_header}" NAME)
  target_include_directories(${target} SYSTEM PUBLIC
    "${PIGEON_MBEDTLS_DIR}/include" "${config_dir}" "${CMAKE_SOURCE_DIR}/boards")
  target_include_directories(${target} PRIVATE "${PIGEON_MBEDTLS_DIR}/library")
  target_compile_definitions(${target} PUBLIC "MBEDTLS_CONFIG_FILE=\"${config_name}\"")
  target_compile_options(${target} PRIVATE -w)
endfunction()
