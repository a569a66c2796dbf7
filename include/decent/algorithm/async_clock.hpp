#pragma once
/// @file
/// @brief The virtual clock of the asynchronous runtime: event times in gradients per worker, from a monotonic
/// clock divided by the measured time of one gradient (or, with `step_time`, the count of gradient steps).
///
/// The measured time is an exponential moving average ½·new + ½·old of the period between two steps, as in the
/// A²CiD² reference; until the first step, time stands still. The wall clock is called from both of the
/// runtime's threads (it must be thread-safe); the callers serialise the calls to this class.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

namespace decent::detail {

class async_clock {
 public:
  /// @param wall      monotonic seconds; empty: std::chrono::steady_clock
  /// @param step_time time = the worker's count of gradient steps instead of the wall clock
  async_clock(std::function<double()> wall, bool step_time) : wall_(std::move(wall)), step_time_(step_time) {
    if (!wall_)
      wall_ = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  }

  /// Monotonic seconds of the wall clock.
  [[nodiscard]] double wall() const { return wall_(); }

  /// (Re)starts at virtual time `time` (the state's last event).
  void start(double time) {
    anchor_time_ = time;
    last_step_wall_ = wall_anchor_ = wall_();
  }

  /// Virtual time now, never before the state's last event: the wall clock since the anchor in gradient times,
  /// or with step time the number of gradients made.
  double now(std::int64_t gradients, double last_event) {
    if (step_time_) return std::max(static_cast<double>(gradients), last_event);
    const double wall = wall_();
    if (gradient_seconds_ > 0) anchor_time_ += (wall - wall_anchor_) / gradient_seconds_;
    wall_anchor_ = wall;
    return std::max(anchor_time_, last_event);
  }

  /// A gradient step arrived at wall time `arrived`: time advances at the old gradient time up to now, then the
  /// period since the previous step enters the measured gradient time.
  void step_arrived(double arrived, std::int64_t gradients, double last_event) {
    const double elapsed = arrived - last_step_wall_;
    (void)now(gradients, last_event);
    gradient_seconds_ = gradient_seconds_ > 0 ? 0.5 * elapsed + 0.5 * gradient_seconds_ : elapsed;
  }
  /// The step that arrived at `arrived` is done: the next period starts there.
  void step_done(double arrived) { last_step_wall_ = arrived; }

  /// The measured time of one gradient in seconds (0 before the first step); restored from checkpoints.
  [[nodiscard]] double gradient_seconds() const { return gradient_seconds_; }
  void set_gradient_seconds(double seconds) { gradient_seconds_ = seconds; }

 private:
  std::function<double()> wall_;
  bool step_time_;
  double anchor_time_ = 0, wall_anchor_ = 0, last_step_wall_ = 0, gradient_seconds_ = 0;
};

}  // namespace decent::detail
