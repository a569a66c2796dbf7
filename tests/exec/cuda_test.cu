// The executor checks on exec::cuda. Compiled by nvcc in CI; exits 77 (ctest: Skipped) without a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include <decent/detail/cuda_check.hpp>
#include <decent/exec/cuda.cuh>
#include <decent/exec/host.hpp>
#include <decent/mixing/acid.hpp>

#include "executor_checks.hpp"

template <>
struct checks::transfer<decent::exec::cuda> {
  template <class T>
  static decent::exec::device_buffer<T> upload(const decent::exec::cuda& ex, const std::vector<T>& v) {
    auto b = ex.allocate<T>(v.size());
    ex.upload(b.data(), v.data(), v.size());  // ordered after the buffer's zero fill on the same stream
    ex.synchronize();
    return b;
  }
  template <class T>
  static std::vector<T> download(const decent::exec::cuda& ex, const decent::exec::device_buffer<T>& b, std::size_t n) {
    ex.synchronize();
    std::vector<T> v(n);
    if (n) DECENT_CUDA_TRY(cudaMemcpy(v.data(), b.data(), n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

TEST_CASE("cuda executor on the default stream") { checks::check_all(decent::exec::cuda{}); }

TEST_CASE("parameters check where their memory is: device memory declared as host, and the reverse, are errors") {
  const decent::exec::cuda ex;
  auto device = ex.allocate<float>(6);
  std::vector<float> host(6);
  CHECK_NOTHROW((decent::parameters<float>{{{device.data(), {2, 3}}}, decent::memory_space::device}));
  CHECK_NOTHROW((decent::parameters<float>{{{host.data(), {2, 3}}}, decent::memory_space::host}));
  CHECK_THROWS_WITH_AS((decent::parameters<float>{{{device.data(), {2, 3}}}, decent::memory_space::host}),
                       doctest::Contains("is in device memory but declared as host memory"), decent::invalid_argument);
  CHECK_THROWS_WITH_AS((decent::parameters<float>{{{host.data(), {2, 3}}}, decent::memory_space::device}),
                       doctest::Contains("is declared as device memory but its pointer is host memory"),
                       decent::invalid_argument);
  std::vector<float> view_of_host(6);
  CHECK_THROWS_AS((decent::parameters<float>{decent::on_device(view_of_host)}), decent::invalid_argument);
}

TEST_CASE("cuda executor on its own stream") {
  cudaStream_t stream{};
  DECENT_CUDA_TRY(cudaStreamCreate(&stream));
  checks::check_all(decent::exec::cuda{stream});
  DECENT_CUDA_TRY(cudaStreamDestroy(stream));
}

/// Counts what goes through it, and on which stream, then hands the work to the stream-ordered resource.
class counting_resource final : public decent::exec::memory_resource {
 public:
  int allocations = 0, deallocations = 0;
  std::size_t live_bytes = 0;
  cudaStream_t last_stream = nullptr;

 private:
  void* do_allocate(std::size_t bytes, cuda::stream_ref stream) override {
    ++allocations;
    live_bytes += bytes;
    last_stream = stream.get();
    return decent::exec::default_memory_resource().allocate(bytes, stream);
  }
  void do_deallocate(void* p, std::size_t bytes, cuda::stream_ref stream) noexcept override {
    ++deallocations;
    live_bytes -= bytes;
    last_stream = stream.get();
    decent::exec::default_memory_resource().deallocate(p, bytes, stream);
  }
};

TEST_CASE("cuda executor: buffers come from its memory resource, zeroed and released on its stream") {
  cudaStream_t stream{};
  DECENT_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  counting_resource counting;
  {
    const decent::exec::cuda ex{stream, counting};
    {
      // Memory the pool hands out again: non-zero when freed, so the zero fill below is the buffer's own.
      auto dirty = ex.allocate<float>(1000);
      decent::exec::fill(ex, dirty.data(), 7.0f, 1000);
    }
    CHECK(counting.deallocations == 1);
    {
      auto b = ex.allocate<float>(1000);
      CHECK(counting.allocations == 2);
      CHECK(counting.live_bytes == 1000 * sizeof(float));
      CHECK(counting.last_stream == stream);
      CHECK(b.stream() == decent::exec::cuda{stream}.stream());
      std::vector<float> host(1000, 1.0f);
      ex.download(host.data(), b.data(), host.size());
      CHECK(std::count(host.begin(), host.end(), 0.0f) == 1000);  // zeroed on the stream before the download
      checks::check_all(ex);
    }
    CHECK(counting.deallocations >= 2);
  }
  CHECK(counting.allocations == counting.deallocations);  // the reduction scratch went back too
  CHECK(counting.live_bytes == 0);
  DECENT_CUDA_TRY(cudaStreamSynchronize(stream));
  DECENT_CUDA_TRY(cudaStreamDestroy(stream));
}

TEST_CASE("cuda executor with synchronous allocation (cudaMalloc) passes the same checks") {
  decent::exec::synchronous_memory_resource plain;
  checks::check_all(decent::exec::cuda{cuda::stream_ref{}, plain});
}

TEST_CASE("cuda and host executors agree on the same inputs") {
  const auto x = checks::random_vector<double>(100000, 21), y = checks::random_vector<double>(100000, 22);
  const decent::exec::cuda gpu{};
  using io = checks::transfer<decent::exec::cuda>;
  const auto dx = io::upload(gpu, x), dy = io::upload(gpu, y);
  const double host = decent::exec::dot(decent::exec::host(1), x.data(), y.data(), x.size());
  CHECK(decent::exec::dot(gpu, dx.data(), dy.data(), x.size()) == doctest::Approx(host).epsilon(1e-12));
}

// Kernel functors must be namespace-scope types (no local types as __global__ template arguments).
struct draw_kernel {
  decent::random_stream s;
  double* u;
  double* z;
  unsigned* w;
  DECENT_HD void operator()(std::size_t i) const {
    u[i] = s.uniform(i);
    z[i] = s.normal(i);
    w[i] = s.bits(i);
  }
};

TEST_CASE("random streams give the same numbers on the device") {
  const decent::random_stream s{5, 6, 7};
  const std::size_t n = 4096;
  decent::exec::device_buffer<double> u(n), z(n);
  decent::exec::device_buffer<unsigned> w(n);
  const decent::exec::cuda gpu{};
  gpu.for_each(n, draw_kernel{s, u.data(), z.data(), w.data()});
  const auto hu = checks::transfer<decent::exec::cuda>::download(gpu, u, n);
  const auto hz = checks::transfer<decent::exec::cuda>::download(gpu, z, n);
  std::vector<unsigned> hw(n);
  DECENT_CUDA_TRY(cudaMemcpy(hw.data(), w.data(), n * sizeof(unsigned), cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(hw[i] == s.bits(i));
    REQUIRE(hu[i] == s.uniform(i));                                   // bit-identical
    REQUIRE(hz[i] == doctest::Approx(s.normal(i)).epsilon(1e-14));   // libm vs CUDA math: last ulps
  }
}

TEST_CASE("A2CiD2 kernels give the same state on the device as on the host") {
  const decent::topology::acid_constants k{3.4, 0.875, 0.289281, 0.987669};
  const auto x0 = checks::random_vector<double>(5000, 31), peer = checks::random_vector<double>(5000, 32);
  const auto g = checks::random_vector<double>(5000, 33);
  const decent::exec::cuda gpu{};
  const decent::exec::host cpu(1);
  using io = checks::transfer<decent::exec::cuda>;
  auto dx = io::upload(gpu, x0), dpeer = io::upload(gpu, peer), dg = io::upload(gpu, g);
  auto dm = gpu.allocate<double>(5000);
  std::vector<double> hx = x0, hm(5000, 0.0);
  decent::mixing::acid<decent::exec::cuda, double> on_gpu(gpu, decent::parameters<double>::packed(
                                                                  dx.data(), decent::parameter_layout{{5000}},
                                                                  decent::memory_space::device),
                                                          k);
  decent::mixing::acid<decent::exec::host, double> on_cpu(cpu, decent::parameters<double>{{hx.data(), {5000}}}, k);
  on_gpu.sgd(gpu, 0.7, dg.data(), dm.data(), 0.1, 0.9);
  on_cpu.sgd(cpu, 0.7, g.data(), hm.data(), 0.1, 0.9);
  on_gpu.exchange(gpu, dpeer.data(), 1.9);
  on_cpu.exchange(cpu, peer.data(), 1.9);
  on_gpu.mix_to(gpu, 3.0);
  on_cpu.mix_to(cpu, 3.0);
  const auto x = io::download(gpu, dx, 5000);
  std::vector<double> xt(5000);
  DECENT_CUDA_TRY(cudaMemcpy(xt.data(), on_gpu.x_tilde(), 5000 * sizeof(double), cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < 5000; ++i) {
    REQUIRE(x[i] == doctest::Approx(hx[i]).epsilon(1e-13));
    REQUIRE(xt[i] == doctest::Approx(on_cpu.x_tilde()[i]).epsilon(1e-13));
  }
}

int main(int argc, char** argv) {
  if (!decent::detail::cuda_device_available()) {
    std::puts("no usable CUDA device: skipping the CUDA executor tests");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
