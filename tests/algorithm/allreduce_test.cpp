#include <doctest/doctest.h>

#include <vector>

#include <decent/algorithm/allreduce.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>

using namespace decent;

TEST_CASE("allreduce makes every worker hold the exact mean of every tensor") {
  const int n = 5;
  // Values whose mean is exactly representable: worker i holds i + k/4 at coordinate k.
  std::vector<std::vector<double>> w(n, std::vector<double>(6)), b(n, std::vector<double>(2));
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < 6; ++k) w[static_cast<std::size_t>(i)][k] = i + static_cast<double>(k) / 4;
    for (std::size_t k = 0; k < 2; ++k) b[static_cast<std::size_t>(i)][k] = -2.0 * i;
  }
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    const auto r = static_cast<std::size_t>(c.rank());
    allreduce<comm::inprocess, exec::host, double> avg(std::move(c), {{w[r].data(), {2, 3}}, {b[r].data(), {2}}}, {}, exec::host(1));
    avg.mix();
    CHECK(avg.step() == 1);
  });
  for (int i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < 6; ++k) CHECK(w[static_cast<std::size_t>(i)][k] == 2.0 + static_cast<double>(k) / 4);
    for (std::size_t k = 0; k < 2; ++k) CHECK(b[static_cast<std::size_t>(i)][k] == -4.0);
  }
}

TEST_CASE("allreduce in f32 leaves all workers bit-identical") {
  const int n = 7;
  std::vector<std::vector<float>> x(n, std::vector<float>(33));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < 33; ++k) x[static_cast<std::size_t>(i)][k] = 0.1f * static_cast<float>(static_cast<std::size_t>(i) * k) + 0.3f;
  sim::cluster workers(n);
  workers.run([&](comm::inprocess c) {
    const auto r = static_cast<std::size_t>(c.rank());
    allreduce<comm::inprocess, exec::host, float> avg(std::move(c), {{x[r].data(), {33}}}, {}, exec::host(1));
    avg.mix();
  });
  for (int i = 1; i < n; ++i) CHECK(x[static_cast<std::size_t>(i)] == x[0]);
}
