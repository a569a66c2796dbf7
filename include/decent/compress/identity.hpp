#pragma once
/// @file
/// @brief The identity compressor: the full parameters travel. With the gossip rule it is plain gossip
/// (D-PSGD); with Choco-SGD it makes Choco exact gossip on the public copies.
///
/// As an edge compressor it sends the parameters themselves (no copy: one message per segment, i.e. one per
/// neighbour when the parameters are packed) and combines x ← (1 − γΣ_j w_ij)·x + γΣ_j w_ij·x_j in one fused
/// pass per segment; neighbours are summed in order, in double, rounded once per pass of up to
/// `detail::max_weighted_terms` (8) neighbours. As a vector compressor its message is the vector's bytes.

#include <cstddef>
#include <span>
#include <vector>

#include <decent/compress/compressor.hpp>
#include <decent/core/tensor.hpp>
#include <decent/detail/kernels.hpp>
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
  void plan(const Context& ctx, std::span<const int> peers, comm::exchange_plan<T>& plan) {
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

  /// x ← (1 − γΣ_j w_j)·x + γΣ_j w_j·x_j.
  template <class Context>
  void combine(const Context& ctx, std::span<const int> peers, std::span<const double> weights, double gamma) {
    coef_.resize(peers.size());
    inputs_.resize(peers.size());
    double self = 1.0;
    for (std::size_t j = 0; j < peers.size(); ++j) {
      coef_[j] = gamma * weights[j];
      self -= coef_[j];
    }
    for (const auto& [x, offset] : segments_) {
      for (std::size_t j = 0; j < peers.size(); ++j) inputs_[j] = received_[j].data() + offset;
      decent::detail::weighted_sum(ctx.exec, x.numel(), x.data, self, inputs_.data(), coef_.data(),
                                   static_cast<int>(peers.size()));
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
  std::vector<double> coef_;
  std::vector<const T*> inputs_;
};

static_assert(edge_compressor<identity<exec::host, float>> && vector_compressor<identity<exec::host, double>>);

}  // namespace decent::compress
