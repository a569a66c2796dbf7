// Bandwidth of the host executor's kernels as a ratio to plain copies and a STREAM triad measured in the same run
// (docs/architecture.md target: >= 80% of triad): the gossip mixing kernel, RelaySum's message and update kernels
// by tree degree and stride, PowerGossip's projection and update on 1000x1000 and 4000x4000 matrices, A2CiD2's
// fused exchange, the sign compressor's encoding and decoding, top-k's encoding, and the finiteness check.
// Results on this machine: bench/results/kernels.txt.
//
// Two baselines per kernel in the summary: the triad on 3 buffers of N elements (bm_triad), and a triad of the
// same footprint as the kernel (3 buffers spanning together the bytes the kernel's buffers span, timed in the
// summary, best of at least 20 runs and 0.2 s). The second is the fair one where the kernel's buffers and the
// triad's fall on different sides of a cache size: a degree-3 relay over 7 buffers of 4 MB runs from memory on
// a 16 MiB L3 while a triad over 3 such buffers runs from the cache.
//
// Bytes counted per element: copy 2 (read + write), triad 3, mixing with k neighbours k + 2 (read x and the
// k received vectors, write x); the others say theirs above their benchmark. Usage:
// mixing_bench [--elements N] [google-benchmark flags] (N: elements per buffer; 2^24 by default, out of cache).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <decent/core/finite.hpp>
#include <decent/exec/kernels.hpp>
#include <decent/exec/operations.hpp>
#include <decent/exec/host.hpp>
#include <decent/compress/low_rank_kernels.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/mixing/acid_kernels.hpp>
#include <decent/mixing/decoded.hpp>
#include <decent/mixing/relaysum_kernels.hpp>

#include "triad.hpp"

namespace {

std::size_t elements = std::size_t{1} << 24;  // 64 MiB per f32 buffer: far beyond the caches

/// Records the bytes a kernel's buffers span (each buffer once), for the summary's triad of the same footprint.
void set_footprint(benchmark::State& state, std::size_t bytes) {
  state.counters["footprint"] = benchmark::Counter(static_cast<double>(bytes));
}

using decent::bench::triad_kernel;

/// `count` buffers of `n` values (default `elements`).
template <class T>
std::vector<decent::exec::host_buffer<T>> make_buffers(std::size_t count, std::size_t n = elements) {
  const decent::exec::host ex;
  std::vector<decent::exec::host_buffer<T>> out;
  for (std::size_t k = 0; k < count; ++k) {
    out.push_back(ex.allocate<T>(n));
    decent::exec::fill(ex, out.back().data(), T(1) / T(k + 3), n);  // first touch by the same threads that run kernels
  }
  return out;
}

template <class T>
void bm_memcpy(benchmark::State& state) {
  auto buf = make_buffers<T>(2);
  for (auto _ : state) {
    std::memcpy(buf[0].data(), buf[1].data(), elements * sizeof(T));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * elements * sizeof(T)));
}

template <class T>
void bm_copy(benchmark::State& state) {
  const decent::exec::host ex;
  auto buf = make_buffers<T>(2);
  for (auto _ : state) {
    ex.copy(buf[0].data(), buf[1].data(), elements);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * elements * sizeof(T)));
}

template <class T>
void bm_triad(benchmark::State& state) {
  const decent::exec::host ex;
  auto buf = make_buffers<T>(3);
  for (auto _ : state) {
    ex.for_each(elements, triad_kernel<T>{buf[0].data(), buf[1].data(), buf[2].data(), T(0.5)});
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(3 * elements * sizeof(T)));
}

/// The gossip update x ← self·x + Σ_j w_j r_j with `state.range(0)` neighbours (as gossip::mix runs it).
template <class T>
void bm_mix(benchmark::State& state) {
  const decent::exec::host ex;
  const auto k = static_cast<int>(state.range(0));
  auto buf = make_buffers<T>(static_cast<std::size_t>(k) + 1);
  std::vector<const T*> inputs;
  std::vector<double> coef;
  for (int j = 0; j < k; ++j) {
    inputs.push_back(buf[static_cast<std::size_t>(j) + 1].data());
    coef.push_back(1.0 / (k + 1));
  }
  for (auto _ : state) {
    decent::detail::weighted_sum(ex, elements, buf[0].data(), 1.0 / (k + 1), inputs.data(), coef.data(), k);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(static_cast<std::size_t>(k + 2) * elements * sizeof(T)));
  set_footprint(state, static_cast<std::size_t>(k + 1) * elements * sizeof(T));
}

/// RelaySum's kernels on one slice of `elements` coordinates (mixing/relaysum_kernels.hpp), model variant, with
/// range(0) tree neighbours and the coordinates at stride range(1) in x (1: one tree; 2: a double binary tree,
/// one of its two slices). Bytes counted: messages read x and the relays, write the messages ((1 + 2·deg)
/// values per coordinate, 2 for a leaf, which reads no relay); the update (bm_relay_update, n = 16) reads x, x⁰
/// and the relays and writes x ((3 + deg) values) while C = 5 workers are heard (range(2) = 0: the general finish
/// filling with x⁰), or x and the relays ((2 + deg) values) once all are (range(2) = 1: the finish mixing::relaysum
/// then launches, branch-free for compile-time shapes). The x buffer spans stride·elements values; only the slice's
/// coordinates are counted.
template <class T>
struct relay_buffers {
  explicit relay_buffers(int degree, std::size_t stride) {
    const decent::exec::host ex;
    x = ex.allocate<T>(elements * stride);
    decent::exec::fill(ex, x.data(), T(0.25), elements * stride);
    reference = make_buffers<T>(1);
    for (int k = 0; k < degree; ++k) {
      relays.push_back(ex.allocate<T>(elements + 1));
      messages.push_back(ex.allocate<T>(elements + 1));
      decent::exec::fill(ex, relays.back().data(), T(0.5) / T(k + 1), elements + 1);
      decent::exec::fill(ex, messages.back().data(), T(0), elements + 1);
      relay_table.push_back(relays.back().data());
      message_table.push_back(messages.back().data());
    }
    relay_device = ex.allocate<const T*>(static_cast<std::size_t>(degree));
    message_device = ex.allocate<T*>(static_cast<std::size_t>(degree));
    std::copy(relay_table.begin(), relay_table.end(), relay_device.data());
    std::copy(message_table.begin(), message_table.end(), message_device.data());
  }
  /// The kernels' pointers, as mixing::relaysum passes them.
  template <int Degree>
  decent::detail::relay_pointers<T, Degree> pointers() const {
    return decent::detail::relay_pointers_for<T, Degree>(relay_table.data(), message_table.data(),
                                                         relay_device.data(), message_device.data());
  }
  decent::exec::host_buffer<T> x;
  std::vector<decent::exec::host_buffer<T>> reference, relays, messages;
  std::vector<const T*> relay_table;
  std::vector<T*> message_table;
  decent::exec::host_buffer<const T*> relay_device;
  decent::exec::host_buffer<T*> message_device;
};

template <class T>
void bm_relay_messages(benchmark::State& state) {
  const decent::exec::host ex;
  const auto degree = static_cast<int>(state.range(0));
  const auto stride = static_cast<std::size_t>(state.range(1));
  const relay_buffers<T> b(degree, stride);
  for (auto _ : state) {
    decent::detail::with_relay_shape(degree, stride, [&]<int Degree, int Stride>() {
      constexpr std::size_t block = decent::detail::relay_block;  // the host's (runtime degrees)
      ex.for_each(decent::detail::relay_items<Degree>(elements, block),
                  decent::detail::relay_messages_kernel<T, Degree, Stride>{
                      b.x.data(), stride, nullptr, b.template pointers<Degree>(), degree, elements, block});
    });
    benchmark::ClobberMemory();
  }
  // x, the relays (a leaf relays nothing back: with one neighbour no relay is read) and the messages.
  const std::size_t values = 1 + static_cast<std::size_t>(degree > 1 ? degree : 0) + static_cast<std::size_t>(degree);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(values * elements * sizeof(T)));
  set_footprint(state, (values + stride - 1) * elements * sizeof(T));  // x spans stride·elements values
}

template <class T>
void bm_relay_update(benchmark::State& state) {
  const decent::exec::host ex;
  const auto degree = static_cast<int>(state.range(0));
  const auto stride = static_cast<std::size_t>(state.range(1));
  const bool heard_all = state.range(2) == 1;
  relay_buffers<T> b(degree, stride);
  const double reached = heard_all ? 16 : 5;
  for (auto _ : state) {
    decent::detail::with_relay_shape(degree, stride, [&]<int Degree, int Stride>() {
      constexpr std::size_t block = decent::detail::relay_block;
      auto launch = [&]<decent::detail::relay_finish Finish>() {
        ex.for_each(decent::detail::relay_items<Degree>(elements, block),
                    decent::detail::relay_update_kernel<T, Degree, Stride, Finish>{
                        b.x.data(), stride, nullptr, b.reference[0].data(), b.template pointers<Degree>(), degree,
                        &reached, 16.0, false, nullptr, elements, block});
      };
      if constexpr (Degree > 0 && Stride > 0) {
        if (heard_all) return launch.template operator()<decent::detail::relay_finish::heard_all>();
      }
      launch.template operator()<decent::detail::relay_finish::general>();
    });
    benchmark::ClobberMemory();
  }
  const std::size_t values = static_cast<std::size_t>((heard_all ? 2 : 3) + degree);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(values * elements * sizeof(T)));
  // x (stride·elements values), x⁰ when it is read, the relays.
  set_footprint(state, (stride + (heard_all ? 0 : 1) + static_cast<std::size_t>(degree)) * elements * sizeof(T));
}

/// PowerGossip's kernels on a square matrix of side range(2) (1000: 4 MB, the size; 4000: 64 MB, out
/// of cache; `elements` does not apply), rank range(1), two edges: the products X·Q̂ (range(0) = 1, by rows) or
/// Xᵀ·P̂ (range(0) = 0, by columns) for both edges in one pass, and decoding: each edge's message difference
/// (`message_difference_kernel`: reads both messages, writes the difference and the next basis), at rank 2 or
/// more the planar copies (`planar_copy_kernel`), and the gossip rule's update from the factored differences.
/// Bytes counted: the projection reads X once and writes the products; decoding reads and writes X and moves the
/// values of the bases, messages and copies (`bm_low_rank_update`).
template <class T>
struct low_rank_buffers {
  low_rank_buffers(std::size_t r, std::size_t n) : rank(r), side(n) {
    const decent::exec::host ex;
    x = ex.allocate<T>(side * side);
    decent::exec::fill(ex, x.data(), T(0.5), x.size());
    for (int j = 0; j < 2; ++j) {
      for (auto* list : {&basis, &own, &peer, &next, &planar}) {
        list->push_back(ex.allocate<T>(side * r));
        decent::exec::fill(ex, list->back().data(), T(0.01) * T(j + 1), side * r);
      }
      basis_table.push_back(basis.back().data());
      own_table.push_back(own.back().data());
      peer_table.push_back(peer.back().data());
    }
  }
  std::size_t rank, side;
  decent::exec::host_buffer<T> x;
  std::vector<decent::exec::host_buffer<T>> basis, own, peer, next, planar;
  std::vector<const T*> basis_table, peer_table;
  std::vector<T*> own_table;
};

template <class T>
void bm_low_rank_project(benchmark::State& state) {
  const decent::exec::host ex;
  const bool by_rows = state.range(0) == 1;
  low_rank_buffers<T> b(static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)));
  const std::size_t n = b.side;
  // As compress::low_rank runs it on the host: rows (or blocks of columns), the rank a compile-time constant.
  for (auto _ : state) {
    decent::detail::with_rank(b.rank, [&]<int Rank>() {
      decent::detail::low_rank_project_kernel<T, decent::detail::host_product_block, Rank> project{
          b.x.data(), n, n, b.rank, by_rows, b.basis_table.data(), b.own_table.data(), 2};
      project.width = decent::detail::host_product_width(n, ex.threads());
      project.rows = decent::detail::host_product_rows<T, Rank>();
      ex.for_each(project.items(), project);
    });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>((n * n + 2 * 2 * n * b.rank) * sizeof(T)));
  set_footprint(state, (n * n + 2 * 2 * n * b.rank) * sizeof(T));
}

template <class T>
void bm_low_rank_update(benchmark::State& state) {
  const decent::exec::host ex;
  const bool by_rows = state.range(0) == 1;
  low_rank_buffers<T> b(static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)));
  const std::size_t n = b.side;
  const double coef[] = {0.3, 0.3};
  const std::vector<const T*> planar{b.planar[0].data(), b.planar[1].data()};
  // As compress::low_rank's decode and mixing::decoded_update run them on the host: the message differences, at
  // rank 2 or more the planar copies of what the rows read along k, then a row per item, the rank a compile-time
  // constant.
  for (auto _ : state) {
    for (std::size_t j = 0; j < 2; ++j)
      ex.for_each(n * b.rank, decent::detail::message_difference_kernel<T>{b.peer[j].data(), b.own[j].data(),
                                                                           b.next[j].data(), j == 0 ? 1.0 : -1.0});
    decent::detail::with_rank(b.rank, [&]<int Rank>() {
      using terms = decent::detail::low_rank_terms<T, Rank>;
      terms t{n, b.rank, by_rows, b.basis_table.data(), b.peer_table.data()};
      if constexpr (Rank >= 2) {
        for (std::size_t j = 0; j < 2; ++j) {
          const T* along = by_rows ? b.basis[j].data() : b.peer[j].data();
          ex.for_each(n * b.rank, decent::detail::planar_copy_kernel<T>{along, b.planar[j].data(), n, b.rank});
        }
        t.planar = planar.data();
      }
      if constexpr (Rank > 0)
        ex.for_each(n, decent::detail::add_differences_rows_kernel<T, terms>{b.x.data(), t, coef, 2, n});
      else
        ex.for_each(n * n, decent::detail::add_differences_kernel<T, terms>{b.x.data(), t, coef, 2});
    });
    benchmark::ClobberMemory();
  }
  // Per edge and message value: the difference pass moves 4, the update reads 2, a planar copy moves 2 more.
  const std::size_t per_edge = b.rank >= 2 ? 8 : 6;
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>((2 * n * n + 2 * per_edge * n * b.rank) * sizeof(T)));
  set_footprint(state, (n * n + 2 * (b.rank >= 2 ? 5 : 4) * n * b.rank) * sizeof(T));
}

/// A²CiD²'s fused exchange on `elements` coordinates: reads x, x̃ and the peer's x, writes x and x̃ (5 values).
template <class T>
void bm_acid_exchange(benchmark::State& state) {
  const decent::exec::host ex;
  auto buf = make_buffers<T>(3);
  for (auto _ : state) {
    ex.for_each(elements, decent::detail::acid_exchange_kernel<T>{buf[0].data(), buf[1].data(), buf[2].data(), T(0.9), T(0.3)});
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(5 * elements * sizeof(T)));
  set_footprint(state, 3 * elements * sizeof(T));
}

/// The compressors of Choco-SGD on one tensor of `elements` values (compress/sign.hpp, compress/top_k.hpp), as
/// choco runs them on x − x̂: range(0) = 0, sign encoding (‖v‖₁ and the packed signs, block by block: v read once,
/// the words written); 1, sign decoding into a sum (dst read and written, the words read); 2, top-k encoding at
/// 1 % (v read once by the sampled collecting pass, the few candidates selected; the message written). Bytes
/// counted: those transfers; a compressor is at bandwidth when it moves them at the triad's rate.
template <class T>
void bm_compressor(benchmark::State& state) {
  const decent::exec::host ex;
  const int which = static_cast<int>(state.range(0));
  auto buf = make_buffers<T>(2);
  // Values of both signs and distinct magnitudes, as a difference x − x̂ has (a constant buffer would make the
  // selection trivial).
  for (std::size_t i = 0; i < elements; ++i) buf[0].data()[i] = T(static_cast<double>((i * 2654435761u) % 1000003) / 1000003.0 - 0.5);
  const decent::shape shape{static_cast<std::int64_t>(elements)};
  const decent::tensor_view<T> v{buf[0].data(), shape, decent::memory_space::host};
  const decent::tensor_view<T> dst{buf[1].data(), shape, decent::memory_space::host};
  const decent::compress::sign<decent::exec::host, T> sign;
  const decent::compress::top_k<decent::exec::host, T> top_k({0.01});
  const std::size_t bytes = which == 2 ? top_k.message_bytes(shape) : sign.message_bytes(shape);
  std::vector<std::byte> message(bytes);
  if (which == 1) sign.encode(ex, v, message.data());  // the message decoded
  for (auto _ : state) {
    if (which == 0) sign.encode(ex, v, message.data());
    else if (which == 1) sign.decode_add(ex, message.data(), 0.25, dst);
    else top_k.encode(ex, v, message.data());
    benchmark::ClobberMemory();
  }
  const std::size_t values = which == 1 ? 2 : 1;  // dst read and written (sign decode), else v read once
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(values * elements * sizeof(T) + bytes));
  // The tensor and the message (top-k's candidates, a few times k indices, are left out).
  set_footprint(state, elements * sizeof(T) + bytes);
  state.SetLabel(which == 0 ? "sign encode" : which == 1 ? "sign decode" : "top-k encode (1%)");
}

/// The opt-in finiteness check (`check_finite(true)`): one reduction over the model, read once.
template <class T>
void bm_check_finite(benchmark::State& state) {
  const decent::exec::host ex;
  auto buf = make_buffers<T>(1);
  for (auto _ : state) {
    auto found = decent::first_non_finite(ex, buf[0].data(), elements);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(elements * sizeof(T)));
}

/// Console output as usual, plus each run's bandwidth, footprint and label kept for the ratio summary.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  std::vector<std::string> order;
  std::map<std::string, double> bandwidth, footprint;
  std::map<std::string, std::string> label;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      const auto it = r.counters.find("bytes_per_second");
      if (it == r.counters.end() || r.run_type != Run::RT_Iteration) continue;
      const std::string name = r.benchmark_name();
      if (!bandwidth.contains(name)) order.push_back(name);
      bandwidth[name] = it->second.value;
      const auto f = r.counters.find("footprint");
      if (f != r.counters.end()) footprint[name] = f->second.value;
      label[name] = r.report_label;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

/// bm_triad's kernel on 3 buffers spanning `bytes` together, in bytes per second: the best of at least 20 runs and 0.2 s, after 3 unmeasured ones.
double footprint_triad(std::size_t bytes) {
  const decent::exec::host ex;
  const std::size_t n = std::max<std::size_t>(bytes / (3 * sizeof(float)), 1024);
  auto buf = make_buffers<float>(3, n);
  const triad_kernel<float> triad{buf[0].data(), buf[1].data(), buf[2].data(), 0.5f};
  using clock = std::chrono::steady_clock;
  for (int k = 0; k < 3; ++k) ex.for_each(n, triad);
  double best = 1e30, spent = 0;
  for (int runs = 0; runs < 20 || spent < 0.2; ++runs) {
    const auto start = clock::now();
    ex.for_each(n, triad);
    const double s = std::chrono::duration<double>(clock::now() - start).count();
    best = std::min(best, s);
    spent += s;
  }
  benchmark::DoNotOptimize(buf[0].data()[n / 2]);
  return static_cast<double>(3 * n * sizeof(float)) / best;
}

}  // namespace

BENCHMARK(bm_memcpy<float>)->UseRealTime();
BENCHMARK(bm_copy<float>)->UseRealTime();
BENCHMARK(bm_triad<float>)->UseRealTime();
BENCHMARK(bm_mix<float>)->Arg(1)->Arg(2)->Arg(4)->UseRealTime();
BENCHMARK(bm_mix<double>)->Arg(2)->UseRealTime();
BENCHMARK(bm_copy<double>)->UseRealTime();
BENCHMARK(bm_check_finite<float>)->UseRealTime();
BENCHMARK(bm_low_rank_project<float>)->ArgsProduct({{1, 0}, {1, 2}, {1000, 4000}})->UseRealTime();
BENCHMARK(bm_low_rank_update<float>)->ArgsProduct({{1, 0}, {1, 2}, {1000, 4000}})->UseRealTime();
BENCHMARK(bm_acid_exchange<float>)->UseRealTime();
BENCHMARK(bm_compressor<float>)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(bm_relay_messages<float>)->Args({1, 1})->Args({2, 1})->Args({3, 1})->Args({3, 2})->Args({4, 1})->UseRealTime();
BENCHMARK(bm_relay_update<float>)->ArgsProduct({{1, 2, 3, 4}, {1}, {0, 1}})->Args({3, 2, 0})->Args({3, 2, 1})->UseRealTime();

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--elements") == 0 && i + 1 < argc) {
      elements = std::strtoull(argv[++i], nullptr, 10);
      continue;
    }
    rest.push_back(argv[i]);
  }
  int count = static_cast<int>(rest.size());
  benchmark::Initialize(&count, rest.data());
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto bw = [&](const std::string& name) {
    const auto it = reporter.bandwidth.find(name);
    return it == reporter.bandwidth.end() ? 0.0 : it->second;
  };
  const double copy = std::max(bw("bm_memcpy<float>/real_time"), bw("bm_copy<float>/real_time"));
  const double triad = bw("bm_triad<float>/real_time");
  std::printf("\nhost executor (%d OpenMP threads), %zu elements per buffer\n", decent::exec::host().threads(), elements);
  std::printf("best f32 copy %.2f GB/s, triad %.2f GB/s\n", copy / 1e9, triad / 1e9);
  for (const char* name : {"bm_mix<float>/1/real_time", "bm_mix<float>/2/real_time", "bm_mix<float>/4/real_time"}) {
    if (bw(name) == 0 || copy == 0) continue;
    std::printf("%-28s %.2f GB/s = %.3f x copy, %.3f x triad\n", name, bw(name) / 1e9, bw(name) / copy, bw(name) / triad);
  }
  const double copy64 = bw("bm_copy<double>/real_time"), mix64 = bw("bm_mix<double>/2/real_time");
  if (copy64 > 0 && mix64 > 0) std::printf("%-28s %.2f GB/s = %.3f x f64 copy\n", "bm_mix<double>/2/real_time", mix64 / 1e9, mix64 / copy64);
  // check_finite(true) reads the model twice per mix (before and after); a ring mix moves 4 model sizes.
  const double check = bw("bm_check_finite<float>/real_time"), ring = bw("bm_mix<float>/2/real_time");
  if (check > 0 && ring > 0)
    std::printf("%-28s %.2f GB/s; two checks per ring mix cost %.2f x the mix kernel's time\n",
                "bm_check_finite<float>", check / 1e9, (2.0 / check) / (4.0 / ring));
  // Every other kernel against both triads: the one of N elements above and one of its own footprint.
  std::map<std::size_t, double> same_footprint;
  std::printf("%-46s %10s %9s %21s\n", "kernel", "GB/s", "x triad", "x triad, same bytes");
  for (const std::string& name : reporter.order) {
    if (name.starts_with("bm_memcpy") || name.starts_with("bm_copy") || name.starts_with("bm_triad") ||
        name.starts_with("bm_check_finite") || name.starts_with("bm_mix<double>") || !reporter.footprint.contains(name))
      continue;
    const auto bytes = static_cast<std::size_t>(reporter.footprint[name]);
    if (!same_footprint.contains(bytes)) same_footprint[bytes] = footprint_triad(bytes);
    const double own = same_footprint[bytes];
    std::printf("%-46s %10.2f %9.3f %9.3f (%.1f MB: %.1f GB/s) %s\n", name.c_str(), bw(name) / 1e9,
                triad > 0 ? bw(name) / triad : 0.0, bw(name) / own, static_cast<double>(bytes) / 1e6, own / 1e9,
                reporter.label[name].c_str());
  }
  benchmark::Shutdown();
  return 0;
}
