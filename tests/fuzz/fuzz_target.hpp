#pragma once
// Shared by the fuzz harnesses: the libFuzzer entry point, and what every harness asserts about an input.
//
// A harness feeds one input to a parser. The input may be refused, but only with decent's own exception (a clear
// message); anything else — another exception, a crash, a sanitizer report, a hang past libFuzzer's -timeout —
// is a finding. `reject_only_with_decent_errors` runs a body under that rule.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include <decent/core/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace decent::fuzz {

/// Runs `body`; returns normally when it succeeds or throws decent's `invalid_argument` (a refused input),
/// aborts (a finding for libFuzzer and the replay driver) on any other exception.
template <class Body>
void reject_only_with_decent_errors(Body&& body) {
  try {
    body();
  } catch (const decent::invalid_argument&) {
    // refused with a clear message: fine
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an input was refused with a non-decent exception: %s\n", e.what());
    std::abort();
  }
}

/// Aborts with `what` unless `condition` holds (an invariant of an accepted input).
inline void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz: invariant violated: %s\n", what);
  std::abort();
}

}  // namespace decent::fuzz
