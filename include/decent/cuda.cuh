#pragma once
/// @file
/// @brief decent's CUDA umbrella: the host-safe headers plus the CUDA executor (nvcc only).

#include <decent/decent.hpp>
#include <decent/exec/cuda.cuh>
