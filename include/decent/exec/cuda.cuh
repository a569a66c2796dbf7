#pragma once
/// @file
/// @brief The CUDA executor: the same functors as `exec::host`, launched as kernels on one CUDA stream.
///
/// Needs nvcc. All calls are asynchronous on the executor's stream, except the reductions (`sum`, `dot`,
/// `squared_norm`), which return a host value and therefore synchronize the stream.
/// Determinism: reductions use a fixed grid and a fixed tree order, so repeated runs on the same device give
/// bit-identical results; they are not bit-identical to the host executor (different summation order).
/// Memory: buffers come from a `memory_resource` (default: stream-ordered `cudaMallocAsync` on the executor's
/// stream) and are zeroed on that stream — no device-wide synchronization per buffer.
/// Constructing an executor makes no CUDA call: a GPU-less machine can build and pass it around.

#if !defined(__CUDACC__)
#error "decent/exec/cuda.cuh needs nvcc; host code uses decent/exec/host.hpp"
#endif

#include <cuda/stream_ref>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <utility>

#include <decent/detail/cuda_check.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/exec/executor.hpp>

#define DECENT_KERNEL __global__ __attribute__((visibility("hidden")))

namespace decent::exec {

/// Where device buffers come from: memory ordered on a stream (allocation, use and release happen in the
/// stream's order, so no call has to wait for the whole device). An abstract class, as RMM's, so that an
/// executor can hold any resource without becoming a template; the resource must outlive its buffers.
class memory_resource {
 public:
  virtual ~memory_resource() = default;
  /// `bytes` of device memory, usable by work enqueued on `stream` after this call.
  [[nodiscard]] void* allocate(std::size_t bytes, ::cuda::stream_ref stream) { return do_allocate(bytes, stream); }
  /// Returns memory once the work enqueued on `stream` before this call is done with it; never throws.
  void deallocate(void* p, std::size_t bytes, ::cuda::stream_ref stream) noexcept { do_deallocate(p, bytes, stream); }
  /// Whether memory is ordered on the stream it was allocated for (true), or usable by every stream at once.
  [[nodiscard]] virtual bool stream_ordered() const noexcept { return true; }

 private:
  virtual void* do_allocate(std::size_t bytes, ::cuda::stream_ref stream) = 0;
  virtual void do_deallocate(void* p, std::size_t bytes, ::cuda::stream_ref stream) noexcept = 0;
};

/// Stream-ordered allocation from the device's default memory pool (cudaMallocAsync / cudaFreeAsync): the
/// default. Needs a device with memory pools (every GPU of compute capability ≥ 6.0 on a recent driver); on one
/// without, allocating throws `cuda_error` naming the fix (`synchronous_memory_resource`).
class async_memory_resource final : public memory_resource {
  void* do_allocate(std::size_t bytes, ::cuda::stream_ref stream) override {
    int device = 0, pools = 0;
    DECENT_CUDA_TRY(cudaGetDevice(&device));
    DECENT_CUDA_TRY(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
    if (pools == 0)
      throw cuda_error(decent::detail::concat("CUDA device ", device, " has no memory pools (cudaMallocAsync): ",
                                              "give exec::cuda a decent::exec::synchronous_memory_resource"));
    void* p = nullptr;
    DECENT_CUDA_TRY(cudaMallocAsync(&p, bytes, stream.get()));
    return p;
  }
  void do_deallocate(void* p, std::size_t, ::cuda::stream_ref stream) noexcept override {
    DECENT_CUDA_TRY_NO_THROW(cudaFreeAsync(p, stream.get()));
  }
};

/// cudaMalloc / cudaFree: memory usable by every stream at once, at the price of the implicit device-wide
/// synchronization of cudaFree. For memory shared with code that does not follow the executor's stream.
class synchronous_memory_resource final : public memory_resource {
 public:
  [[nodiscard]] bool stream_ordered() const noexcept override { return false; }

 private:
  void* do_allocate(std::size_t bytes, ::cuda::stream_ref) override {
    void* p = nullptr;
    DECENT_CUDA_TRY(cudaMalloc(&p, bytes));
    return p;
  }
  void do_deallocate(void* p, std::size_t, ::cuda::stream_ref) noexcept override {
    DECENT_CUDA_TRY_NO_THROW(cudaFree(p));
  }
};

/// The resource of executors built without one: stream-ordered (`async_memory_resource`).
inline memory_resource& default_memory_resource() {
  static async_memory_resource resource;
  return resource;
}

/// An owning buffer of device memory from a `memory_resource`, zero-filled, ordered on one stream: it is
/// allocated and zeroed on the stream (asynchronously) and released on it, so work on another stream that
/// uses it must be ordered after the stream (e.g. by synchronizing it once after setting up), and must be done
/// with it before it is released. From a resource that is not stream-ordered (`synchronous_memory_resource`)
/// the zero fill completes before the constructor returns, so every stream may use the buffer at once.
/// Move-only; freeing never throws.
template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  /// n zeros on `stream` (default: the legacy default stream) from `resource`.
  explicit device_buffer(std::size_t n, ::cuda::stream_ref stream = ::cuda::stream_ref{cudaStream_t{}},
                         memory_resource& resource = default_memory_resource())
      : size_(n), stream_(stream), resource_(&resource) {
    if (n == 0) return;
    data_ = static_cast<T*>(resource_->allocate(n * sizeof(T), stream_));
    try {
      DECENT_CUDA_TRY(cudaMemsetAsync(data_, 0, n * sizeof(T), stream_.get()));
      if (!resource_->stream_ordered()) DECENT_CUDA_TRY(cudaStreamSynchronize(stream_.get()));
    } catch (...) {
      reset();
      throw;
    }
  }
  device_buffer(device_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), stream_(o.stream_),
        resource_(o.resource_) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    if (this != &o) {
      reset();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      stream_ = o.stream_;
      resource_ = o.resource_;
    }
    return *this;
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  ~device_buffer() { reset(); }

  [[nodiscard]] T* data() { return data_; }
  [[nodiscard]] const T* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  /// The stream the buffer is ordered on.
  [[nodiscard]] ::cuda::stream_ref stream() const { return stream_; }

 private:
  void reset() noexcept {
    if (data_) resource_->deallocate(data_, size_ * sizeof(T), stream_);
    data_ = nullptr;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
  ::cuda::stream_ref stream_{cudaStream_t{}};
  memory_resource* resource_ = &default_memory_resource();
};

namespace detail {

inline constexpr unsigned block_threads = 256;
inline constexpr unsigned max_grid = 4096;
/// Fixed number of blocks of the deterministic reduction (its first pass).
inline constexpr unsigned reduction_grid = 512;

template <class F>
DECENT_KERNEL void for_each_kernel(std::size_t n, F f) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

/// Tree sum of one value per thread of the block; thread 0 returns the block's total.
__device__ inline double block_reduce(double v) {
  __shared__ double lane[block_threads];
  lane[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = block_threads / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) lane[threadIdx.x] += lane[threadIdx.x + s];
    __syncthreads();
  }
  return lane[0];
}

/// First pass: block b sums terms b·T + t, b·T + t + G·T, ... in a fixed order; writes partial[b].
template <class F>
DECENT_KERNEL void reduce_partials_kernel(std::size_t n, F term, double* partial) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  double v = 0;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) v += term(i);
  const double total = block_reduce(v);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

/// Second pass: one block sums the partials.
DECENT_KERNEL inline void reduce_final_kernel(unsigned count, const double* partial, double* out) {
  double v = 0;
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) v += partial[i];
  const double total = block_reduce(v);
  if (threadIdx.x == 0) *out = total;
}

inline unsigned grid_for(std::size_t n, unsigned cap) {
  const std::size_t blocks = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(blocks, cap)));
}

}  // namespace detail

/// Runs kernels on a CUDA stream (`cuda::stream_ref`; default: the legacy default stream) and allocates its
/// buffers from a `memory_resource` (default: stream-ordered, `cudaMallocAsync` on the executor's stream), so
/// that setting up an algorithm never waits for the whole device. Not thread-safe: the reductions reuse a
/// scratch buffer, so give each thread its own executor (they may share a stream). The stream and the resource
/// must outlive the executor and its buffers.
class cuda {
 public:
  using executor_concept = executor_tag;
  static constexpr memory_space space = memory_space::device;
  template <class T>
  using buffer = device_buffer<T>;

  /// (`exec::cuda(nullptr)` does not compile: `cuda::stream_ref` refuses a null pointer literal; the default is
  /// the legacy default stream, and a `cudaStream_t` converts.)
  explicit cuda(::cuda::stream_ref stream = ::cuda::stream_ref{cudaStream_t{}},
                memory_resource& resource = default_memory_resource())
      : stream_(stream), resource_(&resource) {}

  [[nodiscard]] ::cuda::stream_ref stream() const { return stream_; }
  [[nodiscard]] memory_resource& resource() const { return *resource_; }

  /// Launches f(i) for every i in [0, n) (grid-stride kernel); asynchronous.
  template <class F>
  void for_each(std::size_t n, F f) const {
    if (n == 0) return;
    detail::for_each_kernel<<<detail::grid_for(n, detail::max_grid), detail::block_threads, 0, stream_.get()>>>(n, f);
    DECENT_CUDA_TRY(cudaGetLastError());
  }

  /// Σ_{i<n} term(i) in double with a fixed grid and order; synchronizes the stream.
  template <class F>
  [[nodiscard]] double sum(std::size_t n, F term) const {
    if (n == 0) return 0;
    if (scratch_.size() == 0) scratch_ = allocate<double>(detail::reduction_grid + 1);
    const unsigned grid = detail::grid_for(n, detail::reduction_grid);
    detail::reduce_partials_kernel<<<grid, detail::block_threads, 0, stream_.get()>>>(n, term, scratch_.data());
    DECENT_CUDA_TRY(cudaGetLastError());
    detail::reduce_final_kernel<<<1, detail::block_threads, 0, stream_.get()>>>(grid, scratch_.data(),
                                                                           scratch_.data() + detail::reduction_grid);
    DECENT_CUDA_TRY(cudaGetLastError());
    double result = 0;
    DECENT_CUDA_TRY(cudaMemcpyAsync(&result, scratch_.data() + detail::reduction_grid, sizeof(double),
                                    cudaMemcpyDeviceToHost, stream_.get()));
    DECENT_CUDA_TRY(cudaStreamSynchronize(stream_.get()));
    return result;
  }

  template <class T>
  void copy(T* dst, const T* src, std::size_t n) const {
    if (n == 0) return;
    DECENT_CUDA_TRY(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream_.get()));
  }
  /// Host → device copy on the stream (asynchronous; the host buffer must stay valid until it completes).
  template <class T>
  void upload(T* dst, const T* host_src, std::size_t n) const {
    if (n == 0) return;
    DECENT_CUDA_TRY(cudaMemcpyAsync(dst, host_src, n * sizeof(T), cudaMemcpyHostToDevice, stream_.get()));
  }
  /// Device → host copy; synchronizes the stream so the host data is ready on return.
  template <class T>
  void download(T* host_dst, const T* src, std::size_t n) const {
    if (n == 0) return;
    DECENT_CUDA_TRY(cudaMemcpyAsync(host_dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream_.get()));
    synchronize();
  }
  template <class T>
  [[nodiscard]] buffer<T> allocate(std::size_t n) const {
    return buffer<T>(n, stream_, *resource_);
  }
  void synchronize() const { DECENT_CUDA_TRY(cudaStreamSynchronize(stream_.get())); }

 private:
  ::cuda::stream_ref stream_;
  memory_resource* resource_;
  mutable device_buffer<double> scratch_;
};

static_assert(executor<cuda>);

/// A copy function for the in-process communicator when workers hold device buffers: any combination of host
/// and device pointers (cudaMemcpyDefault, unified addressing), complete when it returns (a plain cudaMemcpy
/// between device buffers may return before the copy landed). It runs on the calling thread's per-thread
/// stream, which orders after the legacy default stream. Throws cuda_error on failure.
inline void device_copy(void* dst, const void* src, std::size_t bytes) {
  DECENT_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, cudaStreamPerThread));
  DECENT_CUDA_TRY(cudaStreamSynchronize(cudaStreamPerThread));
}

}  // namespace decent::exec
