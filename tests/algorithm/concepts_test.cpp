// Every concept checks what it promises: the library's models satisfy it, and a type that misses or misspells
// one of the calls does not (the error is the concept's, at the alias, not a deep instantiation).
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include <decent/algorithm/a2cid2.hpp>
#include <decent/algorithm/allreduce.hpp>
#include <decent/algorithm/choco.hpp>
#include <decent/algorithm/d2.hpp>
#include <decent/algorithm/gossip.hpp>
#include <decent/algorithm/gradient_tracking.hpp>
#include <decent/algorithm/powergossip.hpp>
#include <decent/algorithm/relaysgd.hpp>
#include <decent/algorithm/sgp.hpp>
#include <decent/comm/inprocess.hpp>
#include <decent/compress/compressor.hpp>
#include <decent/compress/identity.hpp>
#include <decent/compress/low_rank.hpp>
#include <decent/compress/sign.hpp>
#include <decent/compress/top_k.hpp>
#include <decent/core/checkpoint.hpp>
#include <decent/exec/executor.hpp>
#include <decent/exec/host.hpp>
#include <decent/mixing/acid.hpp>
#include <decent/mixing/average.hpp>
#include <decent/mixing/choco.hpp>
#include <decent/mixing/gossip.hpp>
#include <decent/mixing/mixing_rule.hpp>
#include <decent/mixing/pairwise_rule.hpp>
#include <decent/mixing/relaysum.hpp>
#include <decent/topology/topology.hpp>

using namespace decent;
using host_ctx = comm::round_context<topology::graph, exec::host>;

namespace broken {

// ---- Executor: the host executor without `synchronize`.
struct executor {
  using executor_concept = exec::executor_tag;
  static constexpr memory_space space = memory_space::host;
  template <class T>
  using buffer = exec::host::buffer<T>;
  template <class F>
  void for_each(std::size_t, F) const {}
  template <class F>
  double sum(std::size_t, F) const { return 0; }
  template <class T>
  void copy(T*, const T*, std::size_t) const {}
  template <class T>
  void upload(T*, const T*, std::size_t) const {}
  template <class T>
  void download(T*, const T*, std::size_t) const {}
  template <class T>
  buffer<T> allocate(std::size_t n) const { return exec::host{}.allocate<T>(n); }
};

// ---- Communicator: no barrier.
struct communicator {
  using communicator_concept = comm::communicator_tag;
  int rank() const { return 0; }
  int size() const { return 1; }
  void exchange(std::span<const comm::send_op>, std::span<const comm::recv_op>) {}
  void allreduce_sum(double*, std::size_t) {}
  void allreduce_sum(float*, std::size_t) {}
  comm::counters stats() const { return {}; }
};

// ---- Checkpointing: `save` without `load` (and no `stateless`).
struct half_checkpoint {
  void save(checkpoint_writer&, const exec::host&) const {}
};

// ---- Compressors: the declared types, then what each broken one adds or leaves out.
struct compressor_types {
  using compressor_concept = compress::compressor_tag;
  using value_type = float;
  using executor_type = exec::host;
  struct options {};
};
struct compressor_base : compressor_types {
  static constexpr bool is_linear = true;
  static constexpr bool stateless = true;
};
/// No `is_linear`.
struct unlabelled : compressor_types {
  static constexpr bool stateless = true;
};
/// State without a way to checkpoint it: neither save/load nor `stateless`.
struct forgetful : compressor_types {
  static constexpr bool is_linear = true;
};
/// An edge compressor whose `decode` is misspelt.
struct misspelt_edge : compressor_base {
  template <class Context>
  misspelt_edge(const Context&, const parameters<float>&, options) {}
  int rounds(std::int64_t) const { return 1; }
  template <class Context>
  void encode(const Context&, std::span<const int>, comm::exchange_plan<float>&) {}
  template <class Context, class Visit>
  void decod(const Context&, std::span<const int>, Visit&&) {}
};
/// An edge compressor that still writes the parameters itself (the old `combine`) instead of decoding.
struct combining_edge : compressor_base {
  template <class Context>
  combining_edge(const Context&, const parameters<float>&, options) {}
  int rounds(std::int64_t) const { return 1; }
  template <class Context>
  void encode(const Context&, std::span<const int>, comm::exchange_plan<float>&) {}
  template <class Context>
  void combine(const Context&, std::span<const int>, std::span<const double>, double) {}
};
/// An edge compressor that cannot be built from a round's context.
struct unbuildable_edge : compressor_base {
  int rounds(std::int64_t) const { return 1; }
  template <class Context>
  void encode(const Context&, std::span<const int>, comm::exchange_plan<float>&) {}
  template <class Context, class Visit>
  void decode(const Context&, std::span<const int>, Visit&&) {}
};
/// A vector compressor without `decode_add`.
struct encode_only : compressor_base {
  std::size_t message_bytes(const shape&) const { return 0; }
  void encode(const exec::host&, tensor_view<float>, std::byte*) const {}
};

// ---- Mixing rules.
struct rule_base {
  using mixing_rule_concept = mixing::mixing_rule_tag;
  using value_type = float;
  using executor_type = exec::host;
  struct options {};
  template <class Context>
  rule_base(const Context&, const parameters<float>&, options) {}
};
/// `sav`/`load`: misspelt, so not checkpointable.
struct misspelt_save : rule_base {
  using rule_base::rule_base;
  void sav(checkpoint_writer&, const exec::host&) const {}
  void load(checkpoint_reader&, const exec::host&) {}
  template <class Context>
  void plan(const Context&, comm::exchange_plan<float>&) {}
  template <class Context>
  void apply(const Context&) {}
};
/// No `apply`.
struct plan_only : rule_base {
  using rule_base::rule_base;
  static constexpr bool stateless = true;
  template <class Context>
  void plan(const Context&, comm::exchange_plan<float>&) {}
};
/// No tag.
struct untagged {
  using value_type = float;
  using executor_type = exec::host;
  struct options {};
  static constexpr bool stateless = true;
};

// ---- Pairwise rules: the A²CiD² rule with `snapshot` misspelt.
struct misspelt_pairwise : mixing::a2cid2_rule<exec::host, float> {
  using base = mixing::a2cid2_rule<exec::host, float>;
  using base::base;
  void snapshot(const exec::host&, double, float*) = delete;
  void snap(const exec::host& ex, double t, float* out) const { base::snapshot(ex, t, out); }
};

}  // namespace broken

// Executors.
static_assert(exec::executor<exec::host>);
static_assert(!exec::executor<broken::executor>);
static_assert(!exec::executor<int>);
// Communicators.
static_assert(comm::communicator<comm::inprocess>);
static_assert(!comm::communicator<broken::communicator>);
// Checkpointing.
static_assert(checkpointable<compress::low_rank<exec::host, float>, exec::host>);
static_assert(checkpointable<compress::identity<exec::host, float>, exec::host>);  // stateless
static_assert(!checkpointable<broken::half_checkpoint, exec::host>);
// Compressors.
static_assert(compress::edge_compressor<compress::identity<exec::host, float>>);
static_assert(compress::edge_compressor<compress::low_rank<exec::host, double>>);
static_assert(compress::vector_compressor<compress::sign<exec::host, float>>);
static_assert(compress::vector_compressor<compress::top_k<exec::host, float>>);
static_assert(!compress::edge_compressor<compress::sign<exec::host, float>>);  // a vector compressor only
static_assert(!compress::compressor<broken::unlabelled>);
static_assert(!compress::compressor<broken::forgetful>);
static_assert(compress::compressor<broken::misspelt_edge> && !compress::edge_compressor<broken::misspelt_edge>);
static_assert(!compress::edge_compressor<broken::unbuildable_edge>);
static_assert(compress::compressor<broken::combining_edge> && !compress::edge_compressor<broken::combining_edge>);
static_assert(!compress::vector_compressor<broken::encode_only>);
// Mixing rules.
static_assert(mixing::mixing_rule_for<mixing::gossip<exec::host, float>, topology::graph>);
static_assert(mixing::mixing_rule_for<mixing::relaysum<exec::host, double>, topology::graph>);
static_assert(mixing::mixing_rule_for<mixing::choco<exec::host, float, compress::top_k<exec::host, float>>, topology::graph>);
static_assert(mixing::mixing_rule_for<mixing::average<exec::host, float>, mixing::no_topology>);
static_assert(mixing::mixing_rule_for<mixing::d2<exec::host, double>, topology::graph>);
static_assert(mixing::mixing_rule_for<mixing::gradient_tracking<exec::host, float>, topology::graph>);
static_assert(mixing::mixing_rule_for<mixing::sgp<exec::host, float>, mixing::no_topology>);
static_assert(mixing::mixing_rule_for<mixing::quasi_global<mixing::gossip<exec::host, float>>, topology::graph>);
static_assert(!mixing::mixing_rule<broken::misspelt_save>);
static_assert(mixing::mixing_rule<broken::plan_only> && !mixing::mixing_rule_for<broken::plan_only, topology::graph>);
static_assert(!mixing::mixing_rule<broken::untagged>);
// Pairwise rules.
static_assert(mixing::pairwise_rule<mixing::a2cid2_rule<exec::host, float>>);
static_assert(mixing::pairwise_rule<mixing::pairwise_average<exec::host, double>>);
static_assert(mixing::pairwise_rule<mixing::a2cid2_rule<exec::host, float, compress::low_rank<exec::host, float>>>);
static_assert(!mixing::pairwise_rule<broken::misspelt_pairwise>);
static_assert(!mixing::pairwise_rule<mixing::gossip<exec::host, float>>);

// Every algorithm is a type alias of a runtime and a rule.
static_assert(std::same_as<a2cid2<topology::graph, comm::inprocess>,
                           async_mixer<topology::graph, comm::inprocess, mixing::a2cid2_rule<exec::host, float>>>);
static_assert(std::same_as<async_gossip<topology::graph, comm::inprocess>,
                           async_mixer<topology::graph, comm::inprocess, mixing::pairwise_average<exec::host, float>>>);
static_assert(std::same_as<powergossip<topology::graph, comm::inprocess>,
                           mixer<topology::graph, comm::inprocess,
                                 mixing::gossip<exec::host, float, compress::low_rank<exec::host, float>>>>);
static_assert(std::same_as<quasi_global_gossip<topology::graph, comm::inprocess>,
                           mixer<topology::graph, comm::inprocess,
                                 mixing::quasi_global<mixing::gossip<exec::host, float>>>>);
static_assert(std::same_as<sgp<comm::inprocess>, mixer<no_topology, comm::inprocess, mixing::sgp<exec::host, float>>>);
// (No test case: this file is the test — it does not compile when one of the checks above fails.)
