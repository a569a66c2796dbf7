// A killed rank under mpirun: every rank that exchanges with it reports decent's comm_error within the deadline
// and exits non-zero, instead of hanging. Run with the TCP transport (OMPI_MCA_btl=self,tcp): with Open MPI's
// shared-memory transport (vader) a neighbour of a dead process can block inside Open MPI, where no deadline of
// decent can fire (docs/architecture.md, "Faults across processes").
//
// Every rank first exchanges with every other (connections up), then the last rank kills itself (SIGKILL, as the
// OOM killer or a node failure would) and the others exchange with it again.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <mpi.h>

#include <decent/comm/mpi.hpp>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  decent::comm::mpi_options o;
  o.deadline = std::chrono::milliseconds(3000);
  decent::comm::mpi c(MPI_COMM_WORLD, o);
  const int me = c.rank(), n = c.size(), victim = n - 1;
  std::vector<double> out(1000, me), in(1000 * static_cast<std::size_t>(n));
  const auto exchange_with = [&](const std::vector<int>& peers, int tag) {
    std::vector<decent::comm::send_op> sends;
    std::vector<decent::comm::recv_op> recvs;
    for (const int p : peers) {
      sends.push_back({p, out.data(), out.size() * sizeof(double), tag});
      recvs.push_back({p, in.data() + 1000 * static_cast<std::size_t>(p), out.size() * sizeof(double), tag});
    }
    c.exchange(sends, recvs);
  };
  std::vector<int> others;
  for (int p = 0; p < n; ++p)
    if (p != me) others.push_back(p);
  exchange_with(others, 1);
  c.barrier();
  if (me == victim) {
    // Dies with its messages posted but not yet received (large enough for the rendezvous protocol).
    std::thread sender([&] {
      std::vector<decent::comm::send_op> sends;
      for (const int p : others) sends.push_back({p, out.data(), out.size() * sizeof(double), 2});
      try {
        c.exchange(sends, {});
      } catch (...) {
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::raise(SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the victim is gone by now
  const auto start = std::chrono::steady_clock::now();
  try {
    for (int k = 0; k < 3; ++k) exchange_with({victim}, 2 + k);
  } catch (const decent::comm_error& e) {
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double deadline = static_cast<double>(o.deadline.count()) / 1000;
    const bool in_time = waited <= deadline + 1.0;
    std::printf("rank %d of %d: decent reported the dead peer after %.2f s, %s (%.1f s), exit status %d: %s\n", me,
                n, waited, in_time ? "within the deadline" : "LATE, past the deadline", deadline, in_time ? 3 : 4,
                e.what());
    std::fflush(stdout);
    std::_Exit(in_time ? 3 : 4);  // no MPI_Finalize: a peer is dead
  }
  std::printf("rank %d of %d: exchanges with the dead rank %d completed (wrong)\n", me, n, victim);
  std::fflush(stdout);
  std::_Exit(5);
}
