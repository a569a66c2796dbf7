#pragma once
/// @file
/// @brief A²CiD²'s kernels (mixing/acid.hpp): the closed-form mixing of (x, x̃) and the fused exchange.
///
/// Each piece of math is written once, as a trivially copyable functor with a `DECENT_HD` call operator taking
/// an element (or row) index; `exec::host` runs it in a loop, `exec::cuda` in a kernel.
/// Arithmetic: the tensors' type T, f32 models in f32 as the reference's torch tensors (since 2026-12-03; before,
/// in double and rounded once, which held the exchange to 0.6× of the triad bandwidth with a conversion per value
/// in the portable build). The coefficients (e, α̃, the step) are fields of type T, rounded by the caller: a
/// conversion inside the loop kept GCC from vectorising it.

#include <cmath>
#include <cstddef>

#include <decent/core/config.hpp>

namespace decent::detail {

/// A²CiD²'s closed-form mixing of a pair (x, x̃) over a time Δ (docs/algorithms.md §1.4), with e = exp(−2ηΔ):
/// x ← s + e·h, x̃ ← s − e·h where s = (x + x̃)/2 and h = (x − x̃)/2 (x + x̃ is invariant). e = 1 leaves the
/// pair untouched (no rounding).
template <class T>
DECENT_HD inline void acid_mix_pair(T& x, T& x_tilde, T decay) {
  if (decay == T(1)) return;
  const T s = T(0.5) * (x + x_tilde), h = T(0.5) * (x - x_tilde);
  x = s + decay * h;
  x_tilde = s - decay * h;
}

/// Mixes (x, x̃) in place with decay e (acid_mix_pair).
template <class T>
struct acid_mix_kernel {
  T* x;
  T* x_tilde;
  T decay;  ///< e
  DECENT_HD void operator()(std::size_t i) const {
    T a = x[i], b = x_tilde[i];
    acid_mix_pair(a, b, decay);
    x[i] = a;
    x_tilde[i] = b;
  }
};

/// out[i] = x mixed with decay e (acid_mix_pair), without changing x or x̃ (x̃ null: out = x).
template <class T>
struct acid_mixed_kernel {
  T* out;
  const T* x;
  const T* x_tilde;
  T decay;
  DECENT_HD void operator()(std::size_t i) const {
    T a = x[i];
    if (x_tilde) {
      T b = x_tilde[i];
      acid_mix_pair(a, b, decay);
    }
    out[i] = a;
  }
};

/// The weight of the peer in an exchange: x moves by ½(x_j − x) (mixing::acid::pair_weight).
inline constexpr double acid_pair_weight = 0.5;

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
  T decay;          ///< e of the mixing up to the event
  T alpha_tilde;
  const T* sent = nullptr;  ///< what this worker sent, when it is not x_i itself
  T step = static_cast<T>(acid_pair_weight);  ///< share of d added to x_i
  DECENT_HD void operator()(std::size_t i) const {
    T a = x[i], b = x_tilde ? x_tilde[i] : T(0);
    if (x_tilde) acid_mix_pair(a, b, decay);
    const T d = peer[i] - (sent ? sent[i] : a);
    if (x_tilde) x_tilde[i] = b + alpha_tilde * d;
    x[i] = a + step * d;
  }
};

}  // namespace decent::detail
