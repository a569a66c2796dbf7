#pragma once
/// @file
/// @brief The Communicator concept: moves bytes between the ranks of a world.
///
/// A communicator is a per-rank handle offering a batch of point-to-point sends and receives posted together
/// (one NCCL group, one set of MPI requests), a barrier, an in-place sum all-reduce, and byte/message counters.
/// Types opt in by declaring `using communicator_concept = decent::comm::communicator_tag;` and declare which
/// memory they can move with `static constexpr bool can_access(memory_space)`. A communicator whose
/// `allreduce_sum` reaches less memory than its point-to-point calls also declares
/// `static constexpr bool can_reduce(memory_space)`; algorithms then stage reductions through host memory.
/// A communicator that can exchange in place (see `exchanges_in_place`) declares
/// `bool exchanges_in_place() const`.
///
/// Byte accounting: counters hold payload bytes only (no headers, no tags). A point-to-point message counts its
/// `bytes` once on the sending rank (sent) and once on the receiving rank (received), a message to oneself on
/// both counters of that rank. `allreduce_sum` counts what a ring all-reduce would move, whatever the
/// implementation actually does: 2(n−1)/n · bytes (rounded down) sent and received, and 2(n−1) messages each
/// way, on every rank of a world of n.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include <decent/core/tensor.hpp>

namespace decent::comm {

/// One send of a batch: `bytes` bytes at `data` go to rank `peer`, labelled `tag`.
///
/// The buffer must stay valid and unmodified until the `exchange` that carries it returns.
struct send_op {
  int peer;           ///< destination rank
  const void* data;   ///< payload (may be null when `bytes` is 0)
  std::size_t bytes;  ///< payload size
  int tag = 0;        ///< label matched against the receiver's `recv_op::tag`
};

/// The object that owns an in-place buffer (a `std::vector`, an executor buffer: anything with `data()` and `size()`)
/// and how to swap two such objects (see `exchanges_in_place`). Make one with `owner_of`.
struct buffer_owner {
  void* object = nullptr;
  const void* type = nullptr;                ///< identifies the owner's type (`owner_of`)
  void (*swap)(void*, void*) = nullptr;      ///< swaps *a and *b (never throws)
  const void* (*data)(const void*) = nullptr;   ///< the buffer *object owns
  std::size_t (*bytes)(const void*) = nullptr;  ///< its size in bytes
};

namespace detail {
/// One writable object per owner type: its address names the type (functions may be folded by a linker, data not).
template <class Owner>
inline char owner_type_tag = 0;
}  // namespace detail

/// `owner` offered for an in-place receive: the communicator may swap it with the peer's owner of the same type when
/// both own exactly the exchanged buffers.
template <class Owner>
[[nodiscard]] buffer_owner owner_of(Owner& owner) {
  static_assert(std::is_nothrow_swappable_v<Owner>, "owner_of: swapping two owners must not throw");
  return {&owner, &detail::owner_type_tag<Owner>,
          [](void* a, void* b) {
            using std::swap;
            swap(*static_cast<Owner*>(a), *static_cast<Owner*>(b));
          },
          [](const void* o) -> const void* { return static_cast<const Owner*>(o)->data(); },
          [](const void* o) -> std::size_t {
            const auto& owned = *static_cast<const Owner*>(o);
            return owned.size() * sizeof(*owned.data());
          }};
}

/// One receive of a batch: exactly `bytes` bytes from rank `peer` with label `tag` land at `data`.
///
/// Receiving a message of another size is an error on both the sending and the receiving rank.
struct recv_op {
  int peer;           ///< source rank
  void* data;         ///< where the payload lands (may be null when `bytes` is 0)
  std::size_t bytes;  ///< expected payload size
  int tag = 0;        ///< label of the matching `send_op`
  /// In place only, optional: the owner of `data` (`owner_of`). When both ends of an in-place pair offer owners of
  /// one type that own exactly the exchanged buffers (`data`, `bytes`), a communicator may swap the owners instead
  /// of the contents (no byte moves): `data` then belongs to the peer, and the caller reads its buffer's address
  /// from its owner again after the exchange — also after one that failed, which may or may not have swapped.
  /// The peer's thread writes the owner during `exchange`: nothing else may touch it until `exchange` returns, and
  /// a buffer exchanged in place is not sent elsewhere in the same batch.
  buffer_owner owner{};
};

/// Payload traffic of one rank since construction or the last reset (see the file comment for the convention).
struct counters {
  std::uint64_t bytes_sent = 0;         ///< payload bytes sent
  std::uint64_t messages_sent = 0;      ///< messages sent
  std::uint64_t bytes_received = 0;     ///< payload bytes received
  std::uint64_t messages_received = 0;  ///< messages received

  /// Field-wise equality.
  friend bool operator==(const counters&, const counters&) = default;
};

/// The opt-in tag: a communicator declares `using communicator_concept = communicator_tag;`.
struct communicator_tag {};

/// A handle to one rank of a world that moves bytes between ranks.
///
/// - `rank()`, `size()`: this rank and the number of ranks.
/// - `exchange(sends, recvs)`: posts all sends and receives of the batch together and returns when all of them
///   completed, so send buffers may be reused and receive buffers read. Sends may be consumed in any order;
///   messages with the same (source, destination, tag) are matched in FIFO order. Cannot deadlock when every
///   receive has a matching send in the peer's batch of the same round.
/// - `barrier()`: returns once every rank called it.
/// - `allreduce_sum(p, n)` for `double` and `float`: in place, the element-wise sum over all ranks; every rank
///   passes the same `n`.
/// - `stats()`: the rank's `counters`.
template <class C>
concept communicator =
    requires { typename C::communicator_concept; } &&
    std::same_as<typename C::communicator_concept, communicator_tag> &&
    requires(C& c, const C& cc, std::span<const send_op> sends, std::span<const recv_op> recvs, double* d,
             float* f, std::size_t n) {
      { cc.rank() } -> std::same_as<int>;
      { cc.size() } -> std::same_as<int>;
      c.exchange(sends, recvs);
      c.barrier();
      c.allreduce_sum(d, n);
      c.allreduce_sum(f, n);
      { cc.stats() } -> std::same_as<counters>;
    };

/// Whether `c` exchanges in place: a receive that names the buffer, peer, tag and size of one of the batch's sends
/// replaces that buffer's contents with the peer's message, while the peer receives its former contents (both
/// ends must name one buffer; the pair swaps, as MPI_Sendrecv_replace). A rule may then keep one buffer per
/// neighbour for what it sends and what it receives (RelaySum does). A receive that also names its buffer's owner
/// (`recv_op::owner`) may get the peer's buffer itself instead (the two owners are swapped: nothing is copied).
/// Communicators without `exchanges_in_place()` never do, and a batch for them must not alias a send and a
/// receive.
template <communicator C>
[[nodiscard]] bool exchanges_in_place(const C& c) {
  if constexpr (requires { { c.exchanges_in_place() } -> std::same_as<bool>; }) return c.exchanges_in_place();
  else return false;
}

/// A communicator that can send from and receive into buffers in memory space `S`.
template <class C, memory_space S>
concept communicator_for = communicator<C> && requires {
  { std::bool_constant<C::can_access(S)>{} } -> std::same_as<std::true_type>;
};

/// Whether `C::allreduce_sum` works on buffers in memory space `S` (`can_reduce` if declared, else `can_access`).
template <class C, memory_space S>
inline constexpr bool reduces_in = [] {
  if constexpr (requires { C::can_reduce(S); }) return C::can_reduce(S);
  else return communicator_for<C, S>;
}();

}  // namespace decent::comm
