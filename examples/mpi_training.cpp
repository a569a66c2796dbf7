// Decentralized training across processes: `mpirun -np 4 --mca btl self,tcp build/examples/example_mpi_training`
// (TCP: a dead process then ends its neighbours' waits at decent's deadline; see README, "Dead processes").
//
// Each process is one worker fitting y = w·x + b to its own shifted data, mixing with RelaySGD over a double binary
// tree. Rank and size come from the launcher (mpirun, srun or torchrun-style variables); every worker checks at the
// first mix that all built the same topology, algorithm and layout; halfway, each saves a checkpoint of the
// algorithm's state with its model, then training continues from it as a restarted job would.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include <decent/comm/launch.hpp>
#include <decent/comm/mpi.hpp>
#include <decent/decent.hpp>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  const decent::comm::launch_info job = decent::comm::detect_launch();
  constexpr int features = 4, steps = 200;
  const double true_w[features] = {1.0, -2.0, 0.5, 3.0};
  const decent::random_stream data{7, 0, static_cast<std::uint32_t>(job.rank)};

  std::vector<double> w(features, 0.0), b(1, 0.0);
  decent::parameters<double> params{{w.data(), {features}}, {b.data(), {1}}};
  using relay_t = decent::relaysgd<decent::topology::double_binary_tree, decent::comm::mpi, decent::exec::host, double>;
  decent::comm::mpi_options deadline;
  deadline.deadline = std::chrono::seconds(30);  // a dead or stalled peer is an error after 30 s, not a hang
  std::vector<std::byte> checkpoint;
  std::vector<double> saved_w, saved_b;

  auto train = [&](relay_t& relay, int from, int to) {
    for (int step = from; step < to; ++step) {
      std::vector<double> grad_w(features, 0.0);
      double grad_b = 0;
      for (int s = 0; s < 16; ++s) {
        const auto k = static_cast<std::uint64_t>((step * 16 + s) * (features + 1));
        double x[features], y = 0.1 * job.rank, prediction = b[0];
        for (int f = 0; f < features; ++f) {
          x[f] = data.normal(k + static_cast<std::uint64_t>(f));
          y += true_w[f] * x[f];
          prediction += w[static_cast<std::size_t>(f)] * x[f];
        }
        const double residual = (prediction - y) / 16;
        for (int f = 0; f < features; ++f) grad_w[static_cast<std::size_t>(f)] += residual * x[f];
        grad_b += residual;
      }
      for (int f = 0; f < features; ++f) w[static_cast<std::size_t>(f)] -= 0.1 * grad_w[static_cast<std::size_t>(f)];
      b[0] -= 0.1 * grad_b;
      relay.mix();
    }
  };

  try {
    {
      relay_t relay(decent::topology::double_binary_tree(job.size), decent::comm::mpi(MPI_COMM_WORLD, deadline), params);
      train(relay, 0, steps / 2);
      checkpoint = relay.save();  // the algorithm's state; the model is the user's to save
      saved_w = w;
      saved_b = b;
    }
    // A restarted job: a new algorithm object, the saved model, the saved state.
    w = saved_w;
    b = saved_b;
    relay_t relay(decent::topology::double_binary_tree(job.size), decent::comm::mpi(MPI_COMM_WORLD, deadline), params);
    relay.load(checkpoint);
    train(relay, steps / 2, steps);
  } catch (const decent::comm_error& e) {
    std::fprintf(stderr, "rank %d: %s\n", job.rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  double error = 0;
  for (int f = 0; f < features; ++f) error += std::pow(w[static_cast<std::size_t>(f)] - true_w[f], 2);
  std::printf("rank %d of %d (launched by %s): |w - w*| = %.4f, b = %.4f\n", job.rank, job.size,
              job.launcher.c_str(), std::sqrt(error), b[0]);
  MPI_Finalize();
  return 0;
}
