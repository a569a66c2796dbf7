#pragma once
/// @file
/// @brief The NCCL communicator: ranks are GPUs, buffers are device memory (target `decent::nccl`; compiles with
/// g++ given the CUDA and NCCL headers).
///
/// All point-to-point calls of a batch run inside one NCCL group on the communicator's stream. NCCL matches the
/// messages between two ranks in posting order and has no tags, so each batch posts, per peer, its sends and its
/// receives sorted by tag (stable): both ends then agree whenever their (peer, tag) pairs match. NCCL does not
/// check sizes: a receive whose size differs from the matching send is undefined (the agreement check at setup
/// makes it unlikely). The communicator is non-blocking (`ncclConfig_t::blocking = 0`): joining, connecting to a
/// new peer and every transfer are polled — `ncclCommGetAsyncError` until it leaves `ncclInProgress`, then the
/// stream — and past `nccl_options::deadline` (or on an NCCL error) the communicator is aborted (`ncclCommAbort`,
/// so no kernel waits forever) and a `comm_error` is thrown; the communicator is unusable afterwards. The default
/// stream is the legacy default stream; pass your own (non-blocking) stream to overlap with other work.
///
/// Bootstrap: every rank needs the same `ncclUniqueId`. `nccl_unique_id_through_file` passes it through a file
/// (rank 0 writes it atomically, the others wait for it — loopback or a shared file system, no MPI needed);
/// `comm/nccl_mpi.hpp` broadcasts it with MPI.
///
/// `allreduce_sum` sums in NCCL's order (not the in-process rank order): equal on every rank, but not bit-identical
/// to the host communicators. `agree` (the setup check) reduces two 64-bit values with `ncclMax`.

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/core/error.hpp>
#include <decent/detail/cuda_check.hpp>

namespace decent::comm {

/// Settings of an NCCL communicator.
struct nccl_options {
  /// The longest any blocking wait may take before the communicator is aborted with a `comm_error`.
  std::chrono::milliseconds deadline{60'000};
};

namespace detail {
inline void nccl_check(ncclResult_t result, const char* call, int rank) {
  if (result == ncclSuccess || result == ncclInProgress) return;
  throw comm_error(decent::detail::concat("rank ", rank, ": ", call, " failed: ", ncclGetErrorString(result), " (",
                                          ncclGetLastError(nullptr), ")"));
}
}  // namespace detail

/// A fresh unique id (rank 0 creates it and hands it to the others).
[[nodiscard]] inline ncclUniqueId nccl_unique_id() {
  ncclUniqueId id;
  detail::nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId", 0);
  return id;
}

/// The job's unique id through a file: rank 0 creates it and writes `path` atomically (a temporary file, then a
/// rename); the other ranks wait up to `deadline` for the file. Remove the file before the next job.
[[nodiscard]] inline ncclUniqueId nccl_unique_id_through_file(const std::filesystem::path& path, int rank,
                                                              std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  ncclUniqueId id;
  if (rank == 0) {
    id = nccl_unique_id();
    const std::filesystem::path partial = path.string() + ".partial";
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(&id), sizeof id);
      expects<comm_error>(out.good(), "rank 0 cannot write the NCCL unique id to ", partial.string());
    }
    std::filesystem::rename(partial, path);
    return id;
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    std::ifstream in(path, std::ios::binary);
    if (in && in.read(reinterpret_cast<char*>(&id), sizeof id)) return id;
    expects<comm_error>(std::chrono::steady_clock::now() < until, "rank ", rank, " waited ", deadline.count(),
                        " ms for rank 0 to write the NCCL unique id to ", path.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// One rank of an NCCL communicator (device memory of the current CUDA device).
class nccl {
 public:
  using communicator_concept = communicator_tag;
  static constexpr bool can_access(memory_space space) { return space == memory_space::device; }
  static constexpr bool can_reduce(memory_space space) { return space == memory_space::device; }

  /// Joins the communicator of `size` ranks identified by `id` (collective; blocks until all joined) on the
  /// current device; kernels run on `stream`.
  nccl(ncclUniqueId id, int rank, int size, cudaStream_t stream = nullptr, nccl_options options = {})
      : rank_(rank), size_(size), stream_(stream), options_(options) {
    expects(size >= 1 && rank >= 0 && rank < size, "NCCL rank ", rank, " out of range for ", size, " ranks");
    expects(options.deadline.count() > 0, "the deadline of an NCCL communicator must be positive, got ",
            options.deadline.count(), " ms");
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    detail::nccl_check(ncclCommInitRankConfig(&comm_, size, id, rank, &config), "ncclCommInitRank", rank);
    wait("joining the communicator");
    DECENT_CUDA_TRY(cudaMalloc(&scratch_, 2 * sizeof(std::uint64_t)));
  }

  nccl(const nccl&) = delete;
  nccl& operator=(const nccl&) = delete;
  nccl(nccl&& other) noexcept { *this = std::move(other); }
  nccl& operator=(nccl&& other) noexcept {
    if (this != &other) {
      release();
      comm_ = std::exchange(other.comm_, nullptr);
      scratch_ = std::exchange(other.scratch_, nullptr);
      rank_ = other.rank_;
      size_ = other.size_;
      stream_ = other.stream_;
      options_ = other.options_;
      stats_ = other.stats_;
      aborted_ = std::exchange(other.aborted_, false);
    }
    return *this;
  }
  ~nccl() { release(); }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] ncclComm_t native() const { return comm_; }
  [[nodiscard]] cudaStream_t stream() const { return stream_; }

  /// One NCCL group with every send and receive of the batch (per peer in tag order), then a wait.
  void exchange(std::span<const send_op> sends, std::span<const recv_op> recvs) {
    for (const send_op& s : sends) check_op("send to", s.peer, s.data, s.bytes);
    for (const recv_op& r : recvs) check_op("receive from", r.peer, r.data, r.bytes);
    ordered_sends_.assign(sends.begin(), sends.end());  // scratch kept between calls
    ordered_recvs_.assign(recvs.begin(), recvs.end());
    std::stable_sort(ordered_sends_.begin(), ordered_sends_.end(),
                     [](const send_op& a, const send_op& b) { return a.tag < b.tag; });
    std::stable_sort(ordered_recvs_.begin(), ordered_recvs_.end(),
                     [](const recv_op& a, const recv_op& b) { return a.tag < b.tag; });
    usable();
    detail::nccl_check(ncclGroupStart(), "ncclGroupStart", rank_);
    for (const send_op& s : ordered_sends_)
      detail::nccl_check(ncclSend(s.data, s.bytes, ncclUint8, s.peer, comm_, stream_), "ncclSend", rank_);
    for (const recv_op& r : ordered_recvs_)
      detail::nccl_check(ncclRecv(r.data, r.bytes, ncclUint8, r.peer, comm_, stream_), "ncclRecv", rank_);
    detail::nccl_check(ncclGroupEnd(), "ncclGroupEnd", rank_);
    wait("an exchange");
    for (const send_op& s : sends) stats_.bytes_sent += s.bytes;
    for (const recv_op& r : recvs) stats_.bytes_received += r.bytes;
    stats_.messages_sent += sends.size();
    stats_.messages_received += recvs.size();
  }

  /// Returns once every rank called it.
  void barrier() {
    usable();
    detail::nccl_check(ncclAllReduce(scratch_, scratch_, 1, ncclUint64, ncclMax, comm_, stream_), "ncclAllReduce",
                       rank_);
    wait("a barrier");
  }

  /// In-place sum of device memory over all ranks (NCCL's summation order).
  void allreduce_sum(double* data, std::size_t count) { allreduce(data, count, ncclDouble); }
  void allreduce_sum(float* data, std::size_t count) { allreduce(data, count, ncclFloat); }

  /// Whether every rank passed the same value (collective; setup traffic, not counted).
  bool agree(std::uint64_t value) {
    usable();
    std::uint64_t extremes[2] = {value, ~value};
    DECENT_CUDA_TRY(cudaMemcpyAsync(scratch_, extremes, sizeof extremes, cudaMemcpyHostToDevice, stream_));
    wait("the agreement check (upload)");  // the pageable copy has left `extremes` before it is reused
    detail::nccl_check(ncclAllReduce(scratch_, scratch_, 2, ncclUint64, ncclMax, comm_, stream_), "ncclAllReduce",
                       rank_);
    wait("the agreement check");  // polled: a stalled peer is an error, not a hang in the copy below
    DECENT_CUDA_TRY(cudaMemcpy(extremes, scratch_, sizeof extremes, cudaMemcpyDeviceToHost));
    return extremes[0] == ~extremes[1];
  }

  [[nodiscard]] counters stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  void release() noexcept {
    if (scratch_) (void)cudaFree(scratch_);
    scratch_ = nullptr;
    if (comm_) {
      if (aborted_) (void)ncclCommAbort(comm_);
      else (void)ncclCommDestroy(comm_);
    }
    comm_ = nullptr;
  }

  void usable() const {
    expects<comm_error>(!aborted_, "rank ", rank_, ": the NCCL communicator was aborted after an earlier error");
  }

  void check_op(const char* what, int peer, const void* data, std::size_t bytes) const {
    expects(peer >= 0 && peer < size_, "rank ", rank_, " cannot ", what, " rank ", peer,
            ": out of range for an NCCL communicator of ", size_);
    expects(data != nullptr || bytes == 0, "rank ", rank_, " cannot ", what, " rank ", peer, " ", bytes,
            " bytes with a null buffer");
  }

  /// Polls NCCL until the calls are issued (not `ncclInProgress`), then the stream until its work is done; aborts
  /// and throws on an error or past the deadline.
  void wait(const char* what) {
    const auto until = std::chrono::steady_clock::now() + options_.deadline;
    for (int polls = 0;; ++polls) {
      ncclResult_t async = ncclSuccess;
      (void)ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress)
        fail(decent::detail::concat("NCCL error while waiting for ", what, ": ", ncclGetErrorString(async)));
      if (async == ncclSuccess) {
        const cudaError_t status = cudaStreamQuery(stream_);
        if (status == cudaSuccess) return;
        if (status != cudaErrorNotReady)
          fail(decent::detail::concat("CUDA error while waiting for ", what, ": ", cudaGetErrorString(status)));
      }
      if (std::chrono::steady_clock::now() > until)
        fail(decent::detail::concat("waited ", options_.deadline.count(), " ms for ", what,
                                    ": a peer stalled or died (nccl_options::deadline)"));
      if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  [[noreturn]] void fail(const std::string& reason) {
    aborted_ = true;
    (void)ncclCommAbort(comm_);
    comm_ = nullptr;
    (void)cudaGetLastError();
    throw comm_error(decent::detail::concat("rank ", rank_, ": ", reason, "; the communicator was aborted"));
  }

  template <class T>
  void allreduce(T* data, std::size_t count, ncclDataType_t type) {
    usable();
    expects(data != nullptr || count == 0, "rank ", rank_, " called allreduce_sum on a null buffer of ", count,
            " elements");
    detail::nccl_check(ncclAllReduce(data, data, count, type, ncclSum, comm_, stream_), "ncclAllReduce", rank_);
    wait("an all-reduce");
    const auto n = static_cast<std::uint64_t>(size_);
    const std::uint64_t ring_bytes = 2 * (n - 1) * count * sizeof(T) / n, ring_messages = 2 * (n - 1);
    stats_.bytes_sent += ring_bytes;
    stats_.bytes_received += ring_bytes;
    stats_.messages_sent += ring_messages;
    stats_.messages_received += ring_messages;
  }

  ncclComm_t comm_ = nullptr;
  void* scratch_ = nullptr;
  int rank_ = 0, size_ = 1;
  cudaStream_t stream_ = nullptr;
  nccl_options options_{};
  counters stats_{};
  bool aborted_ = false;
  std::vector<send_op> ordered_sends_;
  std::vector<recv_op> ordered_recvs_;
};

}  // namespace decent::comm
