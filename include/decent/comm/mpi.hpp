#pragma once
/// @file
/// @brief The MPI communicator: ranks are MPI processes, buffers are host memory (target `decent::mpi`).
///
/// The handle duplicates the communicator it is given (decent's messages never match the application's) and sets
/// `MPI_ERRORS_RETURN` on the duplicate, so MPI errors become `comm_error`s. A batch's receives and sends are posted
/// together as nonblocking requests; every blocking wait (a batch, a barrier, an all-reduce) polls its requests and
/// fails with a `comm_error` naming the peers it waited for once `mpi_options::deadline` has passed — a peer that
/// died or stalls never hangs its neighbours. After such an error the communicator is unusable (requests may still
/// be pending); report and end the process (`MPI_Abort`).
///
/// `allreduce_sum` is bit-identical to the in-process communicator's: each rank owns a contiguous slice of the
/// elements, receives that slice from every rank (all-to-all), sums it in rank order 0..n−1 in the element type,
/// and the slices are gathered back to every rank — the traffic of a ring all-reduce. Every rank must pass the same
/// count (checked first with a two-integer all-reduce; a mismatch is an error on every rank).
///
/// Receives check sizes: a message larger than the receive is an error (MPI truncation), a smaller one too. The
/// sending rank of a mismatched message does not see it. Messages over 1 GiB travel as consecutive pieces of
/// 1 GiB with the same tag (MPI keeps their order); all-reduces go in pieces of 2^26 elements. After a deadline
/// error the pending receives are cancelled (no late message lands in freed memory); pending sends cannot be, so
/// end the process. Threads: one thread at a time may use a handle; the
/// asynchronous runtime (a communication thread beside the user's) needs MPI initialised with at least
/// `MPI_THREAD_SERIALIZED` (`mpi::threads_serialized()`).

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>

namespace decent::comm {

/// Settings of an MPI communicator.
struct mpi_options {
  /// The longest any blocking wait may take before it fails with a `comm_error`.
  std::chrono::milliseconds deadline{60'000};
};

/// One rank of an MPI communicator (host memory).
class mpi {
 public:
  using communicator_concept = communicator_tag;
  static constexpr bool can_access(memory_space space) { return space == memory_space::host; }

  /// Duplicates `comm` (collective over it). MPI must be initialised.
  explicit mpi(MPI_Comm comm = MPI_COMM_WORLD, mpi_options options = {}) : options_(options) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    expects(initialized != 0, "the MPI communicator needs MPI_Init (or MPI_Init_thread) first");
    expects(options.deadline.count() > 0, "the deadline of an MPI communicator must be positive, got ",
            options.deadline.count(), " ms");
    check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  mpi(const mpi&) = delete;
  mpi& operator=(const mpi&) = delete;
  mpi(mpi&& other) noexcept { *this = std::move(other); }
  mpi& operator=(mpi&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
      rank_ = other.rank_;
      size_ = other.size_;
      options_ = other.options_;
      stats_ = other.stats_;
    }
    return *this;
  }
  ~mpi() { release(); }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  /// The duplicated communicator decent uses.
  [[nodiscard]] MPI_Comm native() const { return comm_; }
  /// Whether MPI runs with at least MPI_THREAD_SERIALIZED (needed by the asynchronous runtime).
  [[nodiscard]] static bool threads_serialized() {
    int provided = MPI_THREAD_SINGLE;
    MPI_Query_thread(&provided);
    return provided >= MPI_THREAD_SERIALIZED;
  }

  /// Posts every receive and send of the batch as nonblocking requests and waits for all of them.
  void exchange(std::span<const send_op> sends, std::span<const recv_op> recvs) {
    for (const send_op& s : sends) check_op("send to", s.peer, s.data, s.bytes, s.tag);
    for (const recv_op& r : recvs) check_op("receive from", r.peer, r.data, r.bytes, r.tag);
    // Scratch kept between calls (no allocation per step); receive piece k belongs to recvs[piece_of_[k]].
    requests_.clear();
    piece_of_.clear();
    piece_bytes_.clear();
    for (std::size_t k = 0; k < recvs.size(); ++k) {
      const recv_op& r = recvs[k];
      for (std::size_t at = 0; at < r.bytes || (at == 0 && r.bytes == 0); at += piece) {
        const int n = static_cast<int>(std::min(piece, r.bytes - at));
        MPI_Request q;
        check(MPI_Irecv(static_cast<std::byte*>(r.data) + at, n, MPI_BYTE, r.peer, r.tag, comm_, &q), "MPI_Irecv");
        requests_.push_back(q);
        piece_of_.push_back(k);
        piece_bytes_.push_back(n);
        if (r.bytes == 0) break;
      }
    }
    const std::size_t receives = requests_.size();
    for (const send_op& s : sends)
      for (std::size_t at = 0; at < s.bytes || (at == 0 && s.bytes == 0); at += piece) {
        const int n = static_cast<int>(std::min(piece, s.bytes - at));
        MPI_Request q;
        check(MPI_Isend(static_cast<const std::byte*>(s.data) + at, n, MPI_BYTE, s.peer, s.tag, comm_, &q),
              "MPI_Isend");
        requests_.push_back(q);
        if (s.bytes == 0) break;
      }
    statuses_.resize(requests_.size());
    wait(requests_, statuses_, receives, [&] {
      std::string peers;
      for (const recv_op& r : recvs) {
        peers.push_back(' ');
        peers.append(std::to_string(r.peer));
      }
      return decent::detail::concat("an exchange (receiving from ranks", peers, ")");
    });
    for (std::size_t k = 0; k < receives; ++k) {
      int count = 0;
      MPI_Get_count(&statuses_[k], MPI_BYTE, &count);
      const recv_op& r = recvs[piece_of_[k]];
      expects<comm_error>(count == piece_bytes_[k], "rank ", rank_, " expected ", r.bytes, " bytes from rank ",
                          r.peer, " (tag ", r.tag, ") but the message was shorter: do all workers use the same ",
                          "parameter layout?");
    }
    for (const send_op& s : sends) stats_.bytes_sent += s.bytes;
    for (const recv_op& r : recvs) stats_.bytes_received += r.bytes;
    stats_.messages_sent += sends.size();
    stats_.messages_received += recvs.size();
  }

  /// Returns once every rank called it (`comm_error` past the deadline).
  void barrier() {
    MPI_Request q;
    check(MPI_Ibarrier(comm_, &q), "MPI_Ibarrier");
    wait_one(q, "a barrier");
  }

  /// In-place sum over all ranks, bit-identical on every rank and to the in-process communicator.
  void allreduce_sum(double* data, std::size_t count) { allreduce(data, count, MPI_DOUBLE); }
  /// In-place sum over all ranks, bit-identical on every rank and to the in-process communicator.
  void allreduce_sum(float* data, std::size_t count) { allreduce(data, count, MPI_FLOAT); }

  /// Whether every rank passed the same value (collective; setup traffic, not counted). See comm/agreement.hpp.
  bool agree(std::uint64_t value) {
    unsigned long long extremes[2] = {value, ~value};  // max(v) and max(~v) = ~min(v)
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, extremes, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm_, &request),
          "MPI_Iallreduce");
    wait_one(request, "the agreement check");
    return extremes[0] == ~extremes[1];
  }

  [[nodiscard]] counters stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  void release() noexcept {
    if (comm_ == MPI_COMM_NULL) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
  }

  void check(int code, const char* call) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw comm_error(decent::detail::concat("rank ", rank_, ": ", call, " failed: ", std::string(text, static_cast<std::size_t>(length))));
  }

  /// Largest piece of a message, in bytes.
  static constexpr std::size_t piece = std::size_t{1} << 30;
  /// Largest piece of an all-reduce, in elements.
  static constexpr std::size_t reduce_piece = std::size_t{1} << 26;

  void check_op(const char* what, int peer, const void* data, std::size_t bytes, int tag) const {
    expects(peer >= 0 && peer < size_, "rank ", rank_, " cannot ", what, " rank ", peer,
            ": out of range for an MPI communicator of ", size_);
    expects(data != nullptr || bytes == 0, "rank ", rank_, " cannot ", what, " rank ", peer, " ", bytes,
            " bytes with a null buffer");
    expects(tag >= 0 && tag <= 32767, "rank ", rank_, ": message tag ", tag, " is outside [0, 32767]");
  }

  /// Polls `requests` until all completed. On an error, or after the deadline (`comm_error` naming `what()`),
  /// the first `receives` requests (receives) still pending are cancelled first, so no late message lands in a
  /// buffer the caller may free.
  template <class Describe>
  void wait(std::span<MPI_Request> requests, std::span<MPI_Status> statuses, std::size_t receives, Describe what) {
    const auto until = std::chrono::steady_clock::now() + options_.deadline;
    const auto spin_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);
    auto cancel_receives = [&] {
      for (std::size_t k = 0; k < receives; ++k)
        if (requests[k] != MPI_REQUEST_NULL) {
          MPI_Cancel(&requests[k]);
          MPI_Wait(&requests[k], MPI_STATUS_IGNORE);
        }
    };
    for (;;) {
      int done = 0;
      const int code = MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, statuses.data());
      if (code != MPI_SUCCESS) {
        cancel_receives();
        if (code == MPI_ERR_IN_STATUS)
          for (const MPI_Status& s : statuses)
            if (s.MPI_ERROR != MPI_SUCCESS && s.MPI_ERROR != MPI_ERR_PENDING)
              check(s.MPI_ERROR, decent::detail::concat("waiting for ", what(), " (rank ", s.MPI_SOURCE, ")").c_str());
        check(code, "MPI_Testall");
      }
      if (done) return;
      if (std::chrono::steady_clock::now() > until) {
        cancel_receives();
        throw comm_error(decent::detail::concat("rank ", rank_, " waited ", options_.deadline.count(), " ms for ",
                                                what(), ": a peer stalled or died (mpi_options::deadline)"));
      }
      // MPI moves data only inside MPI calls: keep polling (yielding to other threads) for 10 ms, which covers a
      // large message, then poll every 20 µs so that a long wait for a peer does not hold a core.
      if (std::chrono::steady_clock::now() < spin_until) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  void wait_one(MPI_Request& q, const char* what) {
    MPI_Status status;
    wait(std::span(&q, 1), std::span(&status, 1), 0, [&] { return std::string(what); });
  }

  template <class T>
  void allreduce(T* data, std::size_t count, MPI_Datatype type) {
    expects(data != nullptr || count == 0, "rank ", rank_, " called allreduce_sum on a null buffer of ", count,
            " elements");
    // Every rank passes the same count: max(count) == −max(−count).
    long long extent[2] = {static_cast<long long>(count), -static_cast<long long>(count)};
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, extent, 2, MPI_LONG_LONG, MPI_MAX, comm_, &request), "MPI_Iallreduce");
    wait_one(request, "the element counts of an all-reduce");
    expects<comm_error>(extent[0] == -extent[1], "rank ", rank_, " called allreduce_sum on ", count,
                        " elements but other ranks on between ", -extent[1], " and ", extent[0],
                        ": do all workers use the same parameter layout?");
    // Each element is summed over ranks 0..n−1 in order whoever owns it, so pieces do not change the bits.
    for (std::size_t at = 0; at < count; at += reduce_piece)
      reduce_piece_of(data + at, std::min(reduce_piece, count - at), type);
    const auto n = static_cast<std::uint64_t>(size_);
    const std::uint64_t ring_bytes = 2 * (n - 1) * count * sizeof(T) / n, ring_messages = 2 * (n - 1);
    stats_.bytes_sent += ring_bytes;
    stats_.bytes_received += ring_bytes;
    stats_.messages_sent += ring_messages;
    stats_.messages_received += ring_messages;
  }

  /// One piece of an all-reduce (count < 2^31 elements): rank r owns a contiguous slice, as in the in-process one.
  template <class T>
  void reduce_piece_of(T* data, std::size_t count, MPI_Datatype type) {
    MPI_Request request;
    const auto n = static_cast<std::size_t>(size_);
    const std::size_t base = count / n, extra = count % n;
    auto& counts = slices_[0];
    auto& offsets = slices_[1];
    auto& receive_counts = slices_[2];
    auto& receive_offsets = slices_[3];
    for (auto& v : slices_) v.resize(n);
    for (std::size_t r = 0; r < n; ++r) {
      counts[r] = static_cast<int>(base + (r < extra ? 1 : 0));
      offsets[r] = static_cast<int>(r * base + std::min(r, extra));
    }
    const auto me = static_cast<std::size_t>(rank_);
    const auto mine = static_cast<std::size_t>(counts[me]);
    // All-to-all: rank q's copy of my slice lands at gathered[q·mine ...] (scratch kept between calls).
    gathered_.resize(n * mine * sizeof(T));
    T* gathered = reinterpret_cast<T*>(gathered_.data());
    for (std::size_t q = 0; q < n; ++q) {
      receive_counts[q] = counts[me];
      receive_offsets[q] = static_cast<int>(q * mine);
    }
    check(MPI_Ialltoallv(data, counts.data(), offsets.data(), type, gathered, receive_counts.data(),
                         receive_offsets.data(), type, comm_, &request),
          "MPI_Ialltoallv");
    wait_one(request, "an all-reduce (all-to-all)");
    for (std::size_t k = 0; k < mine; ++k) {
      T sum = gathered[k];
      for (std::size_t r = 1; r < n; ++r) sum += gathered[r * mine + k];
      data[static_cast<std::size_t>(offsets[me]) + k] = sum;
    }
    check(MPI_Iallgatherv(MPI_IN_PLACE, 0, type, data, counts.data(), offsets.data(), type, comm_, &request),
          "MPI_Iallgatherv");
    wait_one(request, "an all-reduce (all-gather)");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  mpi_options options_{};
  counters stats_{};
  // Scratch of exchange() and allreduce_sum(), reused so that a step allocates nothing once warmed up.
  std::vector<MPI_Request> requests_;
  std::vector<MPI_Status> statuses_;
  std::vector<std::size_t> piece_of_;
  std::vector<int> piece_bytes_;
  std::vector<int> slices_[4];         ///< counts, offsets, receive counts, receive offsets of an all-reduce
  std::vector<std::byte> gathered_;    ///< an all-reduce's slices from every rank (new storage is max-aligned)
};

}  // namespace decent::comm
