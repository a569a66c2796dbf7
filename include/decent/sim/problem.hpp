#pragma once
/// @file
/// @brief The test problems of the simulator: what each worker starts from and the gradients it sees.
///
/// A problem is shared, read-only, by all simulated workers of a process (its data is generated once,
/// deterministically from the seed, so every rank of a distributed run would build the same one).
/// Everything here works on host memory.

#include <cstdint>
#include <optional>
#include <string>

#include <decent/core/tensor.hpp>

namespace decent::sim {

/// A distributed objective f(x) = (1/n) Σ_i f_i(x) with worker i's local f_i, or a pure consensus task.
template <class T>
class problem {
 public:
  virtual ~problem() = default;
  /// Name as given to decent-sim's --problem.
  [[nodiscard]] virtual std::string name() const = 0;
  /// Number of workers the problem was built for.
  [[nodiscard]] virtual int workers() const = 0;
  /// The tensors every worker holds.
  [[nodiscard]] virtual const parameter_layout& layout() const = 0;
  /// Writes worker `rank`'s starting point (layout().numel() values, packed).
  virtual void initial_point(int rank, T* x) const = 0;
  /// False for consensus (no gradients: the run only mixes).
  [[nodiscard]] virtual bool has_gradient() const = 0;
  /// Writes ∇f_rank(x) (plus the problem's noise for this `step`) into g; x and g are packed.
  virtual void gradient(int rank, const T* x, T* g, std::uint64_t step) const = 0;
  /// The reported loss at the workers' mean x̄: f(x̄) − f* when f* is known, f(x̄) otherwise, and nothing
  /// for consensus. `mean` holds layout().numel() values in double.
  [[nodiscard]] virtual std::optional<double> loss(const double* mean) const = 0;
};

}  // namespace decent::sim
