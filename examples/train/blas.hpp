#pragma once
// The BLAS policies of decent-train's model: row-major C = op(A)·op(B) through OpenBLAS (host) or cuBLAS (device).

#include <cstddef>

#include <cblas.h>  // OpenBLAS's (its include directory comes first: openblas_set_num_threads)

namespace train {

/// OpenBLAS's sgemm on host buffers. Use one thread per call when each worker already has a thread.
struct openblas {
  void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
            const float* b, std::size_t ldb, float* c, std::size_t ldc) const {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb), 0.0f,
                c, static_cast<int>(ldc));
  }
  /// Serial BLAS: the in-process workers are threads already.
  static void single_threaded() { openblas_set_num_threads(1); }
};

}  // namespace train
