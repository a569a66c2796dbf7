#!/usr/bin/env bash
# Which host kernels the compiler vectorises: compiles one small translation unit per kernel (the kernel run by
# exec::host::for_each, as the library runs it) with the Release flags (-O3, OpenMP, no -march) and GCC's
# vectorisation report, and prints one line per kernel: "vectorised (N-byte vectors)" or "scalar". The report
# speaks of the element loop; a kernel with inner loops of run-time length (runtime degree, low rank) may be
# vectorised across elements yet far from bandwidth — bench/mixing_bench measures what each one achieves.
# Unrolled fixed-size loops (PowerGossip's lanes and column blocks) are vectorised as basic blocks (SLP): reported so.
#   bench/vectorization.sh [CXX [FLAGS...]]   (default g++; e.g. bench/vectorization.sh g++ -march=native -ffp-contract=off)
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${1:-g++}
shift || true
extra=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name | headers | the statement inside run(...) (see the signature below) | [where the element loop is: the
# header of a kernel that loops over a row itself; default exec/host.hpp, the executor's loop]
kernels=(
  "copy|exec/kernels.hpp|ex.for_each(n, decent::detail::copy_kernel<float>{x, y});"
  "axpy|exec/kernels.hpp|ex.for_each(n, decent::detail::axpy_kernel<float>{x, y, 0.5});"
  "weighted_sum (gossip, 2 neighbours)|exec/kernels.hpp|ex.for_each(n, decent::detail::weighted_sum_kernel<float, 2>{x, 0.5, {y, z}, {0.25, 0.25}});"
  "sgd_momentum|exec/kernels.hpp|ex.for_each(n, decent::detail::sgd_momentum_kernel<float>{x, y, z, 0.1, 0.9, nullptr});"
  "relay_messages (degree 1, stride 1)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_messages_kernel<float, 1, 1>{x, 1, nullptr, {{y}, {z}}, 1});"
  "relay_messages (degree 2, stride 1)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_messages_kernel<float, 2, 1>{x, 1, nullptr, {{y, z}, {w, v}}, 2});"
  "relay_messages (degree 3, stride 1)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_messages_kernel<float, 3, 1>{x, 1, nullptr, {{y, z, u}, {w, v, t}}, 3});"
  "relay_messages (degree 3, stride 2)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_messages_kernel<float, 3, 2>{x, 2, nullptr, {{y, z, u}, {w, v, t}}, 3});"
  "relay_messages (runtime degree)|mixing/relaysum_kernels.hpp|ex.for_each((n + 255) / 256, decent::detail::relay_messages_kernel<float, 0, 1>{x, 1, nullptr, {p, q}, 4, n, 256});|mixing/relaysum_kernels.hpp"
  "relay_update (degree 3, stride 1)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_update_kernel<float, 3, 1>{x, 1, nullptr, w, {{y, z, u}, {}}, 3, c, 16.0, false});"
  "relay_update (degree 3, stride 1, every worker heard)|mixing/relaysum_kernels.hpp|ex.for_each(n, decent::detail::relay_update_kernel<float, 3, 1, decent::detail::relay_finish::heard_all>{x, 1, nullptr, w, {{y, z, u}, {}}, 3, c, 16.0, false});"
  "relay_update (runtime degree)|mixing/relaysum_kernels.hpp|ex.for_each((n + 255) / 256, decent::detail::relay_update_kernel<float, 0, 1>{x, 1, nullptr, w, {p, q}, 4, c, 16.0, false, nullptr, n, 256});|mixing/relaysum_kernels.hpp"
  "low_rank_project (by rows, X·Q, rank 1)|compress/low_rank_kernels.hpp|ex.for_each(1000, decent::detail::low_rank_project_kernel<float, decent::detail::host_product_block, 1>{x, 1000, 1000, 1, true, p, q, 2});|exec/kernels.hpp"
  "low_rank_project (by columns, Xᵀ·P, rank 1)|compress/low_rank_kernels.hpp|ex.for_each(2, decent::detail::low_rank_project_kernel<float, decent::detail::host_product_block, 1>{x, 1000, 1000, 1, false, p, q, 2});|exec/kernels.hpp"
  "low_rank update, element form (devices, rank > 4)|compress/low_rank_kernels.hpp mixing/decoded.hpp|ex.for_each(n, decent::detail::add_differences_kernel<float, decent::detail::low_rank_terms<float>>{x, {1000, 1, true, p, p, p}, c, 2});"
  "low_rank update, row form (host, rank 1)|compress/low_rank_kernels.hpp mixing/decoded.hpp|ex.for_each(n, decent::detail::add_differences_rows_kernel<float, decent::detail::low_rank_terms<float, 1>>{x, {1000, 1, true, p, p, p}, c, 2, 1000});|mixing/decoded.hpp"
  "acid_exchange (A2CiD2 exchange)|mixing/acid_kernels.hpp|ex.for_each(n, decent::detail::acid_exchange_kernel<float>{x, y, z, 0.9f, 0.3f});"
  "acid_mix|mixing/acid_kernels.hpp|ex.for_each(n, decent::detail::acid_mix_kernel<float>{x, y, 0.9f});"
  "pack_signs (sign compressor)|compress/sign_top_k_kernels.hpp|ex.for_each(n, decent::detail::pack_signs_kernel<float>{y, n * 32, reinterpret_cast<std::uint32_t*>(x)});"
  "add_signs, word form (host, sign decoding)|compress/sign_top_k_kernels.hpp|ex.for_each(n, decent::detail::add_signs_kernel<float, 32>{y, x, reinterpret_cast<const std::uint32_t*>(z), 0.5, n * 32});|compress/sign_top_k_kernels.hpp"
)
printf '%-52s %s\n' kernel "host loop"
for entry in "${kernels[@]}"; do
  IFS='|' read -r name headers statement loop <<<"$entry"
  loop=${loop:-exec/host.hpp}
  {
    echo '#include <cstdint>'
    echo '#include <decent/exec/host.hpp>'
    for h in $headers; do echo "#include <decent/$h>"; done
    echo 'void run(const decent::exec::host& ex, std::size_t n, float* x, float* y, float* z, float* u, float* w,'
    echo '         float* v, float* t, const float* const* p, float* const* q, const double* c) {'
    echo "  $statement"
    echo '}'
  } >"$work/k.cpp"
  if ! "$cxx" -std=c++20 -O3 -fopenmp "${extra[@]}" -Iinclude -c "$work/k.cpp" -o "$work/k.o" -fopt-info-vec-optimized="$work/k.txt" 2>"$work/err"; then
    printf '%-52s %s\n' "$name" "does not compile here: $(head -1 "$work/err")"
    continue
  fi
  # The loop of exec::host::parallel_for is the kernel's element loop (row kernels: the loops of their header).
  bytes=$(grep -E "$loop:[0-9]+:[0-9]+: optimized: loop vectorized using [0-9]+ byte vectors" "$work/k.txt" |
          sed -E 's/.*using ([0-9]+) byte.*/\1/' | sort -n | tail -1 || true)
  versioned=""
  grep -qE "$loop:[0-9]+:[0-9]+: optimized: +loop versioned for vectorization because of possible aliasing" \
    "$work/k.txt" && versioned=", versioned: a scalar copy runs when the run-time alias check fails"
  slp=$(grep -E "$loop:[0-9]+:[0-9]+: optimized: basic block part vectorized using [0-9]+ byte vectors" "$work/k.txt" |
        sed -E 's/.*using ([0-9]+) byte.*/\1/' | sort -n | tail -1 || true)
  if [ -n "$slp" ] && { [ -z "$bytes" ] || [ "$slp" -gt "$bytes" ]; }; then
    printf '%-52s %s\n' "$name" "vectorised as basic blocks ($slp-byte vectors, unrolled fixed-size loops)"
  elif [ -n "$bytes" ]; then printf '%-52s %s\n' "$name" "vectorised ($bytes-byte vectors$versioned)"
  else printf '%-52s %s\n' "$name" "scalar"; fi
done
