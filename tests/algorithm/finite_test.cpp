// The opt-in finiteness check (check_finite): a NaN or an infinity is reported by the worker it appeared on (or
// the first to receive it), with the step and the parameter, instead of spreading to every worker.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/core/finite.hpp>
#include <decent/sim/cluster.hpp>
#include <decent/topology/topologies.hpp>

using namespace decent;

namespace {

const parameter_layout layout{{2, 3}, {4}};  // 10 parameters: tensor 0 = [0, 6), tensor 1 = [6, 10)
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

/// Gossip on ring:6 for 4 steps; worker 2 writes `bad` into parameter 7 after step 1 (tensor 1, element 1).
/// `checking(rank)` says who has the check on. Returns every worker's parameters (when the run finishes).
template <class Checking>
std::vector<std::vector<double>> run_gossip(double bad, Checking checking) {
  std::vector<std::vector<double>> x(6, std::vector<double>(layout.numel()));
  sim::cluster(6, comm::inprocess_options{std::chrono::milliseconds(20000)}).run([&](comm::inprocess c) {
    const int rank = c.rank();
    std::vector<double>& mine = x[static_cast<std::size_t>(rank)];
    for (std::size_t k = 0; k < mine.size(); ++k) mine[k] = std::sin(rank + 0.3 * static_cast<double>(k));
    gossip<topology::graph, comm::inprocess, exec::host, double> g(topology::ring(6), std::move(c),
                                                                   parameters<double>::packed(mine.data(), layout));
    g.check_finite(checking(rank));
    CHECK(g.checks_finite() == checking(rank));
    for (int t = 0; t < 4; ++t) {
      if (t == 1 && rank == 2) mine[7] = bad;
      g.mix();
    }
  });
  return x;
}

}  // namespace

TEST_CASE("first_non_finite: the first NaN or infinity, or nothing") {
  const exec::host ex(1);
  std::vector<float> v(1000, 1.5f);
  CHECK_FALSE(first_non_finite(ex, v.data(), v.size()).has_value());
  CHECK_FALSE(first_non_finite(ex, v.data(), 0).has_value());
  v[640] = std::numeric_limits<float>::infinity();
  v[900] = std::numeric_limits<float>::quiet_NaN();
  CHECK(first_non_finite(ex, v.data(), v.size()) == 640u);
  v[640] = -std::numeric_limits<float>::max();  // large but finite
  CHECK(first_non_finite(ex, v.data(), v.size()) == 900u);
}

TEST_CASE("without the check, one worker's NaN reaches every worker of ring:6 within 3 steps") {
  const auto x = run_gossip(not_a_number, [](int) { return false; });
  for (const auto& worker : x) CHECK(std::isnan(worker[7]));
}

TEST_CASE("with the check on every worker, the worker whose own update made the NaN reports it, before sending") {
  CHECK_THROWS_WITH_AS(run_gossip(not_a_number, [](int) { return true; }),
                       "worker 2 at step 1: parameter 7 (tensor 1 of shape [4], element 1) is nan before mixing: this "
                       "worker's own update (its local step or its gradient) made it so; nothing was sent",
                       error);
  CHECK_THROWS_WITH_AS(run_gossip(std::numeric_limits<double>::infinity(), [](int) { return true; }),
                       doctest::Contains("worker 2 at step 1: parameter 7 (tensor 1 of shape [4], element 1) is inf"),
                       error);
}

TEST_CASE("with the check on the receivers only, the first neighbour to mix it in reports where it came from") {
  try {
    (void)run_gossip(not_a_number, [](int rank) { return rank != 2; });
    FAIL("the run should have failed");
  } catch (const error& e) {
    const std::string what = e.what();
    CAPTURE(what);
    const bool neighbour = what.rfind("worker 1 at step 1: ", 0) == 0 || what.rfind("worker 3 at step 1: ", 0) == 0;
    CHECK(neighbour);
    CHECK(what.find("after mixing, finite before: it came from a neighbour's message") != std::string::npos);
  }
}

TEST_CASE("a2cid2 with the check: a NaN in a worker's model stops the run at its next exchange, named") {
  std::vector<std::vector<double>> x(2, std::vector<double>(layout.numel(), 0.25));
  CHECK_THROWS_WITH_AS(
      sim::cluster(2, comm::inprocess_options{std::chrono::milliseconds(20000)}).run([&](comm::inprocess c) {
        const int rank = c.rank();
        async_options o;
        o.step_time = true;
        o.average_at_stop = false;
        a2cid2<topology::graph, comm::inprocess, exec::host, double> a(
            topology::ring(2), std::move(c), parameters<double>::packed(x[static_cast<std::size_t>(rank)].data(), layout),
            o);
        a.check_finite(true);
        a.start();
        CHECK_THROWS_AS(a.check_finite(false), invalid_argument);  // not while running
        const std::vector<double> g(layout.numel(), 0.0);
        std::vector<double> bad_gradient = g;
        bad_gradient[3] = not_a_number;
        for (int t = 0; t < 50; ++t) a.step(rank == 1 && t == 5 ? bad_gradient : g);
        a.stop();
      }),
      doctest::Contains("worker 1 at step "), error);
}
