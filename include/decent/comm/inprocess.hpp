#pragma once
/// @file
/// @brief The in-process communicator: N ranks as threads of one process.
///
/// An `inprocess_world` holds the shared state of N ranks; each thread drives its rank through an `inprocess`
/// handle. Point-to-point messages use a zero-copy rendezvous: `exchange` posts a descriptor (pointer, size, tag)
/// of each send into the destination's mailbox, then for each receive waits for the matching descriptor and
/// copies straight from the sender's buffer into the receive buffer (one copy per message, no staging), and
/// finally waits until its own sends were consumed. A receive that names the buffer of a send to the same peer
/// with the same tag exchanges in place (comm::exchanges_in_place): the lower rank of the pair swaps the two
/// buffers' owners when both receives name owners of one type that own exactly the exchanged buffers
/// (`recv_op::owner`: no byte moves), else the buffers' contents, in chunks staged through the copy function
/// (`inprocess_options::swap_owners` off: always the contents); the higher rank waits for the swap instead of
/// copying. Every blocking wait sleeps on a per-rank mutex and condition variable (no busy waiting), ends with a
/// `comm_error` after the world's deadline instead of hanging, and wakes with a `comm_error` when the world is
/// aborted.
///
/// Determinism: `allreduce_sum` adds element k over ranks in the order 0, 1, ..., n−1 (one thread computes each
/// element and writes it to every rank), so the result is bit-identical on all ranks and from run to run.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>

namespace decent::comm {

/// Copies `bytes` bytes from `src` to `dst`; the type of `inprocess_options::copy`.
using copy_function = void (*)(void* dst, const void* src, std::size_t bytes);

/// The default copy: `std::memcpy`, host memory only.
inline void host_copy(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }

/// Settings of an in-process world.
struct inprocess_options {
  /// The longest any single blocking wait (a receive, the completion of the sends, a barrier) may take before it
  /// fails with a `comm_error`.
  std::chrono::milliseconds deadline{60'000};
  /// Moves each point-to-point payload (never called for 0 bytes, nor for in-place pairs that swap owners:
  /// `swap_owners`). Plug in e.g. a `cudaMemcpy(..., cudaMemcpyDefault)`
  /// wrapper to exchange device buffers. It may throw; both endpoints of the message then fail (the receiver
  /// with the copy's own exception, the sender with a `comm_error`). `allreduce_sum` does not use it: it always
  /// reads and writes host memory.
  copy_function copy = &host_copy;
  /// Whether `copy` can move device memory (set it with a device-capable copy such as exec::device_copy);
  /// algorithms whose buffers live in device memory refuse a world without it at setup.
  bool device_memory = false;
  /// What `exchanges_in_place()` reports to the rules in a host-memory world: whether they may exchange in place
  /// (one buffer per neighbour, e.g. RelaySum's relays). Batches that alias a send and a receive are swapped
  /// either way; false makes rules keep separate send buffers (to compare both layouts).
  bool in_place = true;
  /// Whether an in-place pair whose receives both name their buffers' owners swaps the owners (nothing is copied,
  /// `copy` is not called) rather than the contents; false always swaps contents (to compare both).
  bool swap_owners = true;
};

class inprocess;

/// The shared state of N in-process ranks. Must outlive every `inprocess` handle on it. Non-copyable, non-movable.
class inprocess_world {
 public:
  /// A world of `n` ≥ 1 ranks.
  explicit inprocess_world(int n, inprocess_options options = {})
      : n_(n), options_(options), boxes_(n > 0 ? std::make_unique<mailbox[]>(static_cast<std::size_t>(n)) : nullptr) {
    expects(n > 0, "an in-process world needs at least one rank, got ", n);
    expects(options.deadline.count() > 0, "the deadline of an in-process world must be positive, got ",
            options.deadline.count(), " ms");
    expects(options.copy != nullptr, "the copy function of an in-process world must not be null");
    slots_.resize(static_cast<std::size_t>(n));
  }
  inprocess_world(const inprocess_world&) = delete;
  inprocess_world& operator=(const inprocess_world&) = delete;

  /// Number of ranks.
  [[nodiscard]] int size() const { return n_; }

  /// Fails the world: every blocking call on any rank, current or future, throws a `comm_error` carrying `reason`.
  /// Call it when one worker fails so that the others do not wait for it. Only the first reason is kept.
  void abort(std::string reason) {
    {
      std::lock_guard lock(abort_mutex_);
      if (aborted_.load()) return;
      abort_reason_ = std::move(reason);
      aborted_.store(true);
    }
    // Taking each mutex before notifying guarantees that no waiter misses the flag.
    for (int r = 0; r < n_; ++r) {
      { std::lock_guard lock(box(r).mutex); }
      box(r).cv.notify_all();
    }
    { std::lock_guard lock(barrier_mutex_); }
    barrier_cv_.notify_all();
  }

  /// Whether `abort` was called.
  [[nodiscard]] bool aborted() const { return aborted_.load(); }

 private:
  friend class inprocess;

  /// A posted send, owned by the sender's `exchange` until it returns.
  struct message {
    int src, dst, tag;
    const void* data;
    std::size_t bytes;
    bool in_place = false;  // the sender receives the peer's message into `data` (a swap)
    comm::buffer_owner owner{};  // in place: the owner of `data` its receive offered (may be empty)
    bool consumed = false;  // guarded by the sender's mailbox mutex
    bool swapped = false;   // in place, sent by the lower rank: the swap is done (guarded by dst's mailbox mutex)
  };

  /// Per-rank state: incoming descriptors and the progress of the rank's own sends.
  struct mailbox {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<message*> inbox;  // messages posted to this rank, in posting order
    std::size_t unconsumed = 0;   // this rank's sends of the current exchange not yet consumed
    std::string send_error;       // set by a receiver that rejected one of this rank's sends
  };

  /// The buffer a rank contributes to the current all-reduce.
  struct reduce_slot {
    void* data = nullptr;
    std::size_t count = 0, element_size = 0;
  };

  mailbox& box(int rank) { return boxes_[static_cast<std::size_t>(rank)]; }

  [[noreturn]] void throw_aborted() const {
    std::lock_guard lock(abort_mutex_);
    throw comm_error("the in-process world was aborted: " + abort_reason_);
  }

  void throw_if_aborted() const {
    if (aborted_.load()) throw_aborted();
  }

  /// Waits on `cv` until `ready()`; throws `comm_error` with `describe()` after the deadline, or the abort reason
  /// if the world is aborted first. The lock is held again when it returns or throws.
  template <class Ready, class Describe>
  void wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Ready ready, Describe describe) const {
    const auto until = std::chrono::steady_clock::now() + options_.deadline;
    if (!cv.wait_until(lock, until, [&] { return ready() || aborted_.load(); })) throw comm_error(describe());
    if (!ready()) throw_aborted();
  }

  /// Marks `m` consumed (rejected when `error` is not empty) and wakes its sender. `m` is not touched afterwards.
  void consume(message& m, std::string error) {
    mailbox& sender = box(m.src);
    {
      std::lock_guard lock(sender.mutex);
      m.consumed = true;
      --sender.unconsumed;
      if (!error.empty() && sender.send_error.empty()) sender.send_error = std::move(error);
    }
    sender.cv.notify_all();
  }

  /// Generation-counting barrier with the deadline; an arrival that fails is withdrawn.
  void arrive(int rank) {
    std::unique_lock lock(barrier_mutex_);
    throw_if_aborted();
    const std::uint64_t generation = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      barrier_cv_.notify_all();
      return;
    }
    try {
      wait(lock, barrier_cv_, [&] { return generation_ != generation; },
           [&] {
             return decent::detail::concat("rank ", rank, " waited ", options_.deadline.count(),
                                           " ms at a barrier that only ", arrived_, " of ", n_,
                                           " ranks reached: does every rank call barrier() and allreduce_sum()?");
           });
    } catch (...) {
      --arrived_;
      throw;
    }
  }

  int n_;
  inprocess_options options_;
  std::unique_ptr<mailbox[]> boxes_;
  std::vector<reduce_slot> slots_;  // slot r is written by rank r between barriers only

  std::mutex barrier_mutex_;
  std::condition_variable barrier_cv_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;

  mutable std::mutex abort_mutex_;
  std::string abort_reason_;
  std::atomic<bool> aborted_{false};
};

/// One rank of an `inprocess_world`: a movable handle used by one thread at a time. Satisfies `communicator`.
class inprocess {
 public:
  using communicator_concept = communicator_tag;

  /// Host memory always; device memory when the world's copy function can move it (e.g. exec::device_copy).
  static constexpr bool can_access(memory_space) { return true; }
  /// `allreduce_sum` reads and writes host memory only.
  static constexpr bool can_reduce(memory_space space) { return space == memory_space::host; }

  /// The handle of `rank` in `world`; throws `invalid_argument` when the rank is out of range.
  inprocess(inprocess_world& world, int rank) : world_(&world), rank_(rank) {
    expects(rank >= 0 && rank < world.size(), "rank ", rank, " out of range for an in-process world of ",
            world.size());
  }
  /// A rank has one handle: copies would split its byte counters.
  inprocess(const inprocess&) = delete;
  inprocess& operator=(const inprocess&) = delete;
  inprocess(inprocess&&) noexcept = default;
  inprocess& operator=(inprocess&&) noexcept = default;
  ~inprocess() = default;

  /// Whether this world's copy function moves buffers in `space` (device memory needs
  /// `inprocess_options::device_memory`).
  [[nodiscard]] bool accepts(memory_space space) const {
    return space == memory_space::host || world_->options_.device_memory;
  }
  /// Whether rules may exchange in place (see comm::exchanges_in_place): `inprocess_options::in_place`, in
  /// worlds of host memory only (a swap of device buffers would stage through host memory).
  [[nodiscard]] bool exchanges_in_place() const {
    return world_->options_.in_place && !world_->options_.device_memory;
  }

  /// This rank.
  [[nodiscard]] int rank() const { return rank_; }
  /// Number of ranks of the world.
  [[nodiscard]] int size() const { return world_->size(); }

  /// Posts all `sends`, completes all `recvs` in order, then waits until every send was consumed. A receive with
  /// the buffer, peer, tag and size of a send exchanges in place (see the file comment); the peer must do the same.
  ///
  /// Throws `invalid_argument` for a peer out of range or a null buffer of non-zero size (nothing is posted),
  /// and `comm_error` when a receive's size differs from the matching send's (on both ranks), when a wait passes
  /// the deadline, or when the world is aborted. On any failure the sends not yet consumed are withdrawn before it
  /// throws, so the caller's buffers are never touched afterwards. Counters grow only when it returns normally.
  void exchange(std::span<const send_op> sends, std::span<const recv_op> recvs) {
    for (const send_op& s : sends) check_op("send to", s.peer, s.data, s.bytes);
    for (const recv_op& r : recvs) check_op("receive from", r.peer, r.data, r.bytes);
    world_->throw_if_aborted();

    std::vector<inprocess_world::message> posted(sends.size());
    std::size_t num_posted = 0;
    try {
      post(sends, recvs, posted, num_posted);
      for (const recv_op& r : recvs) receive(r, posted);
      wait_consumed(posted);
    } catch (...) {
      withdraw(std::span(posted).first(num_posted));
      throw;
    }

    for (const send_op& s : sends) stats_.bytes_sent += s.bytes;
    for (const recv_op& r : recvs) stats_.bytes_received += r.bytes;
    stats_.messages_sent += sends.size();
    stats_.messages_received += recvs.size();
  }

  /// Returns once every rank called `barrier`; `comm_error` after the deadline or on abort.
  void barrier() { world_->arrive(rank_); }

  /// In-place sum over all ranks, bit-identical everywhere (see the file comment). Host memory only.
  void allreduce_sum(double* data, std::size_t count) { allreduce(data, count); }
  /// In-place sum over all ranks, bit-identical everywhere (see the file comment). Host memory only.
  void allreduce_sum(float* data, std::size_t count) { allreduce(data, count); }

  /// Whether every rank passed the same value (collective; setup traffic, not counted). See comm/agreement.hpp.
  bool agree(std::uint64_t value) {
    auto& slots = world_->slots_;
    slots[static_cast<std::size_t>(rank_)] = {&value, 1, 0};
    barrier();
    bool same = true;
    for (const auto& slot : slots) same = same && *static_cast<const std::uint64_t*>(slot.data) == value;
    barrier();  // every rank has read the slots before any of them is reused
    return same;
  }

  /// Payload traffic of this rank (see communicator.hpp for the convention).
  [[nodiscard]] counters stats() const { return stats_; }
  /// Sets all counters to zero.
  void reset_stats() { stats_ = {}; }

 private:
  using message = inprocess_world::message;

  void check_op(const char* what, int peer, const void* data, std::size_t bytes) const {
    expects(peer >= 0 && peer < size(), "rank ", rank_, " cannot ", what, " rank ", peer,
            ": out of range for an in-process world of ", size());
    expects(data != nullptr || bytes == 0, "rank ", rank_, " cannot ", what, " rank ", peer, " ", bytes,
            " bytes with a null buffer");
  }

  /// The receive of `recvs` that exchanges `s` in place (same buffer, peer and tag), if any.
  static const recv_op* in_place_receive(const send_op& s, std::span<const recv_op> recvs) {
    for (const recv_op& r : recvs)
      if (r.data == s.data && r.peer == s.peer && r.tag == s.tag && s.bytes > 0) return &r;
    return nullptr;
  }

  void post(std::span<const send_op> sends, std::span<const recv_op> recvs, std::span<message> posted,
            std::size_t& num_posted) {
    for (std::size_t i = 0; i < sends.size(); ++i) {
      const send_op& s = sends[i];
      const recv_op* r = in_place_receive(s, recvs);
      if (!r) continue;
      expects(r->bytes == s.bytes, "rank ", rank_, " exchanges ", s.bytes, " bytes in place with rank ", s.peer,
              " (tag ", s.tag, ") but receives ", r->bytes, " into the same buffer");
      // Pairs are matched by (peer, tag); two in-place buffers for one (peer, tag) could pair the wrong way round.
      for (std::size_t k = 0; k < i; ++k)
        expects(!(sends[k].peer == s.peer && sends[k].tag == s.tag && in_place_receive(sends[k], recvs)),
                "rank ", rank_, " exchanges two buffers in place with rank ", s.peer, " under tag ", s.tag,
                ": give each in-place buffer its own tag");
    }
    {
      std::lock_guard lock(world_->box(rank_).mutex);
      world_->box(rank_).unconsumed = sends.size();
    }
    for (const send_op& s : sends) {
      message& m = posted[num_posted];
      const recv_op* in_place = in_place_receive(s, recvs);
      m = {rank_, s.peer, s.tag, s.data, s.bytes, in_place != nullptr, in_place ? in_place->owner : buffer_owner{}};
      auto& dst = world_->box(s.peer);
      {
        std::lock_guard lock(dst.mutex);
        dst.inbox.push_back(&m);
      }
      ++num_posted;
      dst.cv.notify_all();
    }
  }

  void receive(const recv_op& r, std::span<message> posted) {
    // The send of this batch that `r` exchanges in place, if any.
    const auto own = std::find_if(posted.begin(), posted.end(), [&](const message& p) {
      return p.in_place && p.dst == r.peer && p.tag == r.tag && p.data == r.data;
    });
    message* const mine = own == posted.end() ? nullptr : &*own;
    // The higher rank of an in-place pair waits until the lower one swapped the buffers.
    const bool await_swap = mine && r.peer < rank_;
    auto& me = world_->box(rank_);
    message* m = nullptr;
    {
      std::unique_lock lock(me.mutex);
      auto match = me.inbox.end();
      world_->wait(
          lock, me.cv,
          [&] {
            match = std::find_if(me.inbox.begin(), me.inbox.end(),
                                 [&](const message* p) { return p->src == r.peer && p->tag == r.tag; });
            if (match != me.inbox.end() && await_swap && (*match)->in_place && !(*match)->swapped)
              match = me.inbox.end();
            return match != me.inbox.end() || !me.send_error.empty();
          },
          [&] {
            return decent::detail::concat("rank ", rank_, " waited ", world_->options_.deadline.count(),
                                          " ms for a message from rank ", r.peer, " (tag ", r.tag, "): did rank ",
                                          r.peer, " post the matching send", await_swap ? " and receive in place" : "",
                                          "?");
          });
      if (match == me.inbox.end()) throw comm_error(std::exchange(me.send_error, {}));
      m = *match;
      me.inbox.erase(match);
    }
    std::string error;
    if (m->bytes != r.bytes)
      error = decent::detail::concat("rank ", rank_, " expected ", r.bytes, " bytes from rank ", r.peer, " (tag ",
                                     r.tag, ") but rank ", r.peer, " sent ", m->bytes,
                                     ": do all workers use the same parameter layout?");
    else if (m->in_place != (mine != nullptr))
      error = decent::detail::concat("rank ", mine ? rank_ : r.peer, " exchanges in place with rank ",
                                     mine ? r.peer : rank_, " (tag ", r.tag, ") but rank ", mine ? r.peer : rank_,
                                     " sends and receives through different buffers: both ends of an in-place "
                                     "exchange name one buffer");
    if (!error.empty()) {
      world_->consume(*m, error);
      throw comm_error(error);
    }
    try {
      if (!mine) {
        if (r.bytes > 0) world_->options_.copy(r.data, m->data, r.bytes);
      } else if (!await_swap) {
        // The peer's buffer is posted and waits for this swap (a rank exchanging with itself keeps its buffer).
        const bool owners = world_->options_.swap_owners && owns(r.owner, r.data, r.bytes) &&
                            owns(m->owner, m->data, r.bytes) && r.owner.type == m->owner.type;
        if (m->data != r.data) {
          if (owners) r.owner.swap(r.owner.object, m->owner.object);
          else swap(r.data, const_cast<void*>(m->data), r.bytes);
        }
        auto& peer = world_->box(r.peer);
        {
          std::lock_guard lock(peer.mutex);
          mine->swapped = true;
        }
        peer.cv.notify_all();
      }
    } catch (...) {
      world_->consume(*m, decent::detail::concat("rank ", rank_, " failed to copy the message (tag ", r.tag,
                                                 ") from rank ", r.peer));
      throw;
    }
    world_->consume(*m, {});
  }

  /// Whether `o` names an owner of exactly the buffer [data, data + bytes).
  static bool owns(const buffer_owner& o, const void* data, std::size_t bytes) {
    return o.object && o.type && o.swap && o.data && o.bytes && o.data(o.object) == data && o.bytes(o.object) == bytes;
  }

  /// Swaps `bytes` bytes of `a` and `b` through the copy function, in chunks staged on the stack.
  void swap(void* a, void* b, std::size_t bytes) const {
    std::array<std::byte, std::size_t{1} << 16> staging;
    auto* pa = static_cast<std::byte*>(a);
    auto* pb = static_cast<std::byte*>(b);
    const copy_function copy = world_->options_.copy;
    for (std::size_t done = 0; done < bytes; done += staging.size()) {
      const std::size_t chunk = std::min(staging.size(), bytes - done);
      copy(staging.data(), pa + done, chunk);
      copy(pa + done, pb + done, chunk);
      copy(pb + done, staging.data(), chunk);
    }
  }

  void wait_consumed(std::span<const message> posted) {
    auto& me = world_->box(rank_);
    std::unique_lock lock(me.mutex);
    world_->wait(
        lock, me.cv, [&] { return me.unconsumed == 0 || !me.send_error.empty(); },
        [&] {
          const auto& m = *std::find_if(posted.begin(), posted.end(), [](const message& p) { return !p.consumed; });
          return decent::detail::concat("rank ", rank_, " waited ", world_->options_.deadline.count(),
                                        " ms for rank ", m.dst, " to receive its message (tag ", m.tag,
                                        "): did rank ", m.dst, " post the matching receive?");
        });
    if (!me.send_error.empty()) throw comm_error(std::exchange(me.send_error, {}));
  }

  /// Removes the unconsumed `posted` messages from their mailboxes, waiting for copies already under way.
  void withdraw(std::span<message> posted) noexcept {
    auto& me = world_->box(rank_);
    for (message& m : posted) {
      auto& dst = world_->box(m.dst);
      bool withdrawn = false;
      {
        std::lock_guard lock(dst.mutex);
        if (auto it = std::find(dst.inbox.begin(), dst.inbox.end(), &m); it != dst.inbox.end()) {
          dst.inbox.erase(it);
          withdrawn = true;
        }
      }
      // A message no longer in the mailbox was taken by its receiver, which marks it consumed right after copying.
      std::unique_lock lock(me.mutex);
      if (!withdrawn) me.cv.wait(lock, [&] { return m.consumed; });
    }
    std::lock_guard lock(me.mutex);
    me.unconsumed = 0;
    me.send_error.clear();
  }

  template <class T>
  void allreduce(T* data, std::size_t count) {
    expects(data != nullptr || count == 0, "rank ", rank_, " called allreduce_sum on a null buffer of ", count,
            " elements");
    auto& slots = world_->slots_;
    const auto n = static_cast<std::size_t>(size());
    const auto me = static_cast<std::size_t>(rank_);
    slots[me] = {data, count, sizeof(T)};
    barrier();

    for (std::size_t q = 0; q < n; ++q) {
      if (slots[q].count == count && slots[q].element_size == sizeof(T)) continue;
      const std::string error = decent::detail::concat(
          "rank ", rank_, " called allreduce_sum on ", count, " elements of ", sizeof(T), " bytes but rank ", q,
          " on ", slots[q].count, " elements of ", slots[q].element_size,
          " bytes: do all workers use the same parameter layout?");
      barrier();  // every rank has read the slots and fails the same way
      throw comm_error(error);
    }

    // Rank r owns a contiguous slice of elements: it sums each over ranks 0..n-1 and writes it to every rank.
    std::vector<T*> buffers(n);
    for (std::size_t q = 0; q < n; ++q) buffers[q] = static_cast<T*>(slots[q].data);
    const std::size_t base = count / n, extra = count % n;
    const std::size_t begin = me * base + std::min(me, extra), end = begin + base + (me < extra ? 1 : 0);
    // In blocks: each buffer is then read and written as one sequential stream at a time (one element across n
    // buffers would touch n streams at once); every element is still summed over ranks in the order 0..n-1.
    constexpr std::size_t block = 1024;
    std::array<T, block> sum;
    for (std::size_t first = begin; first < end; first += block) {
      const std::size_t m = std::min(block, end - first);
      std::copy_n(buffers[0] + first, m, sum.data());
      for (std::size_t q = 1; q < n; ++q) {
        const T* src = buffers[q] + first;
        for (std::size_t k = 0; k < m; ++k) sum[k] += src[k];
      }
      for (std::size_t q = 0; q < n; ++q) std::copy_n(sum.data(), m, buffers[q] + first);
    }
    barrier();

    const std::uint64_t ring_bytes = 2 * (n - 1) * count * sizeof(T) / n, ring_messages = 2 * (n - 1);
    stats_.bytes_sent += ring_bytes;
    stats_.bytes_received += ring_bytes;
    stats_.messages_sent += ring_messages;
    stats_.messages_received += ring_messages;
  }

  inprocess_world* world_;
  int rank_;
  counters stats_{};
};

}  // namespace decent::comm
