#pragma once
/// @file
/// @brief The identity compressor: the full parameters travel. With the gossip rule it is plain gossip
/// (D-PSGD); with Choco-SGD it makes Choco exact gossip on the public copies.
///
/// As an edge compressor it sends the parameters themselves (no copy: one message per segment, i.e. one per
/// neighbour when the parameters are packed) and decodes them as they are: one `decoded_values` part per segment,
/// the neighbours' received values (the gossip rule then forms x ← (1 − γΣ_j w_ij)·x + γΣ_j w_ij·x_j in one
/// pass). As a vector compressor its message is the vector's bytes.

#include <cstddef>
#include <span>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/tensor.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/comm/exchange.hpp>

namespace decent::compress {

/// No compression.
template <exec::executor Exec, class T>
class identity {
 public:
  using compressor_concept = compressor_tag;
  static constexpr bool stateless = true;
  using value_type = T;
  using executor_type = Exec;
  struct options {};
  static constexpr bool is_linear = true;

  identity() = default;
  template <class Context>
  identity(const Context&, const parameters<T>& params, options) : segments_(params.segments()) {}

  /// One exchange per step.
  [[nodiscard]] int rounds(std::int64_t) const { return 1; }

  /// Sends every segment to every neighbour (tag = segment index) and receives theirs, packed, per neighbour.
  template <class Context>
  void encode(const Context& ctx, std::span<const int> peers, comm::exchange_plan<T>& plan) {
    std::size_t total = 0;
    for (const auto& s : segments_) total = std::max(total, s.offset + s.view.numel());
    while (received_.size() < peers.size()) received_.push_back(ctx.exec.template allocate<T>(total));
    for (std::size_t j = 0; j < peers.size(); ++j)
      for (std::size_t k = 0; k < segments_.size(); ++k) {
        const auto& [x, offset] = segments_[k];
        plan.sends.push_back({peers[j], x.data, x.bytes(), static_cast<int>(k)});
        plan.recvs.push_back({peers[j], received_[j].data() + offset, x.bytes(), static_cast<int>(k)});
      }
  }

  /// One part per segment: the neighbours' values as they arrived.
  template <class Context, class Visit>
  void decode(const Context&, std::span<const int> peers, Visit&& visit) {
    slots_.resize(peers.size());
    inputs_.resize(peers.size());
    for (std::size_t j = 0; j < peers.size(); ++j) slots_[j] = static_cast<int>(j);
    for (const auto& [x, offset] : segments_) {
      for (std::size_t j = 0; j < peers.size(); ++j) inputs_[j] = received_[j].data() + offset;
      visit(decoded_values<T>{x.data, x.numel(), slots_, inputs_});
    }
  }

  /// Vector use: the message is the tensor's bytes.
  [[nodiscard]] std::size_t message_bytes(const shape& s) const { return s.numel() * sizeof(T); }
  void encode(const Exec& ex, tensor_view<T> v, std::byte* message) const {
    ex.copy(reinterpret_cast<T*>(message), v.data, v.numel());
  }
  void decode_add(const Exec& ex, const std::byte* message, double coef, tensor_view<T> dst) const {
    ex.for_each(dst.numel(), decent::detail::axpy_kernel<T>{dst.data, reinterpret_cast<const T*>(message), coef});
  }

 private:
  std::vector<typename parameters<T>::segment> segments_;
  std::vector<typename Exec::template buffer<T>> received_;  // received_[j]: neighbour j's parameters, packed
  std::vector<int> slots_;           // 0, 1, …: every neighbour of the round, in order
  std::vector<const T*> inputs_;
};

static_assert(edge_compressor<identity<exec::host, float>> && vector_compressor<identity<exec::host, double>>);

}  // namespace decent::compress
