#pragma once
/// @file
/// @brief Exceptions with context, and the checks that raise them.
///
/// Every error says what went wrong and, where one exists, how to fix it. Checks run at setup, never in
/// hot loops. Device code never throws; destructors never throw.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace decent {

/// Base of every exception thrown by decent.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed an invalid value (rank out of range, malformed spec, mismatched sizes, ...).
class invalid_argument : public error {
 public:
  using error::error;
};

/// A graph does not have a property an operation needs (connected, symmetric, a tree, ...).
class topology_error : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

/// A communication failed: a peer disagreed on a message, stalled past the deadline, or the world aborted.
class comm_error : public error {
 public:
  using error::error;
};

/// A CUDA runtime call failed; the message carries the call site.
class cuda_error : public error {
 public:
  using error::error;
};

namespace detail {
/// Concatenates streamable arguments into one string (g++ 12 has no std::format).
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

/// Throws `Error` with the concatenated message unless `condition` holds.
template <class Error = invalid_argument, class... Args>
void expects(bool condition, Args&&... message) {
  if (!condition) throw Error(detail::concat(std::forward<Args>(message)...));
}

}  // namespace decent
