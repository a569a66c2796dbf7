#pragma once
/// @file
/// @brief Project-wide configuration: version, host/device annotation, inline-kernel helpers.
///
/// `DECENT_HD` marks functions callable on the host and on a CUDA device. Under g++ (no CUDA) it is empty,
/// so every element-wise functor is written once and compiled by both compilers.

#define DECENT_VERSION_MAJOR 0
#define DECENT_VERSION_MINOR 1
#define DECENT_VERSION_PATCH 0

#if defined(__CUDACC__)
#define DECENT_HD __host__ __device__
#define DECENT_DEVICE __device__
#else
#define DECENT_HD
#define DECENT_DEVICE
#endif

#if defined(_OPENMP)
#define DECENT_HAS_OPENMP 1
#else
#define DECENT_HAS_OPENMP 0
#endif
