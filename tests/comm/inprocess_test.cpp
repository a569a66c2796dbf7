// Tests of the in-process communicator: matching rules, a randomized stress test, all-reduce determinism,
// error reporting (size mismatch, deadline, abort, bad ranks).

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include <decent/comm/communicator.hpp>
#include <decent/comm/inprocess.hpp>

namespace {

using namespace std::chrono_literals;
using decent::comm::communicator;
using decent::comm::communicator_for;
using decent::comm::counters;
using decent::comm::inprocess;
using decent::comm::inprocess_world;
using decent::comm::recv_op;
using decent::comm::send_op;
using decent::memory_space;

static_assert(communicator<inprocess>);
static_assert(communicator_for<inprocess, memory_space::host>);
static_assert(std::is_nothrow_move_constructible_v<inprocess>);

struct untagged {
  int rank() const;
  int size() const;
  void exchange(std::span<const send_op>, std::span<const recv_op>);
  void barrier();
  void allreduce_sum(double*, std::size_t);
  void allreduce_sum(float*, std::size_t);
  counters stats() const;
};
struct host_only : untagged {
  using communicator_concept = decent::comm::communicator_tag;
  static constexpr bool can_access(memory_space s) { return s == memory_space::host; }
};
static_assert(!communicator<untagged>);
static_assert(communicator_for<host_only, memory_space::host>);
static_assert(!communicator_for<host_only, memory_space::device>);
static_assert(decent::comm::reduces_in<host_only, memory_space::host>);
static_assert(decent::comm::reduces_in<inprocess, memory_space::host>);
static_assert(!decent::comm::reduces_in<inprocess, memory_space::device>);

/// Runs `body(comm)` on every rank of `world`, one thread each. The first failure aborts the world (so no rank
/// waits for a dead one) and is rethrown here once all threads joined.
template <class Body>
void run_ranks(inprocess_world& world, Body body) {
  std::mutex mutex;
  std::exception_ptr first;
  {
    std::vector<std::jthread> threads;
    for (int r = 0; r < world.size(); ++r) {
      threads.emplace_back([&, r] {
        try {
          inprocess comm(world, r);
          body(comm);
        } catch (...) {
          {
            std::lock_guard lock(mutex);
            if (!first) first = std::current_exception();
          }
          world.abort("rank " + std::to_string(r) + " failed");
        }
      });
    }
  }
  if (first) std::rethrow_exception(first);
}

/// Runs `body(comm)` on every rank and returns the `comm_error` message each rank threw ("" when none).
template <class Body>
std::vector<std::string> comm_errors(inprocess_world& world, Body body) {
  std::vector<std::string> errors(static_cast<std::size_t>(world.size()));
  run_ranks(world, [&](inprocess& comm) {
    try {
      body(comm);
    } catch (const decent::comm_error& e) {
      errors[static_cast<std::size_t>(comm.rank())] = e.what();
    }
  });
  return errors;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

TEST_CASE("a ring exchange of 4 ranks delivers every payload") {
  inprocess_world world(4, {.deadline = 10s});
  std::vector<std::vector<int>> received(4);
  run_ranks(world, [&](inprocess& comm) {
    const int r = comm.rank(), n = comm.size();
    std::vector<int> out(100), in(100, -1);
    for (int i = 0; i < 100; ++i) out[static_cast<std::size_t>(i)] = 1000 * r + i;
    const send_op send{(r + 1) % n, out.data(), out.size() * sizeof(int)};
    const recv_op recv{(r + n - 1) % n, in.data(), in.size() * sizeof(int)};
    comm.exchange({&send, 1}, {&recv, 1});
    received[static_cast<std::size_t>(r)] = in;
    CHECK(comm.stats() == counters{400, 1, 400, 1});
  });
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 100; ++i)
      CHECK(received[static_cast<std::size_t>(r)][static_cast<std::size_t>(i)] == 1000 * ((r + 3) % 4) + i);
}

TEST_CASE("a rank can exchange with itself") {
  inprocess_world world(2, {.deadline = 10s});
  run_ranks(world, [](inprocess& comm) {
    const std::array<double, 3> out{1.5, -2.0, comm.rank() + 0.25};
    std::array<double, 3> in{};
    const send_op send{comm.rank(), out.data(), sizeof out, 3};
    const recv_op recv{comm.rank(), in.data(), sizeof in, 3};
    comm.exchange({&send, 1}, {&recv, 1});
    CHECK(in == out);
    CHECK(comm.stats() == counters{24, 1, 24, 1});
  });
}

TEST_CASE("messages with the same source, destination and tag arrive in FIFO order") {
  inprocess_world world(2, {.deadline = 10s});
  run_ranks(world, [](inprocess& comm) {
    if (comm.rank() == 0) {
      const int first = 11, second = 22;
      const std::array sends{send_op{1, &first, sizeof(int), 5}, send_op{1, &second, sizeof(int), 5}};
      comm.exchange(sends, {});
    } else {
      int a = 0, b = 0;
      const std::array recvs{recv_op{0, &a, sizeof(int), 5}, recv_op{0, &b, sizeof(int), 5}};
      comm.exchange({}, recvs);
      CHECK(a == 11);
      CHECK(b == 22);
    }
  });
}

TEST_CASE("tags are matched regardless of posting order") {
  inprocess_world world(2, {.deadline = 10s});
  run_ranks(world, [](inprocess& comm) {
    if (comm.rank() == 0) {
      const std::array<char, 3> one{'a', 'b', 'c'};
      const std::array<char, 5> two{'v', 'w', 'x', 'y', 'z'};
      const std::array sends{send_op{1, one.data(), one.size(), 1}, send_op{1, two.data(), two.size(), 2}};
      comm.exchange(sends, {});
    } else {
      std::array<char, 3> one{};
      std::array<char, 5> two{};
      const std::array recvs{recv_op{0, two.data(), two.size(), 2}, recv_op{0, one.data(), one.size(), 1}};
      comm.exchange({}, recvs);
      CHECK(std::string(one.begin(), one.end()) == "abc");
      CHECK(std::string(two.begin(), two.end()) == "vwxyz");
    }
  });
}

namespace {
std::atomic<int> copies{0};
std::atomic<const void*> last_source{nullptr};
void counting_copy(void* dst, const void* src, std::size_t bytes) {
  ++copies;
  last_source = src;
  std::memcpy(dst, src, bytes);
}
}  // namespace

TEST_CASE("each message is copied once, straight from the sender's buffer") {
  inprocess_world world(2, {.deadline = 10s, .copy = &counting_copy});
  const std::vector<float> out(1000, 3.0f);
  std::vector<float> in(1000, 0.0f);
  run_ranks(world, [&](inprocess& comm) {
    if (comm.rank() == 0) {
      const std::array sends{send_op{1, out.data(), out.size() * sizeof(float)}, send_op{1, nullptr, 0, 9}};
      comm.exchange(sends, {});
    } else {
      const std::array recvs{recv_op{0, in.data(), in.size() * sizeof(float)}, recv_op{0, nullptr, 0, 9}};
      comm.exchange({}, recvs);
    }
  });
  CHECK(copies == 1);  // never called for 0 bytes
  CHECK(last_source == out.data());
  CHECK(in == out);
}

TEST_CASE("in place: on a tree, each pair swaps its buffers, across chunks, for many rounds") {
  // Ranks 0-1-2-3 as a chain plus 1-4: every rank keeps one buffer per neighbour, sends it and receives the
  // neighbour's message into it; an ordinary message 0 → 4 travels in the same batches.
  const std::vector<std::vector<int>> neighbours{{1}, {0, 2, 4}, {1, 3}, {2}, {1}};
  constexpr int rounds = 30;
  inprocess_world world(5, {.deadline = 10s});
  run_ranks(world, [&](inprocess& comm) {
    CHECK(comm.exchanges_in_place());
    const int r = comm.rank();
    const auto& peers = neighbours[static_cast<std::size_t>(r)];
    auto payload = [](int round, int from, int to, std::size_t k) {
      return static_cast<std::uint32_t>(mix((static_cast<std::uint64_t>(round) << 32) ^
                                            (static_cast<std::uint64_t>(from) << 16) ^ static_cast<std::uint64_t>(to)) +
                                        k);
    };
    // Sizes differ per edge and round: below, at and above the 64 KiB staging chunk.
    auto length = [](int round, int a, int b) {
      return std::size_t{1} + (static_cast<std::size_t>(round * 7 + std::min(a, b) * 3 + std::max(a, b)) % 5) * 9000;
    };
    std::vector<std::vector<std::uint32_t>> buffers(peers.size());
    std::vector<std::uint32_t> plain(100), got(100);
    for (int round = 0; round < rounds; ++round) {
      std::vector<send_op> sends;
      std::vector<recv_op> recvs;
      for (std::size_t j = 0; j < peers.size(); ++j) {
        auto& b = buffers[j];
        b.resize(length(round, r, peers[j]));
        for (std::size_t k = 0; k < b.size(); ++k) b[k] = payload(round, r, peers[j], k);
        sends.push_back({peers[j], b.data(), b.size() * sizeof(std::uint32_t), round % 3});
        recvs.push_back({peers[j], b.data(), b.size() * sizeof(std::uint32_t), round % 3});
      }
      for (std::size_t k = 0; k < plain.size(); ++k) plain[k] = payload(round, 0, 4, k) ^ 1u;
      if (r == 0) sends.push_back({4, plain.data(), plain.size() * sizeof(std::uint32_t), 7});
      if (r == 4) recvs.push_back({0, got.data(), got.size() * sizeof(std::uint32_t), 7});
      comm.exchange(sends, recvs);
      for (std::size_t j = 0; j < peers.size(); ++j) {
        const auto& b = buffers[j];
        bool same = true;
        for (std::size_t k = 0; k < b.size(); ++k) same = same && b[k] == payload(round, peers[j], r, k);
        CHECK_MESSAGE(same, "rank ", r, " round ", round, " buffer of ", peers[j]);
      }
      if (r == 4) CHECK(got == plain);
    }
  });
}

namespace {
std::atomic<int> owner_copies{0};
void counting_owner_copy(void* dst, const void* src, std::size_t bytes) {
  ++owner_copies;
  std::memcpy(dst, src, bytes);
}
}  // namespace

TEST_CASE("in place with owners: the pair swaps the buffers themselves, else their contents") {
  // Ranks 0 and 1 each keep one std::vector<std::uint32_t> per tag. Tags 0 and 1 offer owners on both ends; tag 2
  // only on rank 0; on tag 3 rank 1 names an owner that does not own the buffer; on tag 4 rank 1's buffer is a
  // std::vector<std::int32_t> of the same bytes (another owner type). Only tags 0 and 1 may swap owners.
  for (const bool swap_owners : {true, false}) {
    CAPTURE(swap_owners);
    owner_copies = 0;
    inprocess_world world(2, {.deadline = 10s, .copy = &counting_owner_copy, .swap_owners = swap_owners});
    std::array<const std::uint32_t*, 2> held{};  // rank r's buffer address of tag 0 before the exchange
    std::array<const std::uint32_t*, 2> now{};   // ... after it
    std::mutex m;
    run_ranks(world, [&](inprocess& comm) {
      const int r = comm.rank(), peer = 1 - r;
      const auto fill = [](int rank, std::size_t t) {
        return static_cast<std::uint32_t>(100 * rank) + static_cast<std::uint32_t>(t);
      };
      std::array<std::vector<std::uint32_t>, 5> buffers;
      for (std::size_t t = 0; t < buffers.size(); ++t) buffers[t].assign(20000 + t, fill(r, t));
      std::vector<std::int32_t> signed_buffer(20004, static_cast<std::int32_t>(fill(r, 4)));
      std::vector<std::uint32_t> other;  // tag 3's owner on rank 1: owns nothing
      std::vector<send_op> sends;
      std::vector<recv_op> recvs;
      for (int t = 0; t < 5; ++t) {
        auto& b = buffers[static_cast<std::size_t>(t)];
        void* data = t == 4 && r == 1 ? static_cast<void*>(signed_buffer.data()) : static_cast<void*>(b.data());
        const std::size_t bytes = b.size() * sizeof(std::uint32_t);
        sends.push_back({peer, data, bytes, t});
        recv_op recv{peer, data, bytes, t};
        if (t < 2 || (t == 2 && r == 0) || (t >= 3 && r == 0)) recv.owner = decent::comm::owner_of(b);
        if (t == 3 && r == 1) recv.owner = decent::comm::owner_of(other);
        if (t == 4 && r == 1) recv.owner = decent::comm::owner_of(signed_buffer);
        recvs.push_back(recv);
      }
      {
        std::lock_guard lock(m);
        held[static_cast<std::size_t>(r)] = buffers[0].data();
      }
      comm.exchange(sends, recvs);
      {
        std::lock_guard lock(m);
        now[static_cast<std::size_t>(r)] = buffers[0].data();
      }
      for (std::size_t t = 0; t < buffers.size(); ++t) {
        CAPTURE(t);
        if (t == 4 && r == 1) {
          CHECK(std::all_of(signed_buffer.begin(), signed_buffer.end(),
                            [&](std::int32_t v) { return static_cast<std::uint32_t>(v) == fill(peer, t); }));
          continue;
        }
        CHECK(buffers[t].size() == 20000 + t);
        CHECK(std::all_of(buffers[t].begin(), buffers[t].end(), [&](std::uint32_t v) { return v == fill(peer, t); }));
      }
      CHECK(other.empty());
      CHECK(signed_buffer.size() == 20004);
    });
    if (swap_owners) {
      CHECK(now[0] == held[1]);  // the vectors themselves were exchanged
      CHECK(now[1] == held[0]);
    } else {
      CHECK(now[0] == held[0]);
      CHECK(now[1] == held[1]);
    }
    // Contents swapped in 80 KB staged as two chunks (3 copies each) for tags 2, 3 and 4, and for 0 and 1 as well
    // without owner swaps.
    CHECK(owner_copies == (swap_owners ? 3 : 5) * 2 * 3);
  }
}

TEST_CASE("in place: the world says whether rules may exchange in place, a rank may swap with itself") {
  inprocess_world host(1), off(1, {.in_place = false}), device(1, {.device_memory = true});
  CHECK(inprocess(host, 0).exchanges_in_place());
  CHECK(decent::comm::exchanges_in_place(inprocess(host, 0)));
  CHECK_FALSE(inprocess(off, 0).exchanges_in_place());
  CHECK_FALSE(inprocess(device, 0).exchanges_in_place());
  struct plain : host_only {};
  CHECK_FALSE(decent::comm::exchanges_in_place(plain{}));
  inprocess comm(host, 0);
  std::array<int, 4> buffer{1, 2, 3, 4};
  const send_op send{0, buffer.data(), sizeof buffer};
  const recv_op recv{0, buffer.data(), sizeof buffer};
  comm.exchange({&send, 1}, {&recv, 1});
  CHECK(buffer == std::array<int, 4>{1, 2, 3, 4});
  CHECK(comm.stats() == counters{sizeof buffer, 1, sizeof buffer, 1});
}

TEST_CASE("in place on one end only fails on both ranks, whichever end it is") {
  for (const int aliasing : {0, 1}) {
    CAPTURE(aliasing);
    inprocess_world world(2, {.deadline = 10s});
    const auto errors = comm_errors(world, [&](inprocess& comm) {
      std::array<char, 32> buffer{}, other{};
      const int peer = 1 - comm.rank();
      const send_op send{peer, buffer.data(), buffer.size()};
      const recv_op recv{peer, comm.rank() == aliasing ? buffer.data() : other.data(), buffer.size()};
      comm.exchange({&send, 1}, {&recv, 1});
    });
    const std::string message = "rank " + std::to_string(aliasing) + " exchanges in place with rank " +
                                std::to_string(1 - aliasing) + " (tag 0) but rank " + std::to_string(1 - aliasing) +
                                " sends and receives through different buffers: both ends of an in-place exchange "
                                "name one buffer";
    CHECK(contains(errors[0], message));
    CHECK(contains(errors[1], message));
  }
}

TEST_CASE("an in-place receive of another size, or two in-place buffers under one tag, are rejected before anything is posted") {
  inprocess_world world(2, {.deadline = 10s});
  inprocess comm(world, 0);
  std::array<char, 32> buffer{};
  const send_op send{1, buffer.data(), 32};
  const recv_op recv{1, buffer.data(), 16};
  CHECK_THROWS_WITH_AS(comm.exchange({&send, 1}, {&recv, 1}),
                       "rank 0 exchanges 32 bytes in place with rank 1 (tag 0) but receives 16 into the same buffer",
                       decent::invalid_argument);
  CHECK(comm.stats() == counters{});
  // Two in-place buffers under one (peer, tag) could pair the wrong way round: refused too.
  std::array<char, 32> second{};
  const std::array sends{send_op{1, buffer.data(), 32, 4}, send_op{1, second.data(), 32, 4}};
  const std::array recvs{recv_op{1, buffer.data(), 32, 4}, recv_op{1, second.data(), 32, 4}};
  CHECK_THROWS_WITH_AS(comm.exchange(sends, recvs),
                       "rank 0 exchanges two buffers in place with rank 1 under tag 4: give each in-place buffer its "
                       "own tag",
                       decent::invalid_argument);
  CHECK(comm.stats() == counters{});
}

namespace {
/// One message of a stress round. Messages of one (src, dst, tag) are numbered 0, 1, ... in FIFO order.
struct planned {
  int src, dst, tag;
  std::size_t bytes, index;
};

/// The random pattern of one round, the same on every thread: a function of (seed, round) only.
std::vector<planned> plan_round(std::uint64_t seed, int round, int n) {
  std::mt19937_64 rng(mix(seed ^ mix(static_cast<std::uint64_t>(round))));
  auto below = [&rng](std::uint64_t k) { return rng() % k; };
  std::vector<planned> msgs;
  std::map<std::tuple<int, int, int>, std::size_t> counts;
  const auto pairs = below(3 * static_cast<std::uint64_t>(n));
  for (std::uint64_t p = 0; p < pairs; ++p) {
    const auto src = static_cast<int>(below(static_cast<std::uint64_t>(n)));
    const auto dst = static_cast<int>(below(static_cast<std::uint64_t>(n)));
    const auto per_pair = 1 + below(4);
    for (std::uint64_t m = 0; m < per_pair; ++m) {
      const auto tag = static_cast<int>(below(3));
      const auto kind = below(8);
      const std::size_t bytes = kind == 0 ? 0 : kind <= 4 ? 1 + below(100) : kind <= 6 ? below(5000) : below(70000);
      msgs.push_back({src, dst, tag, bytes, counts[{src, dst, tag}]++});
    }
  }
  return msgs;
}

/// Shuffles message ids, then puts the members of each (src, dst, tag) group back in FIFO order on the positions
/// the group occupies: the interleaving of groups is random, the order within a group is not.
void fifo_shuffle(std::vector<std::size_t>& ids, const std::vector<planned>& msgs, std::mt19937_64& rng) {
  std::shuffle(ids.begin(), ids.end(), rng);
  std::map<std::tuple<int, int, int>, std::vector<std::size_t>> groups;
  for (const std::size_t id : ids) groups[{msgs[id].src, msgs[id].dst, msgs[id].tag}].push_back(id);
  for (auto& [key, members] : groups) std::sort(members.begin(), members.end());
  std::map<std::tuple<int, int, int>, std::size_t> next;
  for (std::size_t& id : ids) {
    const std::tuple key{msgs[id].src, msgs[id].dst, msgs[id].tag};
    id = groups[key][next[key]++];
  }
}

std::uint8_t content(int round, const planned& m, std::size_t byte) {
  const auto key = mix((static_cast<std::uint64_t>(round) << 40) ^ (static_cast<std::uint64_t>(m.src) << 30) ^
                       (static_cast<std::uint64_t>(m.dst) << 20) ^ (static_cast<std::uint64_t>(m.tag) << 10) ^
                       m.index);
  return static_cast<std::uint8_t>(key + byte * 131 + (byte >> 8));
}
}  // namespace

TEST_CASE("stress: 12 ranks, 200 rounds of random batched exchanges") {
  constexpr int n = 12, rounds = 200;
  constexpr std::uint64_t seed = 20240607;
  inprocess_world world(n, {.deadline = 10s});
  std::vector<std::size_t> wrong_bytes(n), wrong_sizes(n);
  std::vector<counters> expected(n), actual(n);
  run_ranks(world, [&](inprocess& comm) {
    const int me = comm.rank();
    const auto slot = static_cast<std::size_t>(me);
    for (int round = 0; round < rounds; ++round) {
      const std::vector<planned> msgs = plan_round(seed, round, n);
      std::vector<std::size_t> out_ids, in_ids;
      for (std::size_t id = 0; id < msgs.size(); ++id) {
        if (msgs[id].src == me) out_ids.push_back(id);
        if (msgs[id].dst == me) in_ids.push_back(id);
      }
      std::mt19937_64 rng(mix(seed + static_cast<std::uint64_t>(round * n + me)));
      fifo_shuffle(out_ids, msgs, rng);
      fifo_shuffle(in_ids, msgs, rng);

      std::vector<std::vector<std::uint8_t>> out(out_ids.size()), in(in_ids.size());
      std::vector<send_op> sends;
      std::vector<recv_op> recvs;
      for (std::size_t i = 0; i < out_ids.size(); ++i) {
        const planned& m = msgs[out_ids[i]];
        out[i].resize(m.bytes);
        for (std::size_t b = 0; b < m.bytes; ++b) out[i][b] = content(round, m, b);
        sends.push_back({m.dst, out[i].data(), m.bytes, m.tag});
        expected[slot].bytes_sent += m.bytes;
        ++expected[slot].messages_sent;
      }
      for (std::size_t i = 0; i < in_ids.size(); ++i) {
        const planned& m = msgs[in_ids[i]];
        in[i].assign(m.bytes, 0xAA);
        recvs.push_back({m.src, in[i].data(), m.bytes, m.tag});
        expected[slot].bytes_received += m.bytes;
        ++expected[slot].messages_received;
      }

      comm.exchange(sends, recvs);

      for (std::size_t i = 0; i < in_ids.size(); ++i) {
        const planned& m = msgs[in_ids[i]];
        if (in[i].size() != m.bytes) ++wrong_sizes[slot];
        for (std::size_t b = 0; b < m.bytes; ++b) wrong_bytes[slot] += in[i][b] != content(round, m, b);
      }
    }
    actual[slot] = comm.stats();
  });
  std::uint64_t total_messages = 0;
  for (std::size_t r = 0; r < n; ++r) {
    CAPTURE(r);
    CHECK(wrong_bytes[r] == 0);
    CHECK(wrong_sizes[r] == 0);
    CHECK(actual[r] == expected[r]);
    total_messages += expected[r].messages_sent;
  }
  CHECK(total_messages > 1000);  // the pattern is not trivially small
}

TEST_CASE("allreduce_sum adds in rank order, bit-identically on every rank") {
  constexpr int n = 5;
  inprocess_world world(n, {.deadline = 10s});
  // Magnitudes spanning 2^-30..2^30 with alternating signs: floating-point addition order changes the result.
  auto value = [](int r, std::size_t k) {
    const double sign = (static_cast<std::size_t>(r) + k) % 2 ? -1.0 : 1.0;
    return sign * std::ldexp(1.0 + 0.1 * r, static_cast<int>((static_cast<std::size_t>(r) * 17 + k * 7) % 61) - 30);
  };
  // 5·2·1024 + 7: each rank sums two full blocks of 1024 and a tail.
  for (const std::size_t count : {std::size_t{0}, std::size_t{3}, std::size_t{1003}, std::size_t{5 * 2 * 1024 + 7}}) {
    CAPTURE(count);
    std::vector<double> expected_d(count);
    std::vector<float> expected_f(count);
    bool order_matters = false;
    for (std::size_t k = 0; k < count; ++k) {
      double reverse = 0.0;
      for (int r = 0; r < n; ++r) {
        expected_d[k] = r == 0 ? value(r, k) : expected_d[k] + value(r, k);
        expected_f[k] = r == 0 ? static_cast<float>(value(r, k)) : expected_f[k] + static_cast<float>(value(r, k));
        reverse += value(n - 1 - r, k);
      }
      order_matters = order_matters || reverse != expected_d[k];
    }
    if (count > 3) CHECK(order_matters);

    std::vector<std::vector<double>> result_d(n);
    std::vector<std::vector<float>> result_f(n);
    std::vector<counters> stats(n);
    run_ranks(world, [&](inprocess& comm) {
      const auto r = static_cast<std::size_t>(comm.rank());
      auto& d = result_d[r];
      auto& f = result_f[r];
      for (std::size_t k = 0; k < count; ++k) {
        d.push_back(value(comm.rank(), k));
        f.push_back(static_cast<float>(value(comm.rank(), k)));
      }
      comm.allreduce_sum(d.data(), count);
      comm.allreduce_sum(f.data(), count);
      stats[r] = comm.stats();
    });
    // The ring convention, once per call, each rounded down: 2(n-1)/n of the payload, 2(n-1) messages.
    const std::uint64_t bytes = 2 * (n - 1) * count * 8 / n + 2 * (n - 1) * count * 4 / n;
    for (std::size_t r = 0; r < n; ++r) {
      CAPTURE(r);
      CHECK(result_d[r] == expected_d);  // bit for bit: the values are finite, so == on doubles is memcmp
      CHECK(result_f[r] == expected_f);
      CHECK(stats[r] == counters{bytes, 4 * (n - 1), bytes, 4 * (n - 1)});
    }
  }
}

TEST_CASE("a size mismatch fails on both ranks") {
  inprocess_world world(3, {.deadline = 10s});
  const auto errors = comm_errors(world, [](inprocess& comm) {
    std::vector<char> buffer(800);
    if (comm.rank() == 1) {
      const send_op send{2, buffer.data(), 800};
      comm.exchange({&send, 1}, {});
    } else if (comm.rank() == 2) {
      const recv_op recv{1, buffer.data(), 400};
      comm.exchange({}, {&recv, 1});
    }
  });
  const std::string message =
      "rank 2 expected 400 bytes from rank 1 (tag 0) but rank 1 sent 800: do all workers use the same parameter "
      "layout?";
  CHECK(errors[0].empty());
  CHECK(errors[1] == message);
  CHECK(errors[2] == message);
}

TEST_CASE("a size mismatch reaches a sender that is still receiving") {
  inprocess_world world(2, {.deadline = 10s});
  const auto errors = comm_errors(world, [](inprocess& comm) {
    std::array<char, 16> out{}, in{};
    const int peer = 1 - comm.rank();
    // Rank 1 rejects rank 0's message and never sends the one rank 0 is waiting for.
    const send_op send{peer, out.data(), out.size()};
    const recv_op recv{peer, in.data(), 8};
    comm.exchange({&send, comm.rank() == 0 ? 1u : 0u}, {&recv, 1});
  });
  CHECK(contains(errors[0], "rank 1 expected 8 bytes from rank 0 (tag 0) but rank 0 sent 16"));
  CHECK(errors[0] == errors[1]);
}

TEST_CASE("allreduce_sum with different sizes fails on every rank") {
  inprocess_world world(3, {.deadline = 10s});
  const auto errors = comm_errors(world, [](inprocess& comm) {
    std::vector<double> data(comm.rank() == 1 ? 7 : 5, 1.0);
    comm.allreduce_sum(data.data(), data.size());
  });
  CHECK(contains(errors[0], "rank 0 called allreduce_sum on 5 elements of 8 bytes but rank 1 on 7 elements"));
  CHECK(contains(errors[1], "rank 1 called allreduce_sum on 7 elements of 8 bytes but rank 0 on 5 elements"));
  CHECK(contains(errors[2], "rank 2 called allreduce_sum on 5 elements of 8 bytes but rank 1 on 7 elements"));
}

TEST_CASE("an unmatched receive fails after the deadline instead of hanging") {
  inprocess_world world(2, {.deadline = 100ms});
  const auto start = std::chrono::steady_clock::now();
  const auto errors = comm_errors(world, [](inprocess& comm) {
    if (comm.rank() != 0) return;
    double x = 0.0;
    const recv_op recv{1, &x, sizeof x, 7};
    comm.exchange({}, {&recv, 1});
  });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(errors[0] == "rank 0 waited 100 ms for a message from rank 1 (tag 7): did rank 1 post the matching send?");
  CHECK(errors[1].empty());
  CHECK(elapsed >= 100ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("an unreceived send and a lonely barrier fail after the deadline") {
  inprocess_world world(2, {.deadline = 100ms});
  const auto errors = comm_errors(world, [](inprocess& comm) {
    if (comm.rank() == 0) {
      const double x = 1.0;
      const send_op send{1, &x, sizeof x, 4};
      comm.exchange({&send, 1}, {});
    } else {
      comm.barrier();
    }
  });
  CHECK(errors[0] == "rank 0 waited 100 ms for rank 1 to receive its message (tag 4): did rank 1 post the matching "
                     "receive?");
  CHECK(contains(errors[1], "rank 1 waited 100 ms at a barrier that only 1 of 2 ranks reached"));
}

TEST_CASE("abort wakes ranks blocked in exchange and barrier") {
  inprocess_world world(3, {.deadline = 10s});
  std::vector<std::string> errors(3);
  const auto start = std::chrono::steady_clock::now();
  {
    std::jthread receiver([&] {
      try {
        inprocess comm(world, 0);
        int x = 0;
        const recv_op recv{2, &x, sizeof x};
        comm.exchange({}, {&recv, 1});
      } catch (const decent::comm_error& e) {
        errors[0] = e.what();
      }
    });
    std::jthread waiter([&] {
      try {
        inprocess(world, 1).barrier();
      } catch (const decent::comm_error& e) {
        errors[1] = e.what();
      }
    });
    std::this_thread::sleep_for(50ms);
    world.abort("rank 2 ran out of memory");
  }
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(world.aborted());
  CHECK(contains(errors[0], "rank 2 ran out of memory"));
  CHECK(contains(errors[1], "rank 2 ran out of memory"));
  inprocess comm(world, 2);
  CHECK_THROWS_AS(comm.barrier(), decent::comm_error);
  CHECK_THROWS_AS(comm.exchange({}, {}), decent::comm_error);
}

TEST_CASE("ranks and peers out of range are rejected") {
  inprocess_world world(8);
  CHECK_THROWS_WITH_AS(inprocess(world, 9), "rank 9 out of range for an in-process world of 8",
                       decent::invalid_argument);
  CHECK_THROWS_AS(inprocess(world, -1), decent::invalid_argument);
  CHECK_THROWS_AS(inprocess_world(0), decent::invalid_argument);
  inprocess comm(world, 3);
  int x = 0;
  const send_op send{8, &x, sizeof x};
  CHECK_THROWS_WITH_AS(comm.exchange({&send, 1}, {}), "rank 3 cannot send to rank 8: out of range for an in-process world of 8",
                       decent::invalid_argument);
}
