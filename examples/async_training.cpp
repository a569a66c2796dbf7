// A²CiD² in your own training loop: workers that never wait for a global step.
//
// Eight workers (threads here) fit a linear model y = w·x + b to their own, shifted data, at different speeds.
// Each owns its parameters; decent holds views of them and a communication thread per worker that averages
// with ring neighbours while the user computes gradients. The user's own optimizer produces an update Δ and hands
// it over (`apply`), instead of writing the parameters: decent applies it in order with the exchanges.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include <decent/decent.hpp>
#include <decent/sim/cluster.hpp>  // the in-process threads that stand for the workers

int main() {
  constexpr int workers = 8, features = 4, steps = 300;
  const double true_w[features] = {1.0, -2.0, 0.5, 3.0};
  std::vector<double> final_error(workers);
  std::vector<long long> exchanges(workers);

  decent::sim::cluster cluster(workers);
  cluster.run([&](decent::comm::inprocess comm) {
    const int rank = comm.rank();
    const decent::random_stream data{7, 0, static_cast<std::uint32_t>(rank)};

    // The user's model: two tensors in the user's own memory.
    std::vector<double> w(features, 0.0), b(1, 0.0);
    decent::parameters<double> params{{w.data(), {features}}, {b.data(), {1}}};

    // A²CiD² on a ring: one exchange per gradient on average (Poisson), on the host executor.
    using acid_t = decent::a2cid2<decent::topology::graph, decent::comm::inprocess, decent::exec::host, double>;
    decent::async_options options;
    options.rate = 1;
    acid_t acid(decent::topology::ring(workers), std::move(comm), params, options, decent::exec::host(1),
                decent::exec::host(1));
    acid.start();  // all workers: average the starting points, launch the communication threads

    std::vector<double> delta(features + 1);  // packed like the parameters: w, then b
    for (int step = 0; step < steps; ++step) {
      // 1. The user's forward/backward on 16 samples; odd workers are slower.
      std::this_thread::sleep_for(std::chrono::microseconds(rank % 2 ? 400 : 200));
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
      // 2. The user's optimizer computes the update; decent applies it (to x and x̃) after the exchanges that
      //    completed meanwhile, and writes the parameters.
      for (int f = 0; f < features; ++f) delta[static_cast<std::size_t>(f)] = -0.1 * grad_w[static_cast<std::size_t>(f)];
      delta[features] = -0.1 * grad_b;
      acid.apply(delta);
    }
    acid.stop();  // all workers: leave the neighbours cleanly, then average the models
    double error = 0;
    for (int f = 0; f < features; ++f) error += std::pow(w[static_cast<std::size_t>(f)] - true_w[f], 2);
    final_error[static_cast<std::size_t>(rank)] = std::sqrt(error);
    exchanges[static_cast<std::size_t>(rank)] = acid.exchanges();
  });
  for (int r = 0; r < workers; ++r)
    std::printf("worker %d: %lld exchanges, |w - w*| = %.4f\n", r, exchanges[static_cast<std::size_t>(r)],
                final_error[static_cast<std::size_t>(r)]);
  return 0;
}
