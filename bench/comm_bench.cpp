// Point-to-point throughput of decent's communicators against the raw transport in the same run (docs/architecture.md
// target: >= 90% for messages of 1 MiB and more).
//
// Two ranks swap one message of each size: in-process (two threads, `comm::inprocess::exchange`) against both
// threads doing a `memcpy` of the same size at once; with MPI (`mpirun -np 2 comm_bench --mpi`), `comm::mpi::exchange`
// against `MPI_Sendrecv`. Throughput counts the bytes each rank receives; each figure is the median of the
// repetitions. Usage: comm_bench [--mpi] [--sizes MiB,MiB,...] [--repeat R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <decent/comm/inprocess.hpp>
#include <decent/sim/cluster.hpp>
#ifdef DECENT_BENCH_MPI
#include <mpi.h>

#include <decent/comm/mpi.hpp>
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median seconds of `repeat` runs of `f` (after one warm-up run).
template <class F>
double time_median(int repeat, F f) {
  f();
  std::vector<double> seconds;
  for (int r = 0; r < repeat; ++r) {
    const auto begin = clock_type::now();
    f();
    seconds.push_back(std::chrono::duration<double>(clock_type::now() - begin).count());
  }
  return median(seconds);
}

void row(const char* transport, std::size_t bytes, double decent_s, double raw_s) {
  const double gb = static_cast<double>(bytes) / 1e9;
  std::printf("%-10s %8.0f MiB %12.2f GB/s %12.2f GB/s %8.2f x raw\n", transport,
              static_cast<double>(bytes) / (1 << 20), gb / decent_s, gb / raw_s, raw_s / decent_s);
}

void inprocess_bench(const std::vector<std::size_t>& sizes, int repeat) {
  for (const std::size_t bytes : sizes) {
    std::vector<std::vector<char>> out(2, std::vector<char>(bytes, 1)), in(2, std::vector<char>(bytes, 0));
    double decent_s = 0, raw_s = 0;
    decent::sim::cluster(2).run([&](decent::comm::inprocess c) {
      const int me = c.rank(), peer = 1 - me;
      const decent::comm::send_op send{peer, out[static_cast<std::size_t>(me)].data(), bytes, 0};
      const decent::comm::recv_op recv{peer, in[static_cast<std::size_t>(me)].data(), bytes, 0};
      const double t = time_median(repeat, [&] { c.exchange(std::span(&send, 1), std::span(&recv, 1)); });
      c.barrier();
      const double m = time_median(repeat, [&] {
        c.barrier();  // both threads copy at the same time, as both receive at once in the exchange
        std::memcpy(in[static_cast<std::size_t>(me)].data(), out[static_cast<std::size_t>(peer)].data(), bytes);
      });
      if (me == 0) {
        decent_s = t;
        raw_s = m;
      }
    });
    row("inprocess", bytes, decent_s, raw_s);
  }
}

#ifdef DECENT_BENCH_MPI
void mpi_bench(const std::vector<std::size_t>& sizes, int repeat) {
  decent::comm::mpi c;
  if (c.size() != 2) {
    if (c.rank() == 0) std::fprintf(stderr, "comm_bench --mpi needs exactly 2 ranks\n");
    return;
  }
  const int peer = 1 - c.rank();
  for (const std::size_t bytes : sizes) {
    std::vector<char> out(bytes, 1), in(bytes, 0);
    const decent::comm::send_op send{peer, out.data(), bytes, 0};
    const decent::comm::recv_op recv{peer, in.data(), bytes, 0};
    MPI_Barrier(MPI_COMM_WORLD);
    const double t = time_median(repeat, [&] { c.exchange(std::span(&send, 1), std::span(&recv, 1)); });
    MPI_Barrier(MPI_COMM_WORLD);
    const double m = time_median(repeat, [&] {
      MPI_Sendrecv(out.data(), static_cast<int>(bytes), MPI_BYTE, peer, 0, in.data(), static_cast<int>(bytes),
                   MPI_BYTE, peer, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    });
    if (c.rank() == 0) row("mpi", bytes, t, m);
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {1, 4, 16, 64};
  int repeat = 21;
  bool use_mpi = false;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "--mpi") {
      use_mpi = true;
    } else if (a == "--repeat" && k + 1 < argc) {
      repeat = std::atoi(argv[++k]);
    } else if (a == "--sizes" && k + 1 < argc) {
      sizes.clear();
      for (const char* p = argv[++k]; *p;) {
        char* end = nullptr;
        sizes.push_back(std::strtoul(p, &end, 10));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) break;
      }
    } else {
      std::fprintf(stderr, "usage: comm_bench [--mpi] [--sizes MiB,MiB,...] [--repeat R]\n");
      return 2;
    }
  }
  for (std::size_t& s : sizes) s <<= 20;
  auto header = [] { std::printf("%-10s %12s %17s %17s %14s\n", "transport", "message", "decent", "raw", "ratio"); };
  if (!use_mpi) {
    header();
    inprocess_bench(sizes, repeat);
    return 0;
  }
#ifdef DECENT_BENCH_MPI
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) header();
  mpi_bench(sizes, repeat);
  MPI_Finalize();
  return 0;
#else
  std::fprintf(stderr, "comm_bench was built without MPI\n");
  return 2;
#endif
}
