#pragma once
/// @file
/// @brief A 64-bit fingerprint (FNV-1a) of what every worker of a job must agree on: topology, algorithm, its
/// options and the parameter layout. Workers compare fingerprints once at setup (`comm::check_agreement`).
///
/// Option structs take part by declaring `void add_to(fingerprint&, const Options&)` next to their definition
/// (found by argument-dependent lookup); option structs without fields need nothing.

#include <concepts>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace decent {

/// FNV-1a over the values added, in order.
class fingerprint {
 public:
  /// Numbers and enumerations: their bytes (doubles by bit pattern).
  template <class T>
    requires std::is_arithmetic_v<T> || std::is_enum_v<T>
  fingerprint& add(T value) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    return bytes(raw, sizeof(T));
  }
  /// A string: its length, then its characters.
  fingerprint& add(std::string_view text) {
    add(static_cast<std::uint64_t>(text.size()));
    return bytes(reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  fingerprint& add(const char* text) { return add(std::string_view(text)); }
  [[nodiscard]] std::uint64_t value() const { return hash_; }

 private:
  fingerprint& bytes(const unsigned char* data, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) hash_ = (hash_ ^ data[k]) * 0x100000001b3ull;
    return *this;
  }
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

/// Adds an options struct: through its `add_to(fingerprint&, const O&)`, or nothing for an empty struct.
template <class O>
void add_options(fingerprint& f, const O& options) {
  if constexpr (requires { add_to(f, options); }) add_to(f, options);
  else
    static_assert(std::is_empty_v<O>, "declare void add_to(decent::fingerprint&, const Options&) next to this options "
                                      "struct so that workers can check that they agree on it");
}

}  // namespace decent
