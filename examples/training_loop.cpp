// Adding decent to your own training loop, in one file.
//
// Eight workers (threads here; processes with the MPI communicator later) each fit a linear model y = w·x + b
// to their own data. Each owns its parameters in its own memory; decent only holds views of them. After the
// local optimizer step, one call mixes the parameters with the neighbours on a ring.
#include <cmath>
#include <cstdio>
#include <vector>

#include <decent/decent.hpp>
#include <decent/sim/cluster.hpp>  // the in-process threads that stand for the workers

int main() {
  constexpr int workers = 8, features = 4, steps = 200;
  const double true_w[features] = {1.0, -2.0, 0.5, 3.0};
  std::vector<double> final_error(workers);

  decent::sim::cluster cluster(workers);
  cluster.run([&](decent::comm::inprocess comm) {
    const int rank = comm.rank();
    const decent::random_stream data{7, 0, static_cast<std::uint32_t>(rank)};

    // The user's model: two tensors in the user's own memory.
    std::vector<double> w(features, 0.0), b(1, 0.0);
    decent::parameters params{w, b};  // parameters<double>: decent takes the vectors as 1-D tensors

    // Gossip on a ring, on the host executor (one thread per worker already).
    using gossip_t = decent::gossip<decent::topology::graph, decent::comm::inprocess, decent::exec::host, double>;
    gossip_t mixer(decent::topology::ring(workers), std::move(comm), params, {}, decent::exec::host(1));

    for (int step = 0; step < steps; ++step) {
      // 1. The user's forward/backward on a local batch of 16 samples (worker-specific offset: heterogeneous).
      std::vector<double> grad_w(features, 0.0);
      double grad_b = 0;
      for (int s = 0; s < 16; ++s) {
        const auto k = static_cast<std::uint64_t>((step * 16 + s) * (features + 1));
        double x[features], y = 0.1 * rank, prediction = b[0];
        for (int f = 0; f < features; ++f) {
          x[f] = data.normal(k + static_cast<std::uint64_t>(f));
          y += true_w[f] * x[f];
          prediction += w[static_cast<std::size_t>(f)] * x[f];
        }
        const double residual = (prediction - y) / 16;
        for (int f = 0; f < features; ++f) grad_w[static_cast<std::size_t>(f)] += residual * x[f];
        grad_b += residual;
      }
      // 2. The user's optimizer step on the user's memory.
      for (int f = 0; f < features; ++f) w[static_cast<std::size_t>(f)] -= 0.1 * grad_w[static_cast<std::size_t>(f)];
      b[0] -= 0.1 * grad_b;
      // 3. decent: communicate and mix. The parameters now hold the mixed model.
      mixer.mix();
    }
    double error = 0;
    for (int f = 0; f < features; ++f) error += std::pow(w[static_cast<std::size_t>(f)] - true_w[f], 2);
    final_error[static_cast<std::size_t>(rank)] = std::sqrt(error);
  });
  for (int r = 0; r < workers; ++r) std::printf("worker %d: |w - w*| = %.4f\n", r, final_error[static_cast<std::size_t>(r)]);
  return 0;
}
