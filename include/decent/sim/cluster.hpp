#pragma once
/// @file
/// @brief N simulated workers in one process: one thread per worker over the in-process communicator.

#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <decent/comm/inprocess.hpp>
#include <decent/core/error.hpp>

namespace decent::sim {

/// Runs a worker function on `size()` threads, each with its own in-process communicator.
///
/// When a worker throws, the world is aborted so that every other worker blocked in a communication gets
/// a comm_error instead of hanging; `run` joins all threads and rethrows the first worker's exception.
class cluster {
 public:
  /// The most workers (threads) a cluster starts: far below the usual limits on threads (ulimit -u); at 16384
  /// workers two steps of ring gossip already took 64 s on two cores.
  static constexpr int max_workers = 32768;

  explicit cluster(int workers, comm::inprocess_options options = {}) : workers_(workers), options_(options) {
    expects(workers >= 1, "a cluster needs at least one worker, got ", workers);
    expects(workers <= max_workers, "the simulator runs one thread per worker, at most ", max_workers, "; ",
            workers, " workers is too many (the asynchronous algorithms run in the event simulator, without "
            "threads)");
  }

  [[nodiscard]] int size() const { return workers_; }

  /// Calls worker(comm) for every rank, each on its own thread, in a fresh world; returns when all finished.
  template <class Worker>
  void run(Worker&& worker) {
    comm::inprocess_world world(workers_, options_);
    std::exception_ptr first;
    std::mutex mutex;
    // Declared before the threads, so that it outlives them: the jthreads join when the block ends, and a worker
    // that fails late still calls it.
    auto fail = [&](int rank, const std::string& what) {
      const std::lock_guard lock(mutex);
      if (!first) {
        first = std::current_exception();
        world.abort(decent::detail::concat("worker ", rank, " failed: ", what));
      }
    };
    {
      std::vector<std::jthread> threads;
      threads.reserve(static_cast<std::size_t>(workers_));
      for (int rank = 0; rank < workers_; ++rank) {
        try {
          threads.emplace_back([&, rank] {
            try {
              worker(comm::inprocess(world, rank));
            } catch (const std::exception& e) {
              fail(rank, e.what());
            } catch (...) {
              fail(rank, "unknown exception");
            }
          });
        } catch (const std::exception& e) {  // could not start a thread: stop the ones already running
          try {
            throw error(decent::detail::concat("could not start the thread of simulated worker ", rank, " of ",
                                               workers_, " (", e.what(), "): the simulator runs one thread per "
                                               "worker; use fewer workers or raise the limit on threads "
                                               "(ulimit -u, /proc/sys/kernel/threads-max)"));
          } catch (const error& wrapped) {
            fail(rank, wrapped.what());
          }
          break;
        }
      }
    }
    if (first) std::rethrow_exception(first);
  }

 private:
  int workers_;
  comm::inprocess_options options_;
};

}  // namespace decent::sim
