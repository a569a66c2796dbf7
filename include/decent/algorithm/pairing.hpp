#pragma once
/// @file
/// @brief The meeting protocol of asynchronous pairwise exchanges: in round k of the shared matching schedule a
/// worker meets its partner; a 16-byte header (the round, checked by the peer, and flags: ready, leaving) travels
/// with the snapshots or, when partners may not be ready (`patience`), ahead of them.

#include <cstdint>
#include <span>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>

namespace decent::detail::pairing {

/// The tag of the header (the largest tag every MPI guarantees; compressors tag by tensor index).
inline constexpr int header_tag = 32767;
inline constexpr std::int64_t leaving_flag = 1;  ///< the sender leaves: the edge closes after this meeting
inline constexpr std::int64_t ready_flag = 2;    ///< the sender has a granted exchange (or leaves)

/// The control message of a meeting.
struct header {
  std::int64_t round;
  std::int64_t flags;
};
static_assert(sizeof(header) == 16);

/// Throws `comm_error` unless the partner was in the same round.
inline void check_round(int rank, int peer, std::int64_t round, const header& theirs) {
  expects<comm_error>(theirs.round == round, "rank ", rank, " exchanged in round ", round, " with rank ", peer,
                      " which was in round ", theirs.round, ": the workers do not share the matching schedule (same "
                      "topology and seed on every worker?)");
}

/// Meets `peer` in `round` with this worker's `flags` and returns the partner's. When both are ready,
/// `transfer(send_header, recv_header)` moves the snapshots; with `together` (no patience: both ends are always
/// ready) the headers travel with them in one batch and are passed to `transfer`, else they go first, alone, and
/// `transfer` gets null headers.
template <comm::communicator Comm, class Transfer>
std::int64_t meet(Comm& comm, int peer, std::int64_t round, std::int64_t flags, bool together, Transfer&& transfer) {
  const header mine{round, flags};
  header theirs{-1, 0};
  const comm::send_op send_header{peer, &mine, sizeof(header), header_tag};
  const comm::recv_op recv_header{peer, &theirs, sizeof(header), header_tag};
  if (!together) {
    comm.exchange(std::span(&send_header, 1), std::span(&recv_header, 1));
    check_round(comm.rank(), peer, round, theirs);
    if ((flags & ready_flag) == 0 || (theirs.flags & ready_flag) == 0) return theirs.flags;
  }
  transfer(together ? &send_header : nullptr, together ? &recv_header : nullptr);
  check_round(comm.rank(), peer, round, theirs);
  return theirs.flags;
}

}  // namespace decent::detail::pairing
