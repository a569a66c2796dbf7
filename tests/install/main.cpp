// Averages one number per worker on a ring of 4 simulated workers through the installed headers.
#include <cmath>
#include <cstdio>
#include <vector>

#include <decent/decent.hpp>
#include <decent/sim/cluster.hpp>  // the in-process threads that stand for the workers

int main() {
  const int n = 4;
  std::vector<double> value(n);
  decent::sim::cluster workers(n);
  workers.run([&](decent::comm::inprocess comm) {
    const int rank = comm.rank();
    value[static_cast<std::size_t>(rank)] = rank;  // mean 1.5
    decent::parameters<double> params{{&value[static_cast<std::size_t>(rank)], {1}}};
    decent::allreduce<decent::comm::inprocess, decent::exec::host, double> average(std::move(comm), params, {}, decent::exec::host(1));
    average.mix();
  });
  for (double v : value)
    if (std::abs(v - 1.5) > 1e-15) {
      std::printf("wrong average %g\n", v);
      return 1;
    }
  std::printf("consumer ok: %d workers averaged to %g\n", n, value[0]);
  return 0;
}
