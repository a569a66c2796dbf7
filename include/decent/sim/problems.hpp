#pragma once
/// @file
/// @brief The simulator's problems: `consensus`, `quadratic` (docs/algorithms.md §2.5) and `logistic`.
///
/// Random draws come from decent::random_stream keyed by (seed, purpose, worker), so a problem is a pure
/// function of its options.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <decent/core/error.hpp>
#include <decent/core/rng.hpp>
#include <decent/core/tensor.hpp>
#include <decent/detail/linalg.hpp>
#include <decent/sim/problem.hpp>

namespace decent::sim {

namespace detail {
/// Purposes that key the random streams of the problems (stream_a); stream_b is the worker.
enum stream_purpose : std::uint32_t {
  initial_point = 1,
  left_rotation = 2,
  right_rotation = 3,
  optimum_offset = 4,
  optimum = 5,
  gradient_noise = 6,
  class_means = 7,
  sample_labels = 8,
  sample_features = 9,
};

inline random_stream stream(std::uint64_t seed, stream_purpose purpose, int worker) {
  return random_stream{seed, purpose | problem_stream_bit, static_cast<std::uint32_t>(worker)};
}

/// A d×d matrix with orthonormal columns: Gram–Schmidt of a Gaussian matrix drawn from `s`.
inline decent::detail::dense_matrix random_orthogonal(int d, const random_stream& s) {
  decent::detail::dense_matrix m(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) m(i, j) = s.normal(static_cast<std::uint64_t>(i * d + j));
  decent::detail::orthonormalize_columns(m);
  return m;
}

inline double squared_norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return s;
}
}  // namespace detail

/// Pure consensus: worker i starts from i.i.d. N(0,1) entries; no gradients, no loss.
template <class T>
class consensus_problem final : public problem<T> {
 public:
  consensus_problem(int workers, parameter_layout layout, std::uint64_t seed)
      : workers_(workers), layout_(std::move(layout)), seed_(seed) {
    expects(workers >= 1, "consensus needs at least one worker");
    expects(layout_.numel() > 0, "consensus needs at least one parameter");
  }
  [[nodiscard]] std::string name() const override { return "consensus"; }
  [[nodiscard]] int workers() const override { return workers_; }
  [[nodiscard]] const parameter_layout& layout() const override { return layout_; }
  void initial_point(int rank, T* x) const override {
    const random_stream s = detail::stream(seed_, detail::initial_point, rank);
    for (std::size_t k = 0; k < layout_.numel(); ++k) x[k] = static_cast<T>(s.normal(k));
  }
  [[nodiscard]] bool has_gradient() const override { return false; }
  void gradient(int, const T*, T*, std::uint64_t) const override {
    throw invalid_argument("the consensus problem has no gradients");
  }
  [[nodiscard]] std::optional<double> loss(const double*) const override { return std::nullopt; }

 private:
  int workers_;
  parameter_layout layout_;
  std::uint64_t seed_;
};

/// Options of the heterogeneous random quadratics.
struct quadratic_options {
  int dim = 10;               ///< d
  double mu = 0.5;            ///< smallest singular value of every A_i (the largest is 1)
  double r0 = 100;            ///< distance of the optimum from the start x = 0
  double heterogeneity = 1;   ///< ζ² = (1/n) Σ_i ‖∇f_i(x*)‖²
  double noise = 0;           ///< σ: the gradient gets σ/√d · N(0, I)
  std::uint64_t seed = 0;
};

/// f(x) = (1/n) Σ_i ‖A_i x − b_i‖², exactly as docs/algorithms.md §2.5 (RelaySGD's random quadratics).
///
/// A_i = U_i diag(linspace(μ, 1, d)) V_iᵀ with random orthogonal U_i, V_i. Worker optima are moved apart
/// along random directions o_i (b_i = A_i·s·o_i), the global optimum is moved back to 0, and s is chosen so
/// that ζ² equals the requested heterogeneity. ζ² is exactly proportional to s², so the reference's bisection
/// on s is replaced by its closed-form solution s = √(ζ²/ζ²(s=1)). Finally every b_i is shifted by A_i x*
/// with ‖x*‖ = r0, which moves the global optimum to x* and leaves ζ² unchanged. Start: x = 0.
/// Gradient (as in the reference): A_iᵀ(A_i x − b_i) + σ/√d · ξ, ξ ~ N(0, I) keyed by (seed, worker, step).
/// Loss: f(x̄) − f(x*).
/// The largest n·dim³ a `quadratic_problem` builds (its dense rotations): 2^32, e.g. 16 workers of dim 640
/// (16 workers of dim 1000, n·dim³ = 1.6·10¹⁰, took 92 s on one core).
inline constexpr double max_quadratic_cost = 4294967296.0;

template <class T>
class quadratic_problem final : public problem<T> {
 public:
  quadratic_problem(int workers, quadratic_options options) : n_(workers), o_(options) {
    expects(workers >= 1, "quadratic needs at least one worker");
    expects(o_.dim >= 1, "quadratic_options::dim must be >= 1, got ", o_.dim);
    expects(o_.mu > 0 && o_.mu <= 1, "quadratic_options::mu must be in (0, 1], got ", o_.mu);
    expects(o_.r0 >= 0, "quadratic_options::r0 must be >= 0, got ", o_.r0);
    expects(o_.heterogeneity >= 0, "quadratic_options::heterogeneity must be >= 0, got ", o_.heterogeneity);
    expects(o_.noise >= 0, "quadratic_options::noise must be >= 0, got ", o_.noise);
    const double cost = static_cast<double>(n_) * std::pow(static_cast<double>(o_.dim), 3.0);
    expects(cost <= max_quadratic_cost, "the quadratic problem on ", n_, " workers with dim ", o_.dim,
            " needs about ", cost, " operations to build (dense dim x dim matrices, n·dim³); at most ",
            max_quadratic_cost, ": lower the dimension (--dim) or the number of workers");
    const auto d = static_cast<std::size_t>(o_.dim);
    layout_ = parameter_layout{{static_cast<std::int64_t>(d)}};

    // A_i = U diag(s) Vᵀ.
    std::vector<double> singular(d);
    for (std::size_t k = 0; k < d; ++k)
      singular[k] = d == 1 ? o_.mu : o_.mu + (1.0 - o_.mu) * static_cast<double>(k) / static_cast<double>(d - 1);
    const int dim = o_.dim;
    for (int i = 0; i < n_; ++i) {
      const auto u = detail::random_orthogonal(dim, detail::stream(o_.seed, detail::left_rotation, i));
      const auto v = detail::random_orthogonal(dim, detail::stream(o_.seed, detail::right_rotation, i));
      decent::detail::dense_matrix a(dim, dim);
      for (int r = 0; r < dim; ++r)
        for (int c = 0; c < dim; ++c) {
          double acc = 0;
          for (int k = 0; k < dim; ++k) acc += u(r, k) * singular[static_cast<std::size_t>(k)] * v(c, k);
          a(r, c) = acc;
        }
      a_.push_back(std::move(a));
    }

    // Unit-scale heterogeneous offsets b¹_i = A_i o_i, then the global optimum moved to 0.
    std::vector<std::vector<double>> b1(static_cast<std::size_t>(n_));
    for (int i = 0; i < n_; ++i) {
      const random_stream s = detail::stream(o_.seed, detail::optimum_offset, i);
      std::vector<double> offset(d);
      for (std::size_t k = 0; k < d; ++k) offset[k] = s.normal(k);
      b1[static_cast<std::size_t>(i)] = apply(i, offset);
    }
    const std::vector<double> x0 = least_squares(b1);
    for (int i = 0; i < n_; ++i) {
      const std::vector<double> ax0 = apply(i, x0);
      for (std::size_t k = 0; k < d; ++k) b1[static_cast<std::size_t>(i)][k] -= ax0[k];
    }
    double zeta2_unit = 0;
    for (int i = 0; i < n_; ++i) zeta2_unit += detail::squared_norm(apply_transposed(i, b1[static_cast<std::size_t>(i)]));
    zeta2_unit /= n_;
    const double scale = (zeta2_unit > 0 && o_.heterogeneity > 0) ? std::sqrt(o_.heterogeneity / zeta2_unit) : 0.0;

    // The optimum at distance r0 from 0.
    const random_stream s = detail::stream(o_.seed, detail::optimum, 0);
    optimum_.resize(d);
    for (std::size_t k = 0; k < d; ++k) optimum_[k] = s.normal(k);
    const double norm = std::sqrt(detail::squared_norm(optimum_));
    for (double& v : optimum_) v *= norm > 0 ? o_.r0 / norm : 0.0;

    for (int i = 0; i < n_; ++i) {
      std::vector<double> b = apply(i, optimum_);
      for (std::size_t k = 0; k < d; ++k) b[k] += scale * b1[static_cast<std::size_t>(i)][k];
      b_.push_back(std::move(b));
    }
    f_star_ = value(optimum_);
  }

  [[nodiscard]] std::string name() const override { return "quadratic"; }
  [[nodiscard]] int workers() const override { return n_; }
  [[nodiscard]] const parameter_layout& layout() const override { return layout_; }
  void initial_point(int, T* x) const override { std::fill(x, x + layout_.numel(), T{0}); }
  [[nodiscard]] bool has_gradient() const override { return true; }
  void gradient(int rank, const T* x, T* g, std::uint64_t step) const override {
    const auto d = static_cast<std::size_t>(o_.dim);
    std::vector<double> residual = apply(rank, std::vector<double>(x, x + d));
    for (std::size_t k = 0; k < d; ++k) residual[k] -= b_[static_cast<std::size_t>(rank)][k];
    const std::vector<double> grad = apply_transposed(rank, residual);
    const random_stream noise = detail::stream(o_.seed, detail::gradient_noise, rank);
    const double sigma = o_.noise / std::sqrt(static_cast<double>(d));
    for (std::size_t k = 0; k < d; ++k)
      g[k] = static_cast<T>(grad[k] + (sigma > 0 ? sigma * noise.normal(step * d + k) : 0.0));
  }
  [[nodiscard]] std::optional<double> loss(const double* mean) const override {
    return value(std::vector<double>(mean, mean + o_.dim)) - f_star_;
  }

  /// f(x) = (1/n) Σ_i ‖A_i x − b_i‖².
  [[nodiscard]] double value(const std::vector<double>& x) const {
    double total = 0;
    for (int i = 0; i < n_; ++i) {
      std::vector<double> r = apply(i, x);
      for (std::size_t k = 0; k < r.size(); ++k) r[k] -= b_[static_cast<std::size_t>(i)][k];
      total += detail::squared_norm(r);
    }
    return total / n_;
  }
  /// ζ² = (1/n) Σ_i ‖A_iᵀ(A_i x* − b_i)‖², measured.
  [[nodiscard]] double zeta2() const {
    double total = 0;
    for (int i = 0; i < n_; ++i) {
      std::vector<double> r = apply(i, optimum_);
      for (std::size_t k = 0; k < r.size(); ++k) r[k] -= b_[static_cast<std::size_t>(i)][k];
      total += detail::squared_norm(apply_transposed(i, r));
    }
    return total / n_;
  }
  [[nodiscard]] const std::vector<double>& optimum() const { return optimum_; }
  [[nodiscard]] double optimal_value() const { return f_star_; }
  [[nodiscard]] const decent::detail::dense_matrix& matrix(int i) const { return a_.at(static_cast<std::size_t>(i)); }
  [[nodiscard]] const std::vector<double>& offset(int i) const { return b_.at(static_cast<std::size_t>(i)); }

 private:
  /// A_i v.
  [[nodiscard]] std::vector<double> apply(int i, const std::vector<double>& v) const {
    return decent::detail::multiply(a_[static_cast<std::size_t>(i)], v);
  }
  /// A_iᵀ v.
  [[nodiscard]] std::vector<double> apply_transposed(int i, const std::vector<double>& v) const {
    const auto& a = a_[static_cast<std::size_t>(i)];
    std::vector<double> out(v.size(), 0.0);
    for (int r = 0; r < a.rows(); ++r)
      for (int c = 0; c < a.cols(); ++c) out[static_cast<std::size_t>(c)] += a(r, c) * v[static_cast<std::size_t>(r)];
    return out;
  }
  /// argmin_x Σ_i ‖A_i x − b_i‖² = (Σ A_iᵀA_i)⁻¹ Σ A_iᵀ b_i.
  [[nodiscard]] std::vector<double> least_squares(const std::vector<std::vector<double>>& b) const {
    const int d = o_.dim;
    decent::detail::dense_matrix normal(d, d);
    std::vector<double> rhs(static_cast<std::size_t>(d), 0.0);
    for (int i = 0; i < n_; ++i) {
      const auto& a = a_[static_cast<std::size_t>(i)];
      for (int r = 0; r < d; ++r)
        for (int c = 0; c < d; ++c)
          for (int k = 0; k < d; ++k) normal(r, c) += a(k, r) * a(k, c);
      const std::vector<double> atb = apply_transposed(i, b[static_cast<std::size_t>(i)]);
      for (std::size_t k = 0; k < atb.size(); ++k) rhs[k] += atb[k];
    }
    return decent::detail::solve(std::move(normal), std::move(rhs));
  }

  int n_;
  quadratic_options o_;
  parameter_layout layout_;
  std::vector<decent::detail::dense_matrix> a_;
  std::vector<std::vector<double>> b_;
  std::vector<double> optimum_;
  double f_star_ = 0;
};

/// Options of the synthetic classification problem.
struct logistic_options {
  int dim = 10;               ///< features D
  int classes = 4;            ///< C
  int samples = 64;           ///< samples per worker
  double heterogeneity = 1;   ///< h ≥ 0: a fraction h/(1+h) of a worker's samples has its dominant class
  double separation = 1.5;    ///< class means are separation · N(0, I)
  double weight_decay = 1e-3; ///< λ of the (λ/2)‖W‖² regulariser
  double noise = 0;           ///< σ: the gradient gets σ/√numel · N(0, I)
  std::uint64_t seed = 0;
};

/// Multinomial logistic regression on Gaussian clusters with labels split unevenly across workers.
///
/// Parameters: W (C×D) and b (C). Worker i's samples have label i mod C with probability h/(1+h) and a
/// uniform label otherwise (h = heterogeneity; h = 0 is i.i.d.); features are the class mean plus N(0, I).
/// f_i = mean cross-entropy over worker i's samples + (λ/2)‖W‖²; the loss reported is f(x̄) (f* unknown).
template <class T>
class logistic_problem final : public problem<T> {
 public:
  logistic_problem(int workers, logistic_options options) : n_(workers), o_(options) {
    expects(workers >= 1, "logistic needs at least one worker");
    expects(o_.dim >= 1 && o_.classes >= 2 && o_.samples >= 1,
            "logistic_options needs dim >= 1, classes >= 2 and samples >= 1");
    expects(o_.heterogeneity >= 0, "logistic_options::heterogeneity must be >= 0, got ", o_.heterogeneity);
    expects(o_.noise >= 0, "logistic_options::noise must be >= 0, got ", o_.noise);
    const auto c = static_cast<std::size_t>(o_.classes), d = static_cast<std::size_t>(o_.dim);
    layout_ = parameter_layout{{o_.classes, o_.dim}, {o_.classes}};
    const random_stream means = detail::stream(o_.seed, detail::class_means, 0);
    std::vector<double> mean(c * d);
    for (std::size_t k = 0; k < mean.size(); ++k) mean[k] = o_.separation * means.normal(k);
    const double dominant = o_.heterogeneity / (1.0 + o_.heterogeneity);
    for (int i = 0; i < n_; ++i) {
      const random_stream labels = detail::stream(o_.seed, detail::sample_labels, i);
      const random_stream features = detail::stream(o_.seed, detail::sample_features, i);
      for (std::size_t s = 0; s < static_cast<std::size_t>(o_.samples); ++s) {
        // Block s of the stream decides sample s: words 0-1 whether it takes the dominant class, word 2 which
        // class otherwise.
        const std::size_t label = labels.uniform(2 * s) < dominant
                                      ? static_cast<std::size_t>(i % o_.classes)
                                      : labels.below(4 * s + 2, static_cast<std::uint32_t>(c));
        labels_.push_back(label);
        for (std::size_t k = 0; k < d; ++k) features_.push_back(mean[label * d + k] + features.normal(s * d + k));
      }
    }
  }

  [[nodiscard]] std::string name() const override { return "logistic"; }
  [[nodiscard]] int workers() const override { return n_; }
  [[nodiscard]] const parameter_layout& layout() const override { return layout_; }
  void initial_point(int, T* x) const override { std::fill(x, x + layout_.numel(), T{0}); }
  [[nodiscard]] bool has_gradient() const override { return true; }
  void gradient(int rank, const T* x, T* g, std::uint64_t step) const override {
    const std::vector<double> w(x, x + layout_.numel());
    std::vector<double> grad(layout_.numel(), 0.0);
    local_loss(rank, w, &grad);
    const random_stream noise = detail::stream(o_.seed, detail::gradient_noise, rank);
    const double sigma = o_.noise / std::sqrt(static_cast<double>(grad.size()));
    for (std::size_t k = 0; k < grad.size(); ++k)
      g[k] = static_cast<T>(grad[k] + (sigma > 0 ? sigma * noise.normal(step * grad.size() + k) : 0.0));
  }
  [[nodiscard]] std::optional<double> loss(const double* mean) const override {
    const std::vector<double> w(mean, mean + layout_.numel());
    double total = 0;
    for (int i = 0; i < n_; ++i) total += local_loss(i, w, nullptr);
    return total / n_;
  }
  /// The label of worker i's sample s (for tests of the split).
  [[nodiscard]] std::size_t label(int i, std::size_t s) const {
    return labels_.at(static_cast<std::size_t>(i) * static_cast<std::size_t>(o_.samples) + s);
  }

 private:
  /// f_i(w), and adds ∇f_i(w) to *grad when grad is not null.
  double local_loss(int i, const std::vector<double>& w, std::vector<double>* grad) const {
    const auto c = static_cast<std::size_t>(o_.classes), d = static_cast<std::size_t>(o_.dim);
    const auto m = static_cast<std::size_t>(o_.samples);
    const double* bias = w.data() + c * d;
    double loss = 0;
    std::vector<double> logits(c);
    for (std::size_t s = 0; s < m; ++s) {
      const std::size_t row = static_cast<std::size_t>(i) * m + s;
      const double* feature = features_.data() + row * d;
      for (std::size_t k = 0; k < c; ++k) {
        logits[k] = bias[k];
        for (std::size_t f = 0; f < d; ++f) logits[k] += w[k * d + f] * feature[f];
      }
      const double top = *std::max_element(logits.begin(), logits.end());
      double z = 0;
      for (double l : logits) z += std::exp(l - top);
      loss += top + std::log(z) - logits[labels_[row]];
      if (!grad) continue;
      for (std::size_t k = 0; k < c; ++k) {
        const double residual = (std::exp(logits[k] - top) / z - (k == labels_[row] ? 1.0 : 0.0)) / static_cast<double>(m);
        for (std::size_t f = 0; f < d; ++f) (*grad)[k * d + f] += residual * feature[f];
        (*grad)[c * d + k] += residual;
      }
    }
    double decay = 0;
    for (std::size_t k = 0; k < c * d; ++k) {
      decay += w[k] * w[k];
      if (grad) (*grad)[k] += o_.weight_decay * w[k];
    }
    return loss / static_cast<double>(m) + 0.5 * o_.weight_decay * decay;
  }

  int n_;
  logistic_options o_;
  parameter_layout layout_;
  std::vector<std::size_t> labels_;
  std::vector<double> features_;
};

}  // namespace decent::sim
