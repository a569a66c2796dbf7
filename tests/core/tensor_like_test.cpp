// The user's tensor types as parameters: member hook, tensor_traits, mdspan, data()+sizes(), contiguous ranges,
// DLPack; and every bad-input case (strides, dtype, spaces, shapes).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <decent/core/dlpack.hpp>
#include <decent/core/error.hpp>
#include <decent/core/tensor.hpp>

#if __has_include(<mdspan>)
#include <mdspan>
#endif
#if __has_include(<cuda/std/mdspan>)
#include <cuda/std/mdspan>
#define DECENT_TEST_CUDA_STD_MDSPAN 1
#endif

using decent::memory_space;
using decent::parameters;
using decent::shape;

namespace {

// A framework-like tensor: data() + sizes() as std::vector<int>, strides() and is_contiguous().
struct framework_tensor {
  std::vector<float> storage;
  std::vector<int> dims;
  std::vector<long> step;  // strides in elements
  float* data() { return storage.data(); }
  [[nodiscard]] const std::vector<int>& sizes() const { return dims; }
  [[nodiscard]] const std::vector<long>& strides() const { return step; }
};

// A tensor with a member hook (in device memory, as far as decent is told).
struct hooked_tensor {
  double* ptr;
  std::int64_t n;
  [[nodiscard]] decent::tensor_view<double> as_tensor_view() const { return {ptr, {n}, memory_space::host}; }
};

// A user struct with nothing decent recognises, adapted through tensor_traits.
struct legacy_matrix {
  float* values;
  unsigned rows, cols;
};

// A tensor that says it is not contiguous.
struct view_tensor {
  float* p;
  std::array<std::size_t, 2> extent;
  bool contiguous;
  float* data() { return p; }
  [[nodiscard]] std::array<std::size_t, 2> shape() const { return extent; }
  [[nodiscard]] bool is_contiguous() const { return contiguous; }
};

DLTensor make_dltensor(void* data, std::int64_t* dims, int ndim, std::uint8_t bits = 32,
                       DLDeviceType device = kDLCPU, std::int64_t* strides = nullptr, std::uint64_t offset = 0) {
  DLTensor t{};
  t.data = data;
  t.device = DLDevice{device, 0};
  t.ndim = ndim;
  t.dtype = DLDataType{static_cast<std::uint8_t>(kDLFloat), bits, 1};
  t.shape = dims;
  t.strides = strides;
  t.byte_offset = offset;
  return t;
}

}  // namespace

template <>
struct decent::tensor_traits<legacy_matrix> {
  using element_type = float;
  static decent::tensor_view<float> view(legacy_matrix& m) {
    return {m.values, decent::shape{m.rows, m.cols}, decent::memory_space::host};
  }
};

static_assert(decent::tensor_like<std::vector<float>&>);
static_assert(decent::tensor_like<framework_tensor&>);
static_assert(decent::tensor_like<hooked_tensor&>);
static_assert(decent::tensor_like<legacy_matrix&>);
static_assert(decent::tensor_like<DLTensor&>);
static_assert(decent::tensor_like<DLManagedTensor&>);
static_assert(decent::tensor_like_of<std::vector<double>&, double>);
static_assert(!decent::tensor_like_of<std::vector<double>&, float>);
static_assert(decent::tensor_like_of<DLTensor&, float> && decent::tensor_like_of<DLTensor&, double>);
static_assert(!decent::tensor_like<int&>);
static_assert(!decent::tensor_like<parameters<float>&>);
static_assert(std::is_same_v<decent::tensor_element_t<legacy_matrix&>, float>);
static_assert(std::is_same_v<decent::tensor_element_t<hooked_tensor&>, double>);

TEST_CASE("shapes from integer ranges are checked") {
  const std::vector<int> dims{256, 784};
  CHECK(shape(dims) == shape{256, 784});
  const std::array<std::size_t, 3> sizes{2, 3, 4};
  CHECK(shape(sizes).numel() == 24);
  CHECK_THROWS_WITH_AS(shape(std::vector<int>{3, -2}), "negative extent -2 in a tensor shape", decent::invalid_argument);
  CHECK_THROWS_AS(shape(std::vector<int>(7, 1)), decent::invalid_argument);
  CHECK_THROWS_AS(shape(std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()}), decent::invalid_argument);
  // 4294967297 x 4294967295 = 2^64 - 1 fits; times 3 does not: an error, not a wrapped-around count.
  CHECK(shape{4294967297, 4294967295}.numel() == std::numeric_limits<std::size_t>::max());
  CHECK_THROWS_AS((shape{4294967297, 4294967295, 3}), decent::invalid_argument);
  CHECK_THROWS_AS((decent::parameter_layout{{4294967297, 4294967295}, {2}}), decent::invalid_argument);
  static_assert(!std::is_constructible_v<shape, std::string>, "a string is no shape");
}

TEST_CASE("a pack of the user's tensors: element type deduced, adjacent tensors packed") {
  // One arena, four tensors viewing it back to back (as a trainer with a flat parameter buffer has them).
  std::vector<float> arena(6 + 3 + 4 + 2);
  std::iota(arena.begin(), arena.end(), 0.0f);
  framework_tensor w1{{}, {3, 2}, {2, 1}}, b1{{}, {3}, {1}};
  legacy_matrix w2{arena.data() + 9, 2, 2};
  std::span<float> b2(arena.data() + 13, 2);
  // framework_tensor owns storage; make w1 and b1 own copies to show separate memory first.
  w1.storage.assign(arena.begin(), arena.begin() + 6);
  b1.storage.assign(arena.begin() + 6, arena.begin() + 9);
  decent::parameters params{w1, b1, w2, b2};
  static_assert(std::is_same_v<decltype(params), parameters<float>>);
  REQUIRE(params.num_tensors() == 4);
  CHECK(params[0].data == w1.data());
  CHECK(params[0].shape == shape{3, 2});
  CHECK(params[1].shape == shape{3});
  CHECK(params[2].data == arena.data() + 9);
  CHECK(params[2].shape == shape{2, 2});
  CHECK(params[3].data == arena.data() + 13);
  CHECK(params[3].shape == shape{2});
  CHECK(params.numel() == 15);
  CHECK_FALSE(params.is_packed());

  // Views of one arena, in order, are recognised as one packed buffer.
  std::span<float> a(arena.data(), 9), b(arena.data() + 9, 6);
  const parameters<float> packed{a, b};
  CHECK(packed.is_packed());
  CHECK(packed.segments().size() == 1);
}

TEST_CASE("a range of tensors, and the member hook") {
  std::vector<std::vector<double>> layers{{1, 2, 3}, {4, 5}};
  const parameters<double> p(layers);
  REQUIRE(p.num_tensors() == 2);
  CHECK(p[1].data == layers[1].data());
  CHECK(p.layout() == decent::parameter_layout{{3}, {2}});

  std::vector<double> storage(5);
  std::vector<hooked_tensor> hooked{{storage.data(), 3}, {storage.data() + 3, 2}};
  const parameters<double> h(hooked);
  CHECK(h.is_packed());
  CHECK(h.numel() == 5);
}

TEST_CASE("non-contiguous tensors are one clear error each") {
  framework_tensor t{std::vector<float>(6), {2, 3}, {1, 2}};  // column-major: a transposed view
  CHECK_THROWS_WITH_AS(parameters<float>{t},
                       "the tensor of shape [2x3] has strides (1,2): decent needs row-major contiguous tensors",
                       decent::invalid_argument);
  framework_tensor ok{std::vector<float>(6), {2, 3}, {3, 1}};
  CHECK_NOTHROW(parameters<float>{ok});
  framework_tensor broadcast{std::vector<float>(3), {1, 3}, {0, 1}};  // extent 1: any stride is contiguous
  CHECK_NOTHROW(parameters<float>{broadcast});

  std::vector<float> memory(6);
  view_tensor v{memory.data(), {2, 3}, false};
  CHECK_THROWS_WITH_AS(parameters<float>{v},
                       "the tensor of shape [2x3] is not contiguous: decent needs row-major contiguous tensors (make "
                       "it contiguous first)",
                       decent::invalid_argument);
  v.contiguous = true;
  CHECK(parameters<float>{v}.numel() == 6);
}

TEST_CASE("memory spaces: on_device, and one space for all tensors") {
  std::vector<float> a(4), b(4);
  const parameters<float> d{decent::on_device(a), decent::on_device(b)};
  CHECK(d.space() == memory_space::device);
  CHECK_THROWS_WITH_AS((parameters<float>{a, decent::on_device(b)}),
                       "tensor 1 is in device memory but tensor 0 is in host memory: all parameters must be in one "
                       "memory space",
                       decent::invalid_argument);
}

#if DECENT_TEST_CUDA_STD_MDSPAN
TEST_CASE("cuda::std::mdspan: layout_right accepted, layout_left refused") {
  std::vector<float> m(12);
  cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 2>> right(m.data(), 3, 4);
  const parameters<float> p{right};
  CHECK(p[0].shape == shape{3, 4});
  CHECK(p[0].data == m.data());
  cuda::std::mdspan<float, cuda::std::extents<int, 3, 4>> fixed(m.data());
  CHECK(parameters<float>{fixed}[0].shape == shape{3, 4});
  cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 2>, cuda::std::layout_left> left(m.data(), 3, 4);
  CHECK_THROWS_WITH_AS(parameters<float>{left},
                       "the mdspan of shape [3x4] has strides (1,3): decent needs row-major contiguous tensors "
                       "(layout_right)",
                       decent::invalid_argument);
  // A column vector in layout_left is still contiguous.
  cuda::std::mdspan<float, cuda::std::dextents<std::size_t, 2>, cuda::std::layout_left> column(m.data(), 12, 1);
  CHECK_NOTHROW(parameters<float>{column});
}
#endif

#if defined(__cpp_lib_mdspan)
TEST_CASE("std::mdspan") {
  std::vector<double> m(6);
  std::mdspan<double, std::dextents<std::size_t, 2>> x(m.data(), 2, 3);
  CHECK(parameters<double>{x}[0].shape == shape{2, 3});
}
#endif

TEST_CASE("DLPack: a DLTensor made by hand") {
  std::vector<float> memory(2 + 12);
  std::int64_t dims[] = {3, 4};
  // byte_offset moves the start: the tensor begins two floats in.
  DLTensor t = make_dltensor(memory.data(), dims, 2, 32, kDLCPU, nullptr, 2 * sizeof(float));
  std::int64_t bias_dims[] = {5};
  std::vector<float> bias(5);
  DLTensor b = make_dltensor(bias.data(), bias_dims, 1);
  const parameters<float> p{t, b};
  REQUIRE(p.num_tensors() == 2);
  CHECK(p[0].data == memory.data() + 2);
  CHECK(p[0].shape == shape{3, 4});
  CHECK(p[1].shape == shape{5});
  CHECK(p.space() == memory_space::host);

  // Explicit compact strides are fine; any other is an error.
  std::int64_t compact[] = {4, 1}, transposed[] = {1, 3};
  DLTensor s = make_dltensor(memory.data(), dims, 2, 32, kDLCPU, compact);
  CHECK_NOTHROW(parameters<float>{s});
  s.strides = transposed;
  CHECK_THROWS_WITH_AS(parameters<float>{s},
                       "a DLTensor of shape [3x4] has strides (1,3): decent needs row-major contiguous tensors (make "
                       "it contiguous first)",
                       decent::invalid_argument);

  // The dtype must be the parameters' element type.
  DLTensor d = make_dltensor(memory.data(), dims, 2, 64);
  CHECK_THROWS_WITH_AS(parameters<float>{d},
                       "a DLTensor of dtype float64 cannot be a parameter of decent::parameters<float32>",
                       decent::invalid_argument);
  CHECK_NOTHROW(parameters<double>{d});
  DLTensor i = t;
  i.dtype = DLDataType{static_cast<std::uint8_t>(kDLInt), 32, 1};
  CHECK_THROWS_WITH_AS(parameters<float>{i}, "a DLTensor of dtype int32 cannot be a parameter of "
                                             "decent::parameters<float32>",
                       decent::invalid_argument);

  // Device types decide the memory space; others are refused.
  DLTensor c = make_dltensor(memory.data(), dims, 2, 32, kDLCUDA);
  CHECK(parameters<float>{c}.space() == memory_space::device);
  DLTensor o = make_dltensor(memory.data(), dims, 2, 32, kDLOpenCL);
  CHECK_THROWS_WITH_AS(parameters<float>{o},
                       "a DLTensor on device type 4: decent takes host memory (kDLCPU, kDLCUDAHost) or CUDA memory "
                       "(kDLCUDA, kDLCUDAManaged)",
                       decent::invalid_argument);
  // A misaligned byte offset.
  DLTensor m = make_dltensor(memory.data(), dims, 2, 32, kDLCPU, nullptr, 2);
  CHECK_THROWS_AS(parameters<float>{m}, decent::invalid_argument);

  // DLManagedTensor, in a range.
  std::vector<DLManagedTensor> managed(2);
  managed[0].dl_tensor = t;
  managed[1].dl_tensor = b;
  const parameters<float> q(managed);
  CHECK(q[0].data == p[0].data);
  CHECK(q.layout() == p.layout());
}
