// The threaded A²CiD² runtime with parameters in device memory (exec::cuda) against the host executor.
// Part of the CUDA test binary (main in tests/exec/cuda_test.cu: exits 77 without a GPU).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/exec/cuda.cuh>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

/// Runs `Algorithm<Exec>` on ring:6 with lr = 0 (only exchanges move the state) and a deterministic rate, and
/// returns every worker's x and x̃ (host copies). Async gossip is then a pure function of the schedule.
template <class Exec, template <class> class Algorithm>
std::vector<std::vector<double>> run_on(bool device) {
  const topology::graph g = topology::ring(6);
  const parameter_layout layout{{7, 5}, {3}};
  const std::size_t d = layout.numel();
  std::vector<std::vector<double>> out(static_cast<std::size_t>(2 * g.size()));
  comm::inprocess_options world;
  if (device) {
    world.copy = &exec::device_copy;
    world.device_memory = true;
  }
  sim::cluster(g.size(), world).run([&](comm::inprocess c) {
    const int rank = c.rank();
    Exec ex;
    std::vector<double> x(d), zero(d, 0.0);
    for (std::size_t k = 0; k < d; ++k) x[k] = std::sin(1.0 + 3.0 * rank + 0.7 * static_cast<double>(k));
    auto params = ex.template allocate<double>(d);
    auto grad = ex.template allocate<double>(d);
    ex.upload(params.data(), x.data(), d);
    ex.upload(grad.data(), zero.data(), d);
    typename Algorithm<Exec>::options o;
    o.control = rate_control::deterministic;
    o.lr = 0;
    o.average_at_start = false;
    o.average_at_stop = false;
    Algorithm<Exec> algo(g, std::move(c), parameters<double>::packed(params.data(), layout, Exec::space), o);
    algo.start();
    for (int t = 0; t < 60; ++t) algo.step(std::span<const double>(grad.data(), d));
    algo.stop();
    ex.download(x.data(), params.data(), d);
    out[static_cast<std::size_t>(rank)] = x;
    if (algo.x_tilde()) {
      std::vector<double> tilde(d);
      ex.download(tilde.data(), algo.x_tilde(), d);
      out[static_cast<std::size_t>(g.size() + rank)] = tilde;
    }
  });
  return out;
}

template <class Exec>
using async_t = async_gossip<topology::graph, comm::inprocess, Exec, double>;
template <class Exec>
using acid_t = a2cid2<topology::graph, comm::inprocess, Exec, double>;
template <class Exec>
using low_rank_t = async_gossip<topology::graph, comm::inprocess, Exec, double, compress::low_rank<Exec, double>>;

}  // namespace

TEST_CASE("asynchronous gossip on the CUDA executor equals the host executor (a pure function of the schedule)") {
  const auto host = run_on<exec::host, async_t>(false), device = run_on<exec::cuda, async_t>(true);
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t k = 0; k < host[i].size(); ++k) CHECK(device[i][k] == doctest::Approx(host[i][k]).epsilon(1e-12));
  const auto host_lr = run_on<exec::host, low_rank_t>(false), device_lr = run_on<exec::cuda, low_rank_t>(true);
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t k = 0; k < host_lr[i].size(); ++k)
      CHECK(device_lr[i][k] == doctest::Approx(host_lr[i][k]).epsilon(1e-9).scale(1e-12));
}

TEST_CASE("a2cid2 on the CUDA executor conserves the sum of x + x~") {
  const auto device = run_on<exec::cuda, acid_t>(true);
  double start = 0, end = 0;
  for (int i = 0; i < 6; ++i)
    for (std::size_t k = 0; k < device[0].size(); ++k) {
      start += 2 * std::sin(1.0 + 3.0 * i + 0.7 * static_cast<double>(k));
      end += device[static_cast<std::size_t>(i)][k] + device[static_cast<std::size_t>(6 + i)][k];
    }
  CHECK(std::abs(end - start) <= 1e-12 * (1 + std::abs(start)));
}
