// Built with -fsanitize=thread (and without OpenMP): the threaded A²CiD² runtime must run its exchanges with no
// data race and no deadlock. ThreadSanitizer makes the process exit non-zero on any report.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "algorithm/async_runs.hpp"

using namespace decent;
using namespace decent::test;

TEST_CASE("a2cid2 threads under ThreadSanitizer: 8 workers, more than 10,000 exchanges") {
  const topology::graph g = topology::ring(8);
  async_options o;
  o.rate = 1;
  o.control = rate_control::deterministic;
  o.lr = 0;  // the gradient path runs, but only communication moves (x, x̃): the sum is checked exactly
  o.average_at_start = false;
  o.average_at_stop = false;
  run_settings s;
  s.d = 64;
  s.steps = 2'600;
  const auto rs = run_threads<a2cid2<topology::graph, comm::inprocess, exec::host, double>>(g, o, s);
  std::int64_t endpoint_exchanges = 0;
  for (const auto& r : rs) {
    CHECK(r.gradients == s.steps);
    endpoint_exchanges += r.exchanges;
  }
  MESSAGE("exchanges: ", endpoint_exchanges / 2);
  CHECK(endpoint_exchanges / 2 >= 10'000);
  double start = 0;
  for (int i = 0; i < g.size(); ++i)
    for (const double v : initial(g.size(), i, s.d)) start += 2 * v;
  CHECK(std::abs(total_mass(rs) - start) <= 1e-12 * (1 + std::abs(start)));
}

TEST_CASE("a2cid2 with low-rank exchanges under ThreadSanitizer") {
  compressed_async_options<compress::low_rank_options> o;
  o.lr = 0.05;
  o.compression.rank = 2;
  run_settings s;
  s.steps = 300;
  s.with_gradient = true;
  const auto rs = run_threads<a2cid2_low_rank<topology::graph, comm::inprocess, exec::host, double>>(
      topology::ring(6), o, s, parameter_layout{{6, 4}, {5}});
  for (const auto& r : rs) CHECK(r.gradients == s.steps);
}

TEST_CASE("a2cid2 with patience (headers first, skipped rounds) under ThreadSanitizer") {
  async_options o;
  o.lr = 0;
  o.average_at_start = false;
  o.average_at_stop = false;
  o.patience = std::chrono::microseconds(100);
  run_settings s;
  s.steps = 400;
  s.compute_of = [](int rank) { return std::chrono::microseconds(rank == 0 ? 500 : 20); };
  const auto rs = run_threads<a2cid2<topology::graph, comm::inprocess, exec::host, double>>(topology::ring(8), o, s);
  double start = 0;
  for (int i = 0; i < 8; ++i)
    for (const double v : initial(8, i, s.d)) start += 2 * v;
  CHECK(std::abs(total_mass(rs) - start) <= 1e-12 * (1 + std::abs(start)));
}
