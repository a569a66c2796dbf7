# CUDA language setup for decent (only when DECENT_ENABLE_CUDA).
# CMake 3.25 does not know nvcc's C++20 flag: the shim below was verified with nvcc 13 on this project.
# Architectures: CI builds one (80). Build for others with -DCMAKE_CUDA_ARCHITECTURES="80;90" (or all-major);
# never "native" on a GPU-less machine (it fails at generate time).
if(NOT DECENT_ENABLE_CUDA)
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "DECENT_ENABLE_CUDA=ON but no nvcc was found: set CUDACXX=/usr/local/cuda/bin/nvcc "
                      "or configure with -DDECENT_ENABLE_CUDA=OFF")
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 80)
endif()
enable_language(CUDA)
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
find_package(CUDAToolkit REQUIRED)
