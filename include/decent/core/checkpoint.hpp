#pragma once
/// @file
/// @brief Byte archives of an algorithm's state, for checkpoints (`save()` / `load()` of every algorithm).
///
/// A checkpoint is a byte string the user stores wherever the model goes. It starts with a magic word, a format
/// version and the fingerprints of the topology, the algorithm with its options and the parameter layout, so that
/// loading into a differently built algorithm is a clear error. Values are stored in the machine's byte order
/// (checkpoints move between identical builds, as the processes of one job do). Buffers in executor memory go
/// through the executor's `download`/`upload`; each is stored with its length, checked on load. The last 8 bytes
/// are a checksum of all the others (FNV-1a, 64 bits: any change of a single byte changes it), verified before
/// anything is read, so a corrupt or truncated checkpoint is refused and leaves the state as it was.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <decent/core/error.hpp>

namespace decent {

/// The checksum that ends every checkpoint: 64-bit FNV-1a of `bytes`. Each step of FNV-1a is a bijection of its
/// state for a given byte, so changing any one byte (any single bit) of a checkpoint always changes it.
inline std::uint64_t checkpoint_checksum(std::span<const std::byte> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const std::byte b : bytes) h = (h ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ull;
  return h;
}

/// Appends values and buffers to a byte string.
class checkpoint_writer {
 public:
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void value(const T& v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }

  /// n elements at `data` in `ex`'s memory.
  template <class Exec, class T>
  void buffer(const Exec& ex, const T* data, std::size_t n) {
    value(static_cast<std::uint64_t>(n));
    const std::size_t at = bytes_.size();
    bytes_.resize(at + n * sizeof(T));
    if (n == 0) return;
    std::vector<T> staging(n);
    ex.download(staging.data(), data, n);
    std::memcpy(bytes_.data() + at, staging.data(), n * sizeof(T));
  }

  /// The checkpoint: everything written, then its checksum.
  [[nodiscard]] std::vector<std::byte> take() {
    const std::uint64_t sum = checkpoint_checksum(bytes_);
    value(sum);
    return std::move(bytes_);
  }

 private:
  std::vector<std::byte> bytes_;
};

/// Reads back what a `checkpoint_writer` wrote, in the same order; every mismatch is an `invalid_argument`.
class checkpoint_reader {
 public:
  /// Verifies the checksum (and that the bytes start like a checkpoint) before anything is read.
  explicit checkpoint_reader(std::span<const std::byte> bytes) : bytes_(bytes) {
    expects(bytes.size() >= 2 * sizeof(std::uint64_t) && starts_with_magic(bytes), "these bytes are not a decent "
            "checkpoint");
    std::uint64_t stored;
    std::memcpy(&stored, bytes.data() + bytes.size() - sizeof stored, sizeof stored);
    bytes_ = bytes.first(bytes.size() - sizeof stored);
    expects(stored == checkpoint_checksum(bytes_), "the checkpoint is corrupt or truncated: its checksum does not "
            "match its ", bytes.size(), " bytes (changed or cut after it was saved)");
  }

  template <class T>
    requires std::is_trivially_copyable_v<T>
  T value() {
    need(sizeof(T), "a value");
    T v;
    std::memcpy(&v, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }

  /// Reads a value and checks it equals `expected` (`what` names it in the error).
  template <class T>
  void expect(const T& expected, std::string_view what) {
    const T found = value<T>();
    expects(found == expected, "the checkpoint was saved with another ", what, ": every worker must load its own ",
            "checkpoint into an algorithm built the same way");
  }

  /// The length of the buffer stored next (without reading it), for buffers whose size is part of the state.
  [[nodiscard]] std::size_t next_buffer_length() const {
    need(sizeof(std::uint64_t), "a buffer length");
    std::uint64_t n;
    std::memcpy(&n, bytes_.data() + at_, sizeof n);
    return static_cast<std::size_t>(n);
  }

  /// n elements into `data` in `ex`'s memory.
  template <class Exec, class T>
  void buffer(const Exec& ex, T* data, std::size_t n) {
    const auto stored = value<std::uint64_t>();
    expects(stored == n, "the checkpoint holds a buffer of ", stored, " elements where ", n,
            " are expected: it was saved from another configuration");
    need(n * sizeof(T), "a buffer");
    if (n == 0) return;
    std::vector<T> staging(n);
    std::memcpy(staging.data(), bytes_.data() + at_, n * sizeof(T));
    ex.upload(data, staging.data(), n);
    ex.synchronize();
    at_ += n * sizeof(T);
  }

  /// Checks that everything was read.
  void finish() const {
    expects(at_ == bytes_.size(), "the checkpoint has ", bytes_.size() - at_,
            " bytes more than this algorithm reads: it was saved from another configuration");
  }

 private:
  void need(std::size_t n, const char* what) const {
    expects(at_ + n <= bytes_.size(), "the checkpoint ends early (", bytes_.size(), " bytes) while reading ", what,
            ": truncated, or saved from another configuration");
  }

  static bool starts_with_magic(std::span<const std::byte> bytes);

  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
};

/// A part of an algorithm (a rule, a compressor) says how it is checkpointed: it has state and implements both
/// `save(writer, ex) const` and `load(reader, ex)`, or it declares `static constexpr bool stateless = true;`
/// (identity, sign, top-k, averaging). Nothing optional is skipped silently: a part that does neither — or
/// misspells one of the two — is not checkpointable, and the rule and compressor concepts say so.
template <class Part, class Exec>
concept checkpointable =
    requires(const Part& part, Part& mutable_part, checkpoint_writer& w, checkpoint_reader& r, const Exec& ex) {
      part.save(w, ex);
      mutable_part.load(r, ex);
    } || requires {
      requires Part::stateless;
    };

/// Saves a part of an algorithm: its `save`, or nothing for a stateless part.
template <class Part, class Exec>
  requires checkpointable<Part, Exec>
void save_part(const Part& part, checkpoint_writer& w, const Exec& ex) {
  if constexpr (requires { part.save(w, ex); }) part.save(w, ex);
}
/// Loads what `save_part` saved.
template <class Part, class Exec>
  requires checkpointable<Part, Exec>
void load_part(Part& part, checkpoint_reader& r, const Exec& ex) {
  if constexpr (requires { part.load(r, ex); }) part.load(r, ex);
}

/// The start of every checkpoint: magic word, version, and the fingerprints of what must match.
struct checkpoint_header {
  static constexpr std::uint64_t magic = 0x74706b6374636564ull;  // the bytes "dectckpt" on little-endian machines
  static constexpr std::uint32_t version = 2;  ///< 2: with the trailing checksum

  static void write(checkpoint_writer& w, std::span<const std::uint64_t> fingerprints) {
    w.value(magic);
    w.value(version);
    for (const std::uint64_t f : fingerprints) w.value(f);
  }
  /// @param names what each fingerprint stands for ("topology", ...)
  static void read(checkpoint_reader& r, std::span<const std::uint64_t> fingerprints,
                   std::span<const char* const> names) {
    expects(r.value<std::uint64_t>() == magic, "these bytes are not a decent checkpoint");
    const auto v = r.value<std::uint32_t>();
    expects(v == version, "checkpoint format version ", v, " is not supported (this build reads version ", version, ")");
    for (std::size_t k = 0; k < fingerprints.size(); ++k) r.expect(fingerprints[k], names[k]);
  }
};

inline bool checkpoint_reader::starts_with_magic(std::span<const std::byte> bytes) {
  std::uint64_t m;
  std::memcpy(&m, bytes.data(), sizeof m);
  return m == checkpoint_header::magic;
}

}  // namespace decent
