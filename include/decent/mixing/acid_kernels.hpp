#pragma once
/// @file
/// @brief A²CiD²'s kernels (mixing/acid.hpp): the closed-form mixing of (x, x̃) and the fused exchange.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.

#include <cmath>
#include <cstddef>

#include <decent/core/config.hpp>

namespace decent::detail {

/// A²CiD²'s closed-form mixing of a pair (x, x̃) over a time Δ (docs/algorithms.md §1.4), with e = exp(−2ηΔ):
/// x ← s + e·h, x̃ ← s − e·h where s = (x + x̃)/2 and h = (x − x̃)/2 (x + x̃ is invariant). e = 1 leaves the
/// pair untouched (no rounding).
DECENT_HD inline void acid_mix_pair(double& x, double& x_tilde, double decay) {
  if (decay == 1.0) return;
  const double s = 0.5 * (x + x_tilde), h = 0.5 * (x - x_tilde);
  x = s + decay * h;
  x_tilde = s - decay * h;
}

/// Mixes (x, x̃) in place with decay e (acid_mix_pair).
template <class T>
struct acid_mix_kernel {
  T* x;
  T* x_tilde;
  double decay;  ///< e
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]), b = static_cast<double>(x_tilde[i]);
    acid_mix_pair(a, b, decay);
    x[i] = static_cast<T>(a);
    x_tilde[i] = static_cast<T>(b);
  }
};

/// out[i] = x mixed with decay e (acid_mix_pair), without changing x or x̃ (x̃ null: out = x).
template <class T>
struct acid_mixed_kernel {
  T* out;
  const T* x;
  const T* x_tilde;
  double decay;
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]);
    if (x_tilde) {
      double b = static_cast<double>(x_tilde[i]);
      acid_mix_pair(a, b, decay);
    }
    out[i] = static_cast<T>(a);
  }
};

/// A pairwise communication event on worker i in one pass (docs/algorithms.md §1.5): mix (x_i, x̃_i) with e first
/// (e = 1: already mixed), then with d = x_j − x_i: x̃_i += α̃·d and x_i += d/2. Without x̃ (null: the
/// asynchronous gossip baseline) only x_i += d/2. With `sent` (the snapshot of x_i that travelled to j while
/// x_i kept changing — the threaded runtime), d = x_j − sent, so both endpoints apply opposite updates.
/// `step` (½ for an exchange) is the share of d added to x; a compressed exchange that moved a snapshot from
/// `sent` to `peer` applies its change with step 1 and 2α̃.
template <class T>
struct acid_exchange_kernel {
  T* x;
  T* x_tilde;       ///< null for async gossip
  const T* peer;    ///< x_j as received
  double decay;     ///< e of the mixing up to the event
  double alpha_tilde;
  const T* sent = nullptr;  ///< what this worker sent, when it is not x_i itself
  double step = 0.5;        ///< share of d added to x_i
  DECENT_HD void operator()(std::size_t i) const {
    double a = static_cast<double>(x[i]), b = x_tilde ? static_cast<double>(x_tilde[i]) : 0.0;
    if (x_tilde) acid_mix_pair(a, b, decay);
    const double d = static_cast<double>(peer[i]) - (sent ? static_cast<double>(sent[i]) : a);
    if (x_tilde) x_tilde[i] = static_cast<T>(b + alpha_tilde * d);
    x[i] = static_cast<T>(a + step * d);
  }
};

}  // namespace decent::detail
