#pragma once
/// @file
/// @brief The vocabulary of one exchange round, shared by the layers above the communicator: what a worker sends,
/// receives and reduces (`exchange_plan`), and what a rule or a compressor may consult while it plans and applies
/// a round (`round_context`). Rules (mixing/) and edge compressors (compress/) both speak it; neither includes
/// the other's headers for it.

#include <cstdint>
#include <span>
#include <vector>

#include <decent/comm/communicator.hpp>

namespace decent::comm {

/// What a worker sends, receives and reduces in one round. Buffers belong to the rule or compressor that named
/// them (or are the user's parameters) and stay valid until the round's update is applied.
template <class T>
struct exchange_plan {
  std::vector<send_op> sends;
  std::vector<recv_op> recvs;
  std::vector<std::span<T>> reductions;  ///< buffers replaced by their sum over all workers

  void clear() {
    sends.clear();
    recvs.clear();
    reductions.clear();
  }
};

/// Everything a rule or compressor may consult in a round: the topology (`no_topology` for rules that need
/// none), the executor, the rank, the world size, the round number, and whether the communicator exchanges in
/// place (`comm::exchanges_in_place`; the same on every rank of a world).
template <class Topology, class Exec>
struct round_context {
  const Topology& topology;
  const Exec& exec;
  int rank;
  int size;
  std::int64_t step;  ///< mix() calls completed before this one
  int round = 0;      ///< exchange within this mix() call (rules that exchange several times per step)
  bool in_place = false;  ///< a send and a receive may share a buffer (comm::exchanges_in_place)
};

}  // namespace decent::comm
