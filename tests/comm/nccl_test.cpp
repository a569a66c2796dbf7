// The NCCL communicator. `nccl_test` needs a GPU (exit 77 without: ctest reports "Skipped"); run with
// --without-gpu it checks instead that, on a machine without a usable GPU, joining fails with a clear comm_error
// (and skips where a GPU exists).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <decent/comm/nccl.hpp>
#include <decent/detail/cuda_check.hpp>

using namespace decent;

namespace {

bool without_gpu = false;

template <class T>
struct device_vector {
  explicit device_vector(const std::vector<T>& host) : n(host.size()) {
    DECENT_CUDA_TRY(cudaMalloc(&data, n * sizeof(T)));
    DECENT_CUDA_TRY(cudaMemcpy(data, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~device_vector() { (void)cudaFree(data); }
  device_vector(const device_vector&) = delete;
  device_vector& operator=(const device_vector&) = delete;
  [[nodiscard]] std::vector<T> host() const {
    std::vector<T> out(n);
    DECENT_CUDA_TRY(cudaMemcpy(out.data(), data, n * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
  }
  T* data = nullptr;
  std::size_t n;
};

}  // namespace

TEST_CASE("nccl without a GPU: joining fails with a clear error") {
  if (!without_gpu) return;
  CHECK_THROWS_WITH_AS(comm::nccl(comm::nccl_unique_id(), 0, 1), doctest::Contains("ncclCommInitRank failed"),
                       comm_error);
}

TEST_CASE("nccl, one rank: a batch to itself matched by tag, all-reduce, agreement, barrier, counters") {
  if (without_gpu) return;
  comm::nccl c(comm::nccl_unique_id(), 0, 1);
  CHECK(c.size() == 1);
  device_vector<double> a({1, 2, 3}), b({4, 5}), into_a({0, 0, 0}), into_b({0, 0});
  // Sends in tag order 2, 1; receives in tag order 1, 2: matched by tag, not by position.
  const comm::send_op sends[] = {{0, b.data, 2 * sizeof(double), 2}, {0, a.data, 3 * sizeof(double), 1}};
  const comm::recv_op recvs[] = {{0, into_a.data, 3 * sizeof(double), 1}, {0, into_b.data, 2 * sizeof(double), 2}};
  c.exchange(sends, recvs);
  CHECK(into_a.host() == std::vector<double>{1, 2, 3});
  CHECK(into_b.host() == std::vector<double>{4, 5});
  CHECK(c.stats() == comm::counters{5 * sizeof(double), 2, 5 * sizeof(double), 2});
  c.allreduce_sum(a.data, 3);
  CHECK(a.host() == std::vector<double>{1, 2, 3});
  CHECK(c.agree(42));
  c.barrier();
}

TEST_CASE("nccl: the unique id through a file") {
  if (without_gpu) return;
  const auto path = std::filesystem::temp_directory_path() / "decent_nccl_test_id";
  std::filesystem::remove(path);
  const ncclUniqueId written = comm::nccl_unique_id_through_file(path, 0);
  const ncclUniqueId read = comm::nccl_unique_id_through_file(path, 1, std::chrono::milliseconds(1000));
  CHECK(std::memcmp(&written, &read, sizeof written) == 0);
  std::filesystem::remove(path);
  CHECK_THROWS_AS((void)comm::nccl_unique_id_through_file(path, 1, std::chrono::milliseconds(50)), comm_error);
}

int main(int argc, char** argv) {
  for (int k = 1; k < argc; ++k) without_gpu = without_gpu || std::string(argv[k]) == "--without-gpu";
  if (decent::detail::cuda_device_available() == without_gpu) {
    std::puts(without_gpu ? "a CUDA device is present: the no-GPU check does not apply"
                          : "no usable CUDA device: skipping the NCCL tests");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
