#pragma once
// decent-train's BLAS policy on a GPU: cuBLAS sgemm on the worker's stream (row-major through the transpose
// identity C^T = op(B)^T op(A)^T: cuBLAS is column-major).

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace train {

class cublas {
 public:
  explicit cublas(cudaStream_t stream) {
    cublasHandle_t h = nullptr;
    check(cublasCreate(&h), "cublasCreate");
    handle_.reset(h, [](cublasHandle_t p) { cublasDestroy(p); });
    check(cublasSetStream(h, stream), "cublasSetStream");
  }
  void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
            const float* b, std::size_t ldb, float* c, std::size_t ldc) const {
    const float one = 1.0f, zero = 0.0f;
    check(cublasSgemm(handle_.get(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                      static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &one, b, static_cast<int>(ldb), a,
                      static_cast<int>(lda), &zero, c, static_cast<int>(ldc)),
          "cublasSgemm");
  }

 private:
  static void check(cublasStatus_t s, const char* call) {
    if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(call) + " failed with status " + std::to_string(static_cast<int>(s)));
  }
  std::shared_ptr<std::remove_pointer_t<cublasHandle_t>> handle_;
};

}  // namespace train
