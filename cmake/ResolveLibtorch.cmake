# Finds libtorch in the order DESIGN.md fixes, and pins every torch library to one root.
#
#   1. the LIBTORCH environment variable (a libtorch root), or Torch_DIR (CMake variable or
#      environment variable: the folder holding TorchConfig.cmake);
#   2. the `torch` package of python3, when importable (torch.utils.cmake_prefix_path);
#   3. the system libtorch (Debian/Ubuntu libtorch-dev).
#
# Mixing roots breaks at load time (a pip torch's TorchConfig finding Debian's c10 aborts in
# DispatchKeySet.cpp), so once a root is chosen Torch_DIR and Caffe2_DIR both point into it,
# CMake's system paths are switched off for the search, and every library found is checked to
# live under that root.
#
# Sets ALIGN_DETR_TORCH_ROOT, ALIGN_DETR_TORCH_SOURCE, ALIGN_DETR_TORCH_LIBDIRS and the usual
# TORCH_LIBRARIES / TORCH_INCLUDE_DIRS / TORCH_CXX_FLAGS of find_package(Torch).

set(_adetr_searched "")
set(_adetr_torch_cmake_dir "")

macro(_adetr_note what)
  list(APPEND _adetr_searched "${what}")
endmacro()

# 1. LIBTORCH / Torch_DIR
if(DEFINED ENV{LIBTORCH} AND NOT "$ENV{LIBTORCH}" STREQUAL "")
  set(_adetr_torch_cmake_dir "$ENV{LIBTORCH}/share/cmake/Torch")
  set(ALIGN_DETR_TORCH_SOURCE "LIBTORCH=$ENV{LIBTORCH}")
  if(NOT EXISTS "${_adetr_torch_cmake_dir}/TorchConfig.cmake")
    message(FATAL_ERROR "align-detr: LIBTORCH=$ENV{LIBTORCH} has no share/cmake/Torch/TorchConfig.cmake; "
                        "point LIBTORCH at the root of an unpacked libtorch (the folder holding lib/ and include/).")
  endif()
elseif(Torch_DIR OR (DEFINED ENV{Torch_DIR} AND NOT "$ENV{Torch_DIR}" STREQUAL ""))
  if(Torch_DIR)
    set(_adetr_torch_cmake_dir "${Torch_DIR}")
  else()
    set(_adetr_torch_cmake_dir "$ENV{Torch_DIR}")
  endif()
  set(ALIGN_DETR_TORCH_SOURCE "Torch_DIR=${_adetr_torch_cmake_dir}")
  if(NOT EXISTS "${_adetr_torch_cmake_dir}/TorchConfig.cmake")
    message(FATAL_ERROR "align-detr: Torch_DIR=${_adetr_torch_cmake_dir} holds no TorchConfig.cmake.")
  endif()
else()
  _adetr_note("LIBTORCH and Torch_DIR (both unset)")
endif()

# 2. python3's torch
if(_adetr_torch_cmake_dir STREQUAL "" AND NOT ALIGN_DETR_SKIP_PYTHON_TORCH)
  find_program(_adetr_python3 NAMES python3)
  if(_adetr_python3)
    execute_process(
      COMMAND "${_adetr_python3}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _adetr_py_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _adetr_py_rc ERROR_QUIET)
    if(_adetr_py_rc EQUAL 0 AND EXISTS "${_adetr_py_prefix}/Torch/TorchConfig.cmake")
      set(_adetr_torch_cmake_dir "${_adetr_py_prefix}/Torch")
      set(ALIGN_DETR_TORCH_SOURCE "python3 torch (${_adetr_python3})")
    else()
      _adetr_note("the torch package of ${_adetr_python3} (not importable)")
    endif()
  else()
    _adetr_note("python3 (not on PATH)")
  endif()
endif()

# 3. the system libtorch
if(_adetr_torch_cmake_dir STREQUAL "")
  set(ALIGN_DETR_SYSTEM_TORCH_DIRS
    /usr/lib/x86_64-linux-gnu/cmake/Torch /usr/lib/aarch64-linux-gnu/cmake/Torch
    /usr/lib/cmake/Torch /usr/share/cmake/Torch /usr/local/share/cmake/Torch /usr/local/lib/cmake/Torch
    CACHE STRING "Folders searched for the system libtorch's TorchConfig.cmake")
  set(_adetr_system_dirs ${ALIGN_DETR_SYSTEM_TORCH_DIRS})
  foreach(_d IN LISTS _adetr_system_dirs)
    if(EXISTS "${_d}/TorchConfig.cmake")
      set(_adetr_torch_cmake_dir "${_d}")
      set(ALIGN_DETR_TORCH_SOURCE "system libtorch (${_d})")
      break()
    endif()
  endforeach()
  if(_adetr_torch_cmake_dir STREQUAL "")
    string(REPLACE ";" ", " _adetr_sys "${_adetr_system_dirs}")
    _adetr_note("system TorchConfig.cmake in ${_adetr_sys}")
  endif()
endif()

if(_adetr_torch_cmake_dir STREQUAL "")
  string(REPLACE ";" "\n  - " _adetr_list "${_adetr_searched}")
  message(FATAL_ERROR
    "align-detr: libtorch was not found. Searched, in order:\n  - ${_adetr_list}\n"
    "Install it with:\n"
    "  sudo apt-get update && sudo apt-get install -y libtorch-dev libgloo-dev   (Debian 12 / Ubuntu)\n"
    "or unpack a libtorch from pytorch.org and set LIBTORCH=/path/to/libtorch before building.")
endif()

get_filename_component(_adetr_torch_cmake_dir "${_adetr_torch_cmake_dir}" REALPATH)
get_filename_component(_adetr_cmake_parent "${_adetr_torch_cmake_dir}" DIRECTORY)
set(Torch_DIR "${_adetr_torch_cmake_dir}" CACHE PATH "TorchConfig.cmake folder" FORCE)
if(EXISTS "${_adetr_cmake_parent}/Caffe2/Caffe2Config.cmake")
  set(Caffe2_DIR "${_adetr_cmake_parent}/Caffe2" CACHE PATH "Caffe2Config.cmake folder" FORCE)
endif()

# The root every torch library must come from: three levels up from .../share/cmake/Torch for
# a libtorch or pip torch, and /usr for Debian's /usr/lib/<triplet>/cmake/Torch.
if(ALIGN_DETR_TORCH_SOURCE MATCHES "^system")
  set(ALIGN_DETR_TORCH_ROOT "/usr")
else()
  get_filename_component(ALIGN_DETR_TORCH_ROOT "${_adetr_torch_cmake_dir}/../../.." REALPATH)
  # Keep the system paths out of the torch search so no library comes from another install.
  set(CMAKE_FIND_USE_CMAKE_SYSTEM_PATH OFF)
  set(CMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH OFF)
endif()

find_package(Torch CONFIG REQUIRED PATHS "${_adetr_torch_cmake_dir}" NO_DEFAULT_PATH)

set(CMAKE_FIND_USE_CMAKE_SYSTEM_PATH ON)
set(CMAKE_FIND_USE_SYSTEM_ENVIRONMENT_PATH ON)

# Verify: every torch library file resolves under the chosen root.
set(ALIGN_DETR_TORCH_LIBDIRS "")
set(_adetr_to_check ${TORCH_LIBRARIES} ${TORCH_LIBRARY} ${c10_LIBRARY})
foreach(_t torch_cpu c10 torch_cuda c10_cuda)
  if(TARGET ${_t})
    list(APPEND _adetr_to_check ${_t})
  endif()
endforeach()
foreach(_lib IN LISTS _adetr_to_check)
  set(_file "")
  if(TARGET ${_lib})
    get_target_property(_type ${_lib} TYPE)
    if(NOT _type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(_file ${_lib} IMPORTED_LOCATION)
      if(NOT _file)
        get_target_property(_file ${_lib} IMPORTED_LOCATION_RELEASE)
      endif()
    endif()
  elseif(IS_ABSOLUTE "${_lib}" AND EXISTS "${_lib}")
    set(_file "${_lib}")
  endif()
  if(_file AND _file MATCHES "(torch|c10|caffe2)[^/]*\\.so")
    get_filename_component(_real "${_file}" REALPATH)
    string(FIND "${_real}" "${ALIGN_DETR_TORCH_ROOT}/" _pos)
    if(NOT _pos EQUAL 0)
      message(FATAL_ERROR "align-detr: ${_real} (for ${_lib}) is not under the chosen libtorch root "
                          "${ALIGN_DETR_TORCH_ROOT} (${ALIGN_DETR_TORCH_SOURCE}); two libtorch installs are mixed. "
                          "Set LIBTORCH to the one you want.")
    endif()
    get_filename_component(_dir "${_real}" DIRECTORY)
    list(APPEND ALIGN_DETR_TORCH_LIBDIRS "${_dir}")
  endif()
endforeach()
list(REMOVE_DUPLICATES ALIGN_DETR_TORCH_LIBDIRS)
message(STATUS "align-detr: libtorch ${Torch_VERSION} from ${ALIGN_DETR_TORCH_SOURCE}; libraries in ${ALIGN_DETR_TORCH_LIBDIRS}")
