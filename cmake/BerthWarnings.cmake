# The warning set every berth target compiles with.
set(BERTH_WARNING_FLAGS
    -Wall -Wextra -Wpedantic
    -Wshadow -Wformat=2 -Wformat-security
    -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition
    -Wpointer-arith -Wwrite-strings -Wvla -Wundef -Wcast-align
    -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion
    -Wmissing-declarations -Wredundant-decls)

include(CheckCCompilerFlag)
set(_berth_supported_flags "")
foreach(flag IN LISTS BERTH_WARNING_FLAGS)
  string(MAKE_C_IDENTIFIER "HAVE_FLAG${flag}" var)
  check_c_compiler_flag(${flag} ${var})
  if(${var})
    list(APPEND _berth_supported_flags ${flag})
  endif()
endforeach()

function(berth_warnings target)
  target_compile_options(${target} PRIVATE ${_berth_supported_flags})
  if(BERTH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
