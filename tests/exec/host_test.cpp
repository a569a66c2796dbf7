#include <doctest/doctest.h>

#include <vector>

#include <decent/exec/host.hpp>

#include "executor_checks.hpp"

template <>
struct checks::transfer<decent::exec::host> {
  template <class T>
  static decent::exec::host_buffer<T> upload(const decent::exec::host& ex, const std::vector<T>& v) {
    auto b = ex.allocate<T>(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) b.data()[i] = v[i];
    return b;
  }
  template <class T>
  static std::vector<T> download(const decent::exec::host&, const decent::exec::host_buffer<T>& b, std::size_t n) {
    return std::vector<T>(b.data(), b.data() + n);
  }
};

TEST_CASE("host executor, serial") { checks::check_all(decent::exec::host(1)); }

TEST_CASE("host executor, OpenMP team") { checks::check_all(decent::exec::host(2)); }

TEST_CASE("host reductions give the same bits for any number of threads") {
  const auto v = checks::random_vector<float>(1000003, 12);
  const double serial = decent::exec::squared_norm(decent::exec::host(1), v.data(), v.size());
  for (int threads : {2, 3, 4, 7}) CHECK(decent::exec::squared_norm(decent::exec::host(threads), v.data(), v.size()) == serial);
}

TEST_CASE("the host executor satisfies the concept and the CUDA-only one is not required") {
  static_assert(decent::exec::executor<decent::exec::host>);
  static_assert(decent::exec::executor_for<decent::exec::host, decent::memory_space::host>);
  static_assert(!decent::exec::executor_for<decent::exec::host, decent::memory_space::device>);
  CHECK(decent::exec::host(3).threads() >= 1);
}
