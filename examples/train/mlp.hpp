#pragma once
// The user's model in decent-train: a multi-layer perceptron with ReLU and softmax cross-entropy, its own SGD
// with momentum and weight decay, on host or device buffers. Matrix products go through a BLAS policy (OpenBLAS
// on the host, cuBLAS on a GPU); the element-wise pieces are functors run by a decent executor's for_each and sum,
// so the same code runs on both. decent sees none of this: it gets the parameters as `train::tensor`s.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include <decent/core/config.hpp>
#include <decent/core/shape.hpp>
#include <decent/exec/operations.hpp>

#include "fashion_mnist.hpp"

namespace train {

/// The trainer's own tensor type: a view of the model's arena with its sizes, as a framework would have it.
/// decent takes it as it is (data() + sizes(): decent/core/tensor_like.hpp).
struct tensor {
  float* ptr = nullptr;
  std::vector<int> dims;
  [[nodiscard]] float* data() const { return ptr; }
  [[nodiscard]] const std::vector<int>& sizes() const { return dims; }
};

// Fashion-MNIST's pixel mean and standard deviation (of x / 255 over the training set).
inline constexpr float pixel_mean = 0.2860f, pixel_std = 0.3530f;

namespace kernels {

/// x[b, p] = (images[index[b], p] / 255 − mean) / std and y[b] = labels[index[b]]; `index` null: samples first..
struct gather {
  float* x;
  std::uint8_t* y;
  const std::uint8_t* images;
  const std::uint8_t* labels;
  const std::uint32_t* index;
  std::size_t first, pixels;
  DECENT_HD void operator()(std::size_t i) const {
    const std::size_t b = i / pixels, p = i % pixels;
    const std::size_t k = index ? index[b] : first + b;
    x[i] = (static_cast<float>(images[k * pixels + p]) * (1.0f / 255.0f) - pixel_mean) / pixel_std;
    if (p == 0) y[b] = labels[k];
  }
};

/// z[b, j] += bias[j], then ReLU unless this is the output layer.
struct bias_activation {
  float* z;
  const float* bias;
  std::size_t width;
  bool relu;
  DECENT_HD void operator()(std::size_t i) const {
    const float v = z[i] + bias[i % width];
    z[i] = relu && v < 0 ? 0.0f : v;
  }
};

/// Row b of the logits: loss[b] = −log softmax(z)[y_b]; d = (softmax(z) − onehot(y_b)) / batch.
struct softmax_cross_entropy {
  const float* z;
  const std::uint8_t* y;
  float* d;
  float* loss;
  std::size_t classes;
  float inv_batch;
  DECENT_HD void operator()(std::size_t b) const {
    const float* row = z + b * classes;
    float top = row[0];
    for (std::size_t c = 1; c < classes; ++c) top = row[c] > top ? row[c] : top;
    float total = 0;
    for (std::size_t c = 0; c < classes; ++c) total += expf(row[c] - top);
    const float log_total = logf(total);
    loss[b] = log_total - (row[y[b]] - top);
    for (std::size_t c = 0; c < classes; ++c) {
      const float p = expf(row[c] - top - log_total);
      d[b * classes + c] = (p - (c == y[b] ? 1.0f : 0.0f)) * inv_batch;
    }
  }
};

/// Σ over the batch of the per-sample losses.
struct loss_term {
  const float* loss;
  DECENT_HD double operator()(std::size_t b) const { return static_cast<double>(loss[b]); }
};

/// 1 when row b's arg-max is its label.
struct correct_term {
  const float* z;
  const std::uint8_t* y;
  std::size_t classes;
  DECENT_HD double operator()(std::size_t b) const {
    const float* row = z + b * classes;
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c) best = row[c] > row[best] ? c : best;
    return best == y[b] ? 1.0 : 0.0;
  }
};

/// db[j] = Σ_b d[b, j].
struct column_sums {
  const float* d;
  float* db;
  std::size_t rows, width;
  DECENT_HD void operator()(std::size_t j) const {
    float s = 0;
    for (std::size_t b = 0; b < rows; ++b) s += d[b * width + j];
    db[j] = s;
  }
};

/// Back through a ReLU: d[i] = 0 where the activation a[i] was clipped.
struct relu_backward {
  float* d;
  const float* a;
  DECENT_HD void operator()(std::size_t i) const {
    if (a[i] <= 0) d[i] = 0;
  }
};

/// The user's optimizer: g += wd·w; m ← μm + g; Δ = −lr·m (heavy ball, as PyTorch's SGD).
struct sgd_update {
  const float* w;
  const float* g;
  float* m;
  float* delta;
  float lr, momentum, weight_decay;
  DECENT_HD void operator()(std::size_t i) const {
    const float grad = g[i] + weight_decay * w[i];
    m[i] = momentum * m[i] + grad;
    delta[i] = -lr * m[i];
  }
};

/// w += Δ.
struct add {
  float* w;
  const float* delta;
  DECENT_HD void operator()(std::size_t i) const { w[i] += delta[i]; }
};

}  // namespace kernels

/// An MLP of the given widths (input first, classes last) on executor `Exec`, products through `Blas`
/// (`gemm(transpose_a, transpose_b, m, n, k, a, lda, b, ldb, c, ldc)`, row-major, C = op(A)·op(B)).
template <class Exec, class Blas>
class mlp {
 public:
  static constexpr std::size_t eval_chunk = 500;

  /// Every worker builds the same initial model from `seed` (PyTorch's default: U(±1/√fan_in)).
  mlp(std::vector<int> widths, std::uint64_t seed, std::size_t batch, Exec exec, Blas blas)
      : widths_(std::move(widths)), batch_(batch), exec_(std::move(exec)), blas_(std::move(blas)) {
    std::size_t n = 0;
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
      offsets_.push_back(n);
      n += static_cast<std::size_t>(widths_[l + 1]) * static_cast<std::size_t>(widths_[l]) +
           static_cast<std::size_t>(widths_[l + 1]);
    }
    numel_ = n;
    params_ = exec_.template allocate<float>(n);
    grads_ = exec_.template allocate<float>(n);
    momentum_ = exec_.template allocate<float>(n);
    delta_ = exec_.template allocate<float>(n);
    eval_params_ = exec_.template allocate<float>(n);
    std::vector<float> init(n);
    std::mt19937_64 rng(seed);
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(widths_[l]));
      std::uniform_real_distribution<float> u(-bound, bound);
      const std::size_t end = l + 2 < widths_.size() ? offsets_[l + 1] : n;
      for (std::size_t k = offsets_[l]; k < end; ++k) init[k] = u(rng);
    }
    exec_.upload(params_.data(), init.data(), n);
    decent::exec::fill(exec_, momentum_.data(), 0.0f, n);
    const std::size_t rows = std::max(batch_, eval_chunk);
    for (const int w : widths_) activations_.push_back(exec_.template allocate<float>(rows * static_cast<std::size_t>(w)));
    for (const int w : widths_) errors_.push_back(exec_.template allocate<float>(rows * static_cast<std::size_t>(w)));
    labels_ = exec_.template allocate<std::uint8_t>(rows);
    index_ = exec_.template allocate<std::uint32_t>(rows);
    loss_ = exec_.template allocate<float>(rows);
    weights_ = views(params_.data());
    updates_ = views(delta_.data());
    exec_.synchronize();
  }

  /// The parameters as the trainer's tensors (W₀, b₀, W₁, b₁, …; W row-major out × in), back to back in one arena.
  [[nodiscard]] std::vector<tensor>& weights() { return weights_; }
  /// The last step's update Δ, tensor by tensor, in the same layout.
  [[nodiscard]] std::vector<tensor>& updates() { return updates_; }
  [[nodiscard]] float* params() { return params_.data(); }
  [[nodiscard]] float* eval_params() { return eval_params_.data(); }
  [[nodiscard]] std::size_t numel() const { return numel_; }
  [[nodiscard]] const Exec& executor() const { return exec_; }

  /// Forward and backward on the samples `index` (host indices into `images`/`labels`, executor memory), then
  /// the optimizer's Δ (not applied). Returns the batch's mean loss.
  double train_step(const std::uint8_t* images, const std::uint8_t* labels, const std::vector<std::uint32_t>& index,
                    float lr, float momentum, float weight_decay) {
    const std::size_t b = index.size();
    exec_.upload(index_.data(), index.data(), b);
    load(images, labels, index_.data(), 0, b);
    forward(params_.data(), b);
    const std::size_t last = widths_.size() - 1, classes_out = width(last);
    exec_.for_each(b, kernels::softmax_cross_entropy{activations_[last].data(), labels_.data(), errors_[last].data(),
                                                     loss_.data(), classes_out, 1.0f / static_cast<float>(b)});
    const double loss = exec_.sum(b, kernels::loss_term{loss_.data()}) / static_cast<double>(b);
    for (std::size_t l = last; l-- > 0;) {
      const std::size_t in = width(l), out = width(l + 1);
      float* dw = grads_.data() + offsets_[l];
      blas_.gemm(true, false, out, in, b, errors_[l + 1].data(), out, activations_[l].data(), in, dw, in);
      exec_.for_each(out, kernels::column_sums{errors_[l + 1].data(), dw + out * in, b, out});
      if (l > 0) {
        blas_.gemm(false, false, b, in, out, errors_[l + 1].data(), out, params_.data() + offsets_[l], in,
                   errors_[l].data(), in);
        exec_.for_each(b * in, kernels::relu_backward{errors_[l].data(), activations_[l].data()});
      }
    }
    exec_.for_each(numel_, kernels::sgd_update{params_.data(), grads_.data(), momentum_.data(), delta_.data(), lr,
                                               momentum, weight_decay});
    return loss;
  }

  /// The user's own optimizer step on the parameters: w += Δ (synchronous algorithms mix afterwards).
  void apply_update() { exec_.for_each(numel_, kernels::add{params_.data(), delta_.data()}); }

  /// Correctly classified samples [first, last) of a set (executor memory) by the model `weights` (executor
  /// memory, this model's layout).
  std::size_t correct(const float* weights, const std::uint8_t* images, const std::uint8_t* labels, std::size_t first,
                      std::size_t last) {
    double total = 0;
    for (std::size_t at = first; at < last; at += eval_chunk) {
      const std::size_t rows = std::min(eval_chunk, last - at);
      load(images, labels, nullptr, at, rows);
      forward(weights, rows);
      total += exec_.sum(rows, kernels::correct_term{activations_.back().data(), labels_.data(), width(widths_.size() - 1)});
    }
    return static_cast<std::size_t>(std::llround(total));
  }

 private:
  [[nodiscard]] std::size_t width(std::size_t l) const { return static_cast<std::size_t>(widths_[l]); }

  std::vector<tensor> views(float* base) const {
    std::vector<tensor> out;
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
      out.push_back({base + offsets_[l], {widths_[l + 1], widths_[l]}});
      out.push_back({base + offsets_[l] + width(l + 1) * width(l), {widths_[l + 1]}});
    }
    return out;
  }

  void load(const std::uint8_t* images, const std::uint8_t* labels, const std::uint32_t* index, std::size_t first,
            std::size_t rows) {
    const std::size_t pixels = width(0);
    exec_.for_each(rows * pixels, kernels::gather{activations_[0].data(), labels_.data(), images, labels, index, first,
                                                  pixels});
  }

  void forward(const float* w, std::size_t rows) {
    for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
      const std::size_t in = width(l), out = width(l + 1);
      blas_.gemm(false, true, rows, out, in, activations_[l].data(), in, w + offsets_[l], in,
                 activations_[l + 1].data(), out);
      exec_.for_each(rows * out, kernels::bias_activation{activations_[l + 1].data(), w + offsets_[l] + out * in, out,
                                                          l + 2 < widths_.size()});
    }
  }

  std::vector<int> widths_;
  std::size_t batch_;
  Exec exec_;
  Blas blas_;
  std::vector<std::size_t> offsets_;
  std::size_t numel_ = 0;
  typename Exec::template buffer<float> params_, grads_, momentum_, delta_, eval_params_, loss_;
  std::vector<typename Exec::template buffer<float>> activations_, errors_;
  typename Exec::template buffer<std::uint8_t> labels_;
  typename Exec::template buffer<std::uint32_t> index_;
  std::vector<tensor> weights_, updates_;
};

}  // namespace train
