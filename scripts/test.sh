#!/usr/bin/env bash
# Installs what is missing, builds everything (host, CUDA, MPI and NCCL targets) and runs all tests.
# CUDA code is compiled for one architecture (80); GPU tests report "Skipped" on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

export PATH=/usr/local/cuda/bin:$PATH
cuda=OFF
if [[ -x ${CUDACXX:-/usr/local/cuda/bin/nvcc} ]]; then
  export CUDACXX=${CUDACXX:-/usr/local/cuda/bin/nvcc} CUDAToolkit_ROOT=${CUDAToolkit_ROOT:-/usr/local/cuda}
  cuda=ON
else
  echo "warning: no nvcc found (set CUDACXX): building without the CUDA and NCCL parts" >&2
fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache} CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDECENT_WERROR=ON \
  -DDECENT_BUILD_TESTS=ON -DDECENT_BUILD_EXAMPLES=ON -DDECENT_BUILD_BENCHMARKS=ON \
  -DDECENT_ENABLE_CUDA=$cuda -DDECENT_ENABLE_NCCL=$cuda -DDECENT_ENABLE_MPI=ON \
  -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES:-80} \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 600
