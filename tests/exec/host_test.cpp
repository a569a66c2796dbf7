#include <doctest/doctest.h>

#include <algorithm>
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

TEST_CASE("ordered_sum adds in exec::host::sum's order, on one thread") {
  // Sizes around the 4096-term blocks: one block, exactly one, one and a bit, several and a tail. The expected
  // value is written here: blocks summed from 0 in order, then the blocks' sums from 0 (one block: its sum).
  const auto v = checks::random_vector<float>(3 * 4096 + 5, 21);
  const decent::detail::dot_term<float> term{v.data(), v.data() + 1};
  static_assert(decent::detail::host_reduction_block == 4096 && decent::exec::host::reduction_block == 4096);
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{4097}, std::size_t{3 * 4096 + 4}}) {
    CAPTURE(n);
    double expected = 0;
    std::vector<double> blocks;
    for (std::size_t begin = 0; begin < n; begin += 4096) {
      double s = 0;
      for (std::size_t i = begin; i < std::min(n, begin + 4096); ++i) s += term(i);
      blocks.push_back(s);
    }
    if (blocks.size() == 1) expected = blocks[0];
    else
      for (const double b : blocks) expected += b;
    CHECK(decent::detail::ordered_sum(n, term) == expected);
    CHECK(decent::exec::host(2).sum(n, term) == expected);
  }
}

TEST_CASE("the host executor satisfies the concept and the CUDA-only one is not required") {
  static_assert(decent::exec::executor<decent::exec::host>);
  static_assert(decent::exec::executor_for<decent::exec::host, decent::memory_space::host>);
  static_assert(!decent::exec::executor_for<decent::exec::host, decent::memory_space::device>);
  CHECK(decent::exec::host(3).threads() >= 1);
}
