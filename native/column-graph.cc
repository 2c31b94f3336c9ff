// harrier_graph: an HNSW graph (usearch's index_gt, header-only) whose vectors are the segment's
// own float32 column, read in place, instead of a copy inside the index.
//
// Why not usearch's prebuilt addon: its index (index_dense_gt) stores its own copy of every vector
// and its JS search runs synchronously on the calling thread, one graph per call. Here the graph
// holds only neighbour lists (about 8*M bytes a row), distances read the JS-owned column, and
// searches run on a small native thread pool, so the event loop never walks a graph and the
// segments of one request are searched side by side.
//
// Lifetime: the column, the optional filter words and the query matrix are JS typed arrays kept
// alive by references held until the search completes; columns are immutable (Harrier never
// writes a sealed column), so reading them from pool threads is safe.

#include <napi.h>

#include <usearch/index.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

namespace uu = unum::usearch;
using graph_t = uu::index_gt<float, std::uint64_t, std::uint32_t>;
using cref_t = graph_t::member_cref_t;
using citer_t = graph_t::member_citerator_t;

// Distance kernels, one per ISA, picked once at load time by CPU feature checks, so one binary
// built on any x86-64 host runs at full width on AVX-512 and still runs on plain SSE2 hosts.
// Hand-written rather than auto-vectorized: GCC's skylake-avx512 tuning prefers 256-bit vectors,
// and at 128 dims the per-call reduction and tail handling dominate.
float l2sqScalar(float const* a, float const* b, std::size_t n) noexcept {
    float s = 0;
    for (std::size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

float dotScalar(float const* a, float const* b, std::size_t n) noexcept {
    float s = 0;
    for (std::size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HG_X86 1
__attribute__((target("avx512f"))) float l2sqAvx512(float const* a, float const* b, std::size_t n) noexcept {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < n) {
        __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) float dotAvx512(float const* a, float const* b, std::size_t n) noexcept {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) noexcept {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float l2sqAvx2(float const* a, float const* b, std::size_t n) noexcept {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

__attribute__((target("avx2,fma"))) float dotAvx2(float const* a, float const* b, std::size_t n) noexcept {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
#endif

using Kernel = float (*)(float const*, float const*, std::size_t) noexcept;

struct Kernels {
    Kernel l2sq = l2sqScalar;
    Kernel dot = dotScalar;
    char const* isa = "scalar";
};

// HARRIER_GRAPH_ISA=avx2|scalar caps the choice (tests run every kernel on an AVX-512 host).
Kernels pickKernels() noexcept {
    Kernels k;
    char const* cap = std::getenv("HARRIER_GRAPH_ISA");
    std::string want = cap != nullptr ? cap : "";
    if (want == "scalar") return k;
#if defined(HG_X86)
    __builtin_cpu_init();
    if (want != "avx2" && __builtin_cpu_supports("avx512f")) return {l2sqAvx512, dotAvx512, "avx512"};
    // The AVX2 kernels widen float16 with F16C too.
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return {l2sqAvx2, dotAvx2, "avx2"};
#endif
    return k;
}

Kernels const& kernels() noexcept {
    static Kernels const k = pickKernels();
    return k;
}

inline float l2sq(float const* a, float const* b, std::size_t n) noexcept { return kernels().l2sq(a, b, n); }
inline float dot(float const* a, float const* b, std::size_t n) noexcept { return kernels().dot(a, b, n); }

// ---- rows of other element types, read in place and widened to float32 per distance ----
// float16 (IEEE half), bfloat16 (the top 16 bits of a float32) and int8 columns are scored
// exactly as their float32 values, so the graph needs no float32 copy of them either.

enum class Elem { f32, f16, bf16, i8 };

std::size_t elemBytes(Elem e) noexcept { return e == Elem::f32 ? 4 : e == Elem::i8 ? 1 : 2; }

float halfToFloat(std::uint16_t h) noexcept {
    std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t man = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

struct F32 {
    using T = float;
    static float at(T const* p, std::size_t i) noexcept { return p[i]; }
};
struct F16 {
    using T = std::uint16_t;
    static float at(T const* p, std::size_t i) noexcept { return halfToFloat(p[i]); }
};
struct BF16 {
    using T = std::uint16_t;
    static float at(T const* p, std::size_t i) noexcept {
        std::uint32_t u = std::uint32_t(p[i]) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};
struct I8 {
    using T = std::int8_t;
    static float at(T const* p, std::size_t i) noexcept { return float(p[i]); }
};

template <class A, class B> float l2Typed(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    float s = 0;
    for (std::size_t i = 0; i < n; i++) {
        float d = A::at(a, i) - B::at(b, i);
        s += d * d;
    }
    return s;
}

template <class A, class B> float dotTyped(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    float s = 0;
    for (std::size_t i = 0; i < n; i++) s += A::at(a, i) * B::at(b, i);
    return s;
}

#if defined(HG_X86)
// 16 elements widened to float32, AVX-512.
__attribute__((target("avx512f"))) inline __m512 wide16(float const* p) noexcept { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 wide16(F16::T const* p, F16) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<__m256i const*>(p)));
}
__attribute__((target("avx512f"))) inline __m512 wide16(BF16::T const* p, BF16) noexcept {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<__m256i const*>(p))), 16));
}
__attribute__((target("avx512f"))) inline __m512 wide16(I8::T const* p, I8) noexcept {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<__m128i const*>(p))));
}
__attribute__((target("avx512f"))) inline __m512 wide16(float const* p, F32) noexcept { return _mm512_loadu_ps(p); }

template <class A, class B> __attribute__((target("avx512f"))) float l2Avx512T(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    __m512 s0 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(wide16(a + i, A{}), wide16(b + i, B{}));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    float s = _mm512_reduce_add_ps(s0);
    for (; i < n; i++) {
        float d = A::at(a, i) - B::at(b, i);
        s += d * d;
    }
    return s;
}

template <class A, class B> __attribute__((target("avx512f"))) float dotAvx512T(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    __m512 s0 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(wide16(a + i, A{}), wide16(b + i, B{}), s0);
    float s = _mm512_reduce_add_ps(s0);
    for (; i < n; i++) s += A::at(a, i) * B::at(b, i);
    return s;
}

// 8 elements widened to float32, AVX2 (+ F16C, which every AVX2 CPU has).
__attribute__((target("avx2,fma,f16c"))) inline __m256 wide8(float const* p, F32) noexcept { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 wide8(F16::T const* p, F16) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<__m128i const*>(p)));
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 wide8(BF16::T const* p, BF16) noexcept {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<__m128i const*>(p))), 16));
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 wide8(I8::T const* p, I8) noexcept {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<__m128i const*>(p))));
}

template <class A, class B> __attribute__((target("avx2,fma,f16c"))) float l2Avx2T(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    __m256 s0 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(wide8(a + i, A{}), wide8(b + i, B{}));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    float s = hsum256(s0);
    for (; i < n; i++) {
        float d = A::at(a, i) - B::at(b, i);
        s += d * d;
    }
    return s;
}

template <class A, class B> __attribute__((target("avx2,fma,f16c"))) float dotAvx2T(void const* va, void const* vb, std::size_t n) noexcept {
    auto a = static_cast<typename A::T const*>(va);
    auto b = static_cast<typename B::T const*>(vb);
    __m256 s0 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(wide8(a + i, A{}), wide8(b + i, B{}), s0);
    float s = hsum256(s0);
    for (; i < n; i++) s += A::at(a, i) * B::at(b, i);
    return s;
}
#endif

using KernelV = float (*)(void const*, void const*, std::size_t) noexcept;

// The four kernels a graph over rows of one element type needs: query (float32) to row, and row
// to row, for squared L2 and dot.
struct RowKernels {
    KernelV l2QM, dotQM, l2MM, dotMM;
};

template <class E> RowKernels rowKernelsFor() noexcept {
    std::string isa = kernels().isa;
#if defined(HG_X86)
    if (isa == "avx512") return {l2Avx512T<F32, E>, dotAvx512T<F32, E>, l2Avx512T<E, E>, dotAvx512T<E, E>};
    if (isa == "avx2") return {l2Avx2T<F32, E>, dotAvx2T<F32, E>, l2Avx2T<E, E>, dotAvx2T<E, E>};
#endif
    return {l2Typed<F32, E>, dotTyped<F32, E>, l2Typed<E, E>, dotTyped<E, E>};
}

// float32 rows keep the hand-tuned kernels above (masked tails on AVX-512).
float l2F32V(void const* a, void const* b, std::size_t n) noexcept { return l2sq(static_cast<float const*>(a), static_cast<float const*>(b), n); }
float dotF32V(void const* a, void const* b, std::size_t n) noexcept { return dot(static_cast<float const*>(a), static_cast<float const*>(b), n); }

RowKernels rowKernels(Elem e) noexcept {
    switch (e) {
    case Elem::f32: return {l2F32V, dotF32V, l2F32V, dotF32V};
    case Elem::f16: return rowKernelsFor<F16>();
    case Elem::bf16: return rowKernelsFor<BF16>();
    case Elem::i8: return rowKernelsFor<I8>();
    }
    return {l2F32V, dotF32V, l2F32V, dotF32V};
}

enum class Kind { l2, mips, cos };

// Distances over rows of the column, rows addressed by the graph's keys (row offsets).
//  - l2: squared L2 (Milvus's L2).
//  - mips: inner product indexed under the MIPS-to-L2 reduction, x' = [x, e(x)] with
//    e(x) = sqrt(maxNorm^2 - |x|^2) and queries q' = [q, 0]: |q'-x'|^2 orders rows exactly as
//    descending q.x, on a metric graph (usearch's own ip graph misses deep candidates).
//  - cos: 1 - cosine, with the rows' inverse norms precomputed (a zero row has distance 1).
// A query is prepared once (its inverse norm) and passed as a Query.
struct Query {
    float const* v;
    float inv;
};

struct RowMetric {
    char const* base = nullptr;
    std::size_t dim = 0;
    std::size_t rowBytes = 0;
    Kind kind = Kind::l2;
    RowKernels k{};
    float const* aux = nullptr;  // mips: e(x) per row; cos: 1/|x| per row

    void const* row(std::uint64_t key) const noexcept { return base + key * rowBytes; }
    float rowDot(std::uint64_t key) const noexcept { return k.dotMM(row(key), row(key), dim); }

    float between(std::uint64_t a, std::uint64_t b) const noexcept {
        switch (kind) {
        case Kind::l2: return k.l2MM(row(a), row(b), dim);
        case Kind::mips: {
            float e = aux[a] - aux[b];
            return k.l2MM(row(a), row(b), dim) + e * e;
        }
        case Kind::cos: return 1.0f - k.dotMM(row(a), row(b), dim) * aux[a] * aux[b];
        }
        return 0;
    }
    float toQuery(Query const& q, std::uint64_t b) const noexcept {
        switch (kind) {
        case Kind::l2: return k.l2QM(q.v, row(b), dim);
        case Kind::mips: return k.l2QM(q.v, row(b), dim) + aux[b] * aux[b];
        case Kind::cos: return 1.0f - k.dotQM(q.v, row(b), dim) * q.inv * aux[b];
        }
        return 0;
    }
    // The forms index_gt calls: new value to member, member to member.
    float operator()(std::uint64_t const& key, cref_t const& m) const noexcept { return between(key, uu::get_key(m)); }
    float operator()(std::uint64_t const& key, citer_t const& m) const noexcept { return between(key, m.key()); }
    float operator()(cref_t const& a, cref_t const& b) const noexcept { return between(uu::get_key(a), uu::get_key(b)); }
    float operator()(citer_t const& a, citer_t const& b) const noexcept { return between(a.key(), b.key()); }
    float operator()(Query const& q, cref_t const& m) const noexcept { return toQuery(q, uu::get_key(m)); }
    float operator()(Query const& q, citer_t const& m) const noexcept { return toQuery(q, m.key()); }
};

// Hands out index_gt's per-thread contexts (its search/add scratch) to whichever thread asks;
// index_gt fails rather than waits when two callers share one, so callers wait here instead.
class ContextPool {
  public:
    explicit ContextPool(std::size_t n) {
        for (std::size_t i = 0; i < n; i++) free_.push_back(n - 1 - i);
    }
    std::size_t acquire() {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !free_.empty(); });
        std::size_t id = free_.back();
        free_.pop_back();
        return id;
    }
    void release(std::size_t id) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            free_.push_back(id);
        }
        cv_.notify_one();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::size_t> free_;
};

// The process's search threads. Deliberately never destroyed: joining at static destruction
// would race with a process exiting while searches run, and the threads hold no resources that
// outlive the process anyway.
class SearchPool {
  public:
    static SearchPool& get(std::size_t threads) {
        static SearchPool* pool = new SearchPool(threads);
        return *pool;
    }
    std::size_t threads() const { return threads_; }
    void submit(std::function<void()> task) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            tasks_.push_back(std::move(task));
        }
        cv_.notify_one();
    }

  private:
    explicit SearchPool(std::size_t threads) : threads_(threads) {
        for (std::size_t i = 0; i < threads_; i++) std::thread([this] { run(); }).detach();
    }
    void run() {
        for (;;) {
            std::function<void()> task;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [&] { return !tasks_.empty(); });
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task();
        }
    }
    std::size_t threads_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
};

std::size_t defaultThreads() { return std::max<unsigned>(1, std::thread::hardware_concurrency()); }

// Search threads for the process; HARRIER_SEARCH_THREADS overrides (read once, at first use).
std::size_t poolThreads() {
    char const* env = std::getenv("HARRIER_SEARCH_THREADS");
    if (env != nullptr) {
        long n = std::strtol(env, nullptr, 10);
        if (n > 0 && n <= 1024) return static_cast<std::size_t>(n);
    }
    return defaultThreads();
}

struct Filter {
    std::uint32_t const* words = nullptr;
    std::uint64_t size = 0;
    bool operator()(cref_t const& m) const noexcept {
        std::uint64_t k = uu::get_key(m);
        return k < size && ((words[k >> 5] >> (k & 31)) & 1u) != 0;
    }
};

// node-addon-api's As<Uint32Array>() does not check the element type: a Uint8Array passed where
// words or rows are expected would be read 4x past its end.
template <typename T>
T typedArg(Napi::Value v, napi_typedarray_type type, char const* what) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw Napi::TypeError::New(v.Env(), what);
    return v.As<T>();
}

class ColumnGraph;
struct Job;
struct Completions;

// Settles a finished search's promise on the JS thread (env is null while the env shuts down).
void completeJob(Napi::Env env, Napi::Function, std::nullptr_t*, Job* job);
using CompletionQueue = Napi::TypedThreadSafeFunction<std::nullptr_t, Job, completeJob>;

// One per JS environment: every search of that environment completes through this queue.
// Creating a thread-safe function per search cost about 0.1 ms (a libuv handle opened and
// closed each time); this one is referenced only while searches are pending, so an idle
// process can still exit.
struct Completions {
    CompletionQueue queue;
    std::size_t pending = 0;  // touched on the JS thread only
    // Jobs whose pool-thread part has not finished. The env's cleanup hook waits for 0 before
    // finalizers free the graphs, this object and the isolate's ArrayBuffers they read.
    std::mutex mu;
    std::condition_variable idle;
    std::size_t running = 0;
    void started() {
        std::lock_guard<std::mutex> lock(mu);
        running++;
    }
    // Last touch of `this` by a pool thread; notified under the lock so the waiter cannot free
    // the object between the decrement and the notify.
    void finished() {
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) idle.notify_all();
    }
    void waitIdle() {
        std::unique_lock<std::mutex> lock(mu);
        idle.wait(lock, [&] { return running == 0; });
    }
};

// Hands a finished job to the JS thread; the job must not be touched after BlockingCall.
void deliver(Job* job, Completions* c) {
    (void)c->queue.BlockingCall(job);
    c->finished();
}

// One searchAsync call: its queries, where the results go, and the JS objects it reads.
struct Job {
    ColumnGraph* graph = nullptr;
    Completions* completions = nullptr;
    float const* queries;
    std::size_t nq;
    std::size_t wanted;
    Filter filter;
    bool filtered;
    std::vector<std::uint32_t> keys;
    std::vector<std::int32_t> counts;
    std::string error;
    std::mutex errMu;
    std::atomic<std::size_t> remaining{0};
    // JS objects the job reads, kept alive until it completes (touched on the JS thread only).
    Napi::ObjectReference self, q, words, column, valid;
    // Exact scans (exactSearchAsync): the rows, and how they are split among the threads.
    float const* data = nullptr;
    std::size_t dim = 0;
    std::size_t rows = 0;
    std::uint8_t const* validRows = nullptr;
    int exactKind = 0;  // 0 l2, 1 ip, 2 cos
    std::size_t parts = 1;
    // Rows kept: lo <= key < hi, keys being distances (l2) or negated similarities (ip, cos),
    // already widened by the caller's rounding margin.
    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    std::unique_ptr<Napi::Promise::Deferred> deferred;
};

class ColumnGraph : public Napi::ObjectWrap<ColumnGraph> {
  public:
    static Napi::Function Init(Napi::Env env) {
        return DefineClass(env, "ColumnGraph",
                           {
                               InstanceMethod("add", &ColumnGraph::Add),
                               InstanceMethod("save", &ColumnGraph::Save),
                               InstanceMethod("load", &ColumnGraph::Load),
                               InstanceMethod("size", &ColumnGraph::Size),
                               InstanceMethod("memoryBytes", &ColumnGraph::MemoryBytes),
                               InstanceMethod("search", &ColumnGraph::Search),
                               InstanceMethod("searchAsync", &ColumnGraph::SearchAsync),
                           });
    }

    // new ColumnGraph(column: Float32Array, dim, kind: 'l2'|'mips'|'cos', M, efConstruction,
    //                 rows: Uint32Array | null (the rows to index; null = all), addThreads)
    explicit ColumnGraph(Napi::CallbackInfo const& info) : Napi::ObjectWrap<ColumnGraph>(info) {
        Napi::Env env = info.Env();
        if (info.Length() < 7 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsString() ||
            !info[3].IsNumber() || !info[4].IsNumber() || !info[6].IsNumber()) {
            throw Napi::TypeError::New(env, "ColumnGraph(column, dim, kind, M, efConstruction, rows, threads)");
        }
        Napi::TypedArray col = info[0].As<Napi::TypedArray>();
        // Element type of the column: float32 by default; 'f16' / 'bf16' over a Uint16Array, 'i8'
        // over an Int8Array.
        std::string elem = info.Length() > 7 && info[7].IsString() ? info[7].As<Napi::String>().Utf8Value() : "f32";
        Elem e = elem == "f32" ? Elem::f32 : elem == "f16" ? Elem::f16 : elem == "bf16" ? Elem::bf16 : elem == "i8" ? Elem::i8 : Elem::f32;
        napi_typedarray_type want = e == Elem::f32 ? napi_float32_array : e == Elem::i8 ? napi_int8_array : napi_uint16_array;
        if ((elem != "f32" && elem != "f16" && elem != "bf16" && elem != "i8") || col.TypedArrayType() != want)
            throw Napi::TypeError::New(env, "column must be a Float32Array (f32), Uint16Array (f16, bf16) or Int8Array (i8)");
        column_ = Napi::Persistent(info[0].As<Napi::Object>());
        dim_ = info[1].As<Napi::Number>().Uint32Value();
        if (dim_ == 0 || col.ElementLength() % dim_ != 0) throw Napi::RangeError::New(env, "column length is not a multiple of dim");
        rows_ = col.ElementLength() / dim_;
        std::string kind = info[2].As<Napi::String>().Utf8Value();
        if (kind == "l2") metric_.kind = Kind::l2;
        else if (kind == "mips") metric_.kind = Kind::mips;
        else if (kind == "cos") metric_.kind = Kind::cos;
        else throw Napi::TypeError::New(env, "kind must be l2, mips or cos");
        M_ = info[3].As<Napi::Number>().Uint32Value();
        // usearch would quietly replace M = 0 with its default, and later loads would disagree.
        if (M_ < 2 || M_ > 2048) throw Napi::RangeError::New(env, "M must be in [2, 2048]");
        std::size_t M = M_;
        efConstruction_ = std::max<std::size_t>(1, info[4].As<Napi::Number>().Uint32Value());
        if (info[5].IsTypedArray()) {
            auto rows = typedArg<Napi::Uint32Array>(info[5], napi_uint32_array, "rows must be a Uint32Array");
            keys_.assign(rows.Data(), rows.Data() + rows.ElementLength());
            for (auto k : keys_)
                if (k >= rows_) throw Napi::RangeError::New(env, "row out of range");
        } else {
            keys_.resize(rows_);
            for (std::size_t i = 0; i < rows_; i++) keys_[i] = static_cast<std::uint32_t>(i);
        }
        std::size_t threads = std::max<std::size_t>(1, info[6].As<Napi::Number>().Uint32Value());
        // The element data itself (offset included), whatever the buffer: ArrayBuffer or shared.
        void* data = nullptr;
        if (napi_get_typedarray_info(env, col, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok)
            throw Napi::TypeError::New(env, "column is not a readable typed array");
        metric_.base = static_cast<char const*>(data);
        metric_.dim = dim_;
        metric_.rowBytes = dim_ * elemBytes(e);
        metric_.k = rowKernels(e);
        prepareAux();
        uu::index_config_t config(M, 2 * M);
        if (auto err = config.validate()) throw Napi::Error::New(env, std::string("graph config: ") + err.release());
        graph_ = std::make_unique<graph_t>(config);
        reserve(keys_.size(), threads);
    }

  private:
    // Contexts for `threads` builders and for every search thread plus the JS thread.
    void reserve(std::size_t members, std::size_t threads) {
        std::size_t contexts = std::max(threads, SearchPool::get(poolThreads()).threads() + 1);
        if (!graph_->reserve(uu::index_limits_t(std::max<std::size_t>(members, 1), contexts)))
            throw std::runtime_error("out of memory reserving the graph");
        contexts_ = std::make_unique<ContextPool>(contexts);
    }

    void prepareAux() {
        aux_.clear();
        if (metric_.kind == Kind::l2) {
            metric_.aux = nullptr;
            return;
        }
        aux_.assign(rows_, 0.0f);
        if (metric_.kind == Kind::cos) {
            for (std::size_t r = 0; r < rows_; r++) {
                float n2 = metric_.rowDot(r);
                aux_[r] = n2 > 0 ? 1.0f / std::sqrt(n2) : 0.0f;
            }
        } else {
            float max2 = 0;
            for (auto k : keys_) max2 = std::max(max2, metric_.rowDot(k));
            for (auto k : keys_) aux_[k] = std::sqrt(std::max(0.0f, max2 - metric_.rowDot(k)));
        }
        metric_.aux = aux_.data();
    }

    // add(from, to, threads): indexes keys_[from, to) with `threads` native threads. Synchronous:
    // builds run in a worker thread already.
    Napi::Value Add(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        std::size_t from = info[0].As<Napi::Number>().Uint32Value();
        std::size_t to = std::min<std::size_t>(info[1].As<Napi::Number>().Uint32Value(), keys_.size());
        std::size_t threads = std::max<std::size_t>(1, info[2].As<Napi::Number>().Uint32Value());
        if (from > to) throw Napi::RangeError::New(env, "bad range");
        if (inflight_ != 0) throw Napi::Error::New(env, "add while searches are pending");
        std::atomic<bool> failed{false};
        std::string error;
        std::mutex errMu;
        std::atomic<std::size_t> next{from};
        auto work = [&] {
            std::size_t ctx = contexts_->acquire();
            uu::index_update_config_t config;
            config.expansion = std::min(efConstruction_, std::max<std::size_t>(1, keys_.size()));
            config.thread = ctx;
            for (std::size_t i; !failed.load() && (i = next.fetch_add(1)) < to;) {
                std::uint64_t key = keys_[i];
                auto res = graph_->add(key, key, metric_, config);
                if (!res) {
                    // Always release: an unreleased usearch error_t throws from its destructor.
                    char const* msg = res.error.release();
                    std::lock_guard<std::mutex> lock(errMu);
                    if (!failed.exchange(true)) error = msg;
                }
            }
            contexts_->release(ctx);
        };
        std::size_t n = std::min(threads, to - from);
        std::vector<std::thread> pool;
        for (std::size_t t = 1; t < n; t++) pool.emplace_back(work);
        if (n > 0) work();
        for (auto& t : pool) t.join();
        if (failed.load()) throw Napi::Error::New(env, "graph add failed: " + error);
        return env.Undefined();
    }

    Napi::Value Save(Napi::CallbackInfo const& info) {
        std::vector<char> bytes;
        auto res = graph_->save_to_stream([&](void const* p, std::size_t n) {
            bytes.insert(bytes.end(), static_cast<char const*>(p), static_cast<char const*>(p) + n);
            return true;
        });
        if (!res) throw Napi::Error::New(info.Env(), std::string("graph save failed: ") + res.error.release());
        return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
    }

    // load(bytes): replaces the graph with save()'s bytes. Every key must be a row this graph was
    // constructed to index, so a damaged file cannot make distances read outside the column.
    Napi::Value Load(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "load(bytes: Uint8Array)");
        auto buf = info[0].As<Napi::Uint8Array>();
        std::uint8_t const* p = buf.Data();
        std::size_t left = buf.ByteLength();
        if (inflight_ != 0) throw Napi::Error::New(env, "load while searches are pending");
        if (char const* bad = checkStream(p, left)) throw Napi::Error::New(env, std::string("graph load failed: ") + bad);
        // Loaded aside and swapped in only once every check passed: a refused file must not
        // leave its keys in the graph this object searches.
        auto fresh = std::make_unique<graph_t>(uu::index_config_t(M_, 2 * M_));
        std::size_t contexts = SearchPool::get(poolThreads()).threads() + 1;
        if (!fresh->reserve(uu::index_limits_t(std::max<std::size_t>(keys_.size(), 1), contexts)))
            throw Napi::Error::New(env, "graph load failed: out of memory");
        auto res = fresh->load_from_stream([&](void* out, std::size_t n) {
            if (n > left) return false;
            std::memcpy(out, p, n);
            p += n;
            left -= n;
            return true;
        });
        if (!res) throw Napi::Error::New(env, std::string("graph load failed: ") + res.error.release());
        if (left != 0 || fresh->size() != keys_.size()) throw Napi::Error::New(env, "graph load failed: size disagrees");
        std::vector<std::uint8_t> seen(rows_, 0);
        for (auto k : keys_) seen[k] = 1;
        for (std::size_t s = 0; s < fresh->size(); s++) {
            std::uint64_t k = uu::get_key(fresh->at(static_cast<std::uint32_t>(s)));
            if (k >= rows_ || seen[k] != 1) throw Napi::Error::New(env, "graph load failed: unexpected key");
            seen[k] = 2;
        }
        graph_ = std::move(fresh);
        contexts_ = std::make_unique<ContextPool>(contexts);
        return env.Undefined();
    }

    // index_gt trusts the stream's shape: a short stream makes it free nodes it never allocated.
    // So the header, the levels and the exact length they imply are checked first.
    char const* checkStream(std::uint8_t const* p, std::size_t len) const {
        using header_t = uu::index_serialized_header_t;
        using level_t = std::int16_t;  // index_gt::level_t (private there)
        header_t h;
        if (len < sizeof(h)) return "truncated header";
        std::memcpy(&h, p, sizeof(h));
        if (h.size != keys_.size()) return "size disagrees";
        if (h.connectivity != M_ || h.connectivity_base != 2 * M_) return "connectivity disagrees";
        if (h.size == 0) return len == sizeof(h) ? nullptr : "trailing bytes";
        if (h.entry_slot >= h.size || h.max_level > 64) return "bad header";
        if ((len - sizeof(h)) / sizeof(level_t) < h.size) return "truncated levels";
        std::size_t need = sizeof(h) + h.size * sizeof(level_t);
        bool top = false;
        for (std::size_t i = 0; i < h.size; i++) {
            level_t level;
            std::memcpy(&level, p + sizeof(h) + i * sizeof(level_t), sizeof(level));
            if (level < 0 || std::uint64_t(level) > h.max_level) return "bad level";
            top = top || std::uint64_t(level) == h.max_level;
            need += graph_->memory_usage_per_node(level);
            if (need > len) return "truncated nodes";
        }
        if (!top) return "bad header";
        if (need != len) return "trailing bytes";
        // Node contents: index_gt follows neighbour slots and levels without bounds checks.
        std::uint8_t const* levels = p + sizeof(h);
        auto levelOf = [&](std::uint64_t slot) {
            level_t l;
            std::memcpy(&l, levels + slot * sizeof(level_t), sizeof(l));
            return l;
        };
        if (std::uint64_t(levelOf(h.entry_slot)) != h.max_level) return "bad entry";
        std::uint8_t const* node = p + sizeof(h) + h.size * sizeof(level_t);
        for (std::uint64_t i = 0; i < h.size; i++) {
            level_t level = levelOf(i), own;
            std::memcpy(&own, node + sizeof(std::uint64_t), sizeof(own));
            if (own != level) return "bad node level";
            std::uint8_t const* list = node + sizeof(std::uint64_t) + sizeof(level_t);
            for (level_t l = 0; l <= level; l++) {
                std::size_t cap = l == 0 ? 2 * M_ : M_;
                std::uint32_t count;
                std::memcpy(&count, list, sizeof(count));
                if (count > cap) return "bad neighbour count";
                for (std::uint32_t j = 0; j < count; j++) {
                    std::uint32_t slot;
                    std::memcpy(&slot, list + 4 + 4 * j, sizeof(slot));
                    if (slot >= h.size || levelOf(slot) < l) return "bad neighbour";
                }
                list += 4 + 4 * cap;
            }
            node += graph_->memory_usage_per_node(level);
        }
        return nullptr;
    }

    Napi::Value Size(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), double(graph_->size())); }

    Napi::Value MemoryBytes(Napi::CallbackInfo const& info) {
        return Napi::Number::New(info.Env(), double(graph_->memory_usage() + aux_.size() * sizeof(float) + keys_.size() * 4));
    }


    void runQueries(Job& job, std::size_t from, std::size_t to) {
        std::size_t ctx = contexts_->acquire();
        uu::index_search_config_t config;
        config.thread = ctx;
        config.expansion = job.wanted;
        for (std::size_t i = from; i < to; i++) {
            Query query{job.queries + i * dim_, 0.0f};
            if (metric_.kind == Kind::cos) {
                float n2 = dot(query.v, query.v, dim_);
                query.inv = n2 > 0 ? 1.0f / std::sqrt(n2) : 0.0f;
            }
            auto res = job.filtered ? graph_->search(query, job.wanted, metric_, config, job.filter)
                                    : graph_->search(query, job.wanted, metric_, config);
            if (!res) {
                char const* msg = res.error.release();
                std::lock_guard<std::mutex> lock(job.errMu);
                if (job.error.empty()) job.error = msg;
                job.counts[i] = 0;
                continue;
            }
            std::size_t n = res.count;
            std::uint32_t* out = job.keys.data() + i * job.wanted;
            for (std::size_t j = 0; j < n; j++) out[j] = static_cast<std::uint32_t>(uu::get_key(res[j].member));
            job.counts[i] = static_cast<std::int32_t>(n);
        }
        contexts_->release(ctx);
    }

    // Parses (queries: Float32Array, nq, wanted, filterWords: Uint32Array | null, filterSize).
    std::unique_ptr<Job> makeJob(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber())
            throw Napi::TypeError::New(env, "search(queries, nq, wanted, filterWords, filterSize)");
        auto q = info[0].As<Napi::TypedArray>();
        if (q.TypedArrayType() != napi_float32_array) throw Napi::TypeError::New(env, "queries must be a Float32Array");
        auto qf = info[0].As<Napi::Float32Array>();
        auto job = std::make_unique<Job>();
        job->graph = this;
        job->nq = info[1].As<Napi::Number>().Uint32Value();
        job->wanted = std::max<std::size_t>(1, info[2].As<Napi::Number>().Uint32Value());
        if (job->wanted > std::max<std::size_t>(1, keys_.size())) throw Napi::RangeError::New(env, "wanted exceeds the indexed rows");
        if (qf.ElementLength() < job->nq * dim_) throw Napi::RangeError::New(env, "queries shorter than nq rows");
        job->queries = qf.Data();
        job->filtered = info[3].IsTypedArray();
        if (job->filtered) {
            auto w = typedArg<Napi::Uint32Array>(info[3], napi_uint32_array, "filterWords must be a Uint32Array");
            job->filter.words = w.Data();
            job->filter.size = std::min<std::uint64_t>(info[4].As<Napi::Number>().Int64Value(), std::uint64_t(w.ElementLength()) * 32);
        }
        job->keys.assign(job->nq * job->wanted, 0);
        job->counts.assign(job->nq, 0);
        return job;
    }

  public:
    std::size_t inflight_ = 0;  // searchAsync jobs not yet completed (JS thread only)
    static Napi::Object result(Napi::Env env, Job& job) {
        auto keys = Napi::Uint32Array::New(env, job.keys.size());
        std::memcpy(keys.Data(), job.keys.data(), job.keys.size() * 4);
        auto counts = Napi::Int32Array::New(env, job.counts.size());
        std::memcpy(counts.Data(), job.counts.data(), job.counts.size() * 4);
        auto out = Napi::Object::New(env);
        out.Set("keys", keys);
        out.Set("counts", counts);
        out.Set("parts", Napi::Number::New(env, double(job.parts)));
        return out;
    }

  private:
    // search(...): on the calling thread; for small work where a thread hop costs more.
    Napi::Value Search(Napi::CallbackInfo const& info) {
        auto job = makeJob(info);
        runQueries(*job, 0, job->nq);
        if (!job->error.empty()) throw Napi::Error::New(info.Env(), "graph search failed: " + job->error);
        return result(info.Env(), *job);
    }

    // searchAsync(...): Promise of the same result, the queries split over the search threads.
    Napi::Value SearchAsync(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        std::unique_ptr<Job> owned = makeJob(info);
        Job* job = owned.release();
        job->deferred = std::make_unique<Napi::Promise::Deferred>(env);
        Napi::Promise promise = job->deferred->Promise();
        job->self = Napi::Persistent(Value());
        job->q = Napi::Persistent(info[0].As<Napi::Object>());
        if (job->filtered) job->words = Napi::Persistent(info[3].As<Napi::Object>());
        job->completions = env.GetInstanceData<Completions>();
        if (job->completions->pending++ == 0) job->completions->queue.Ref(env);
        job->completions->started();
        inflight_++;
        SearchPool& pool = SearchPool::get(poolThreads());
        std::size_t parts = std::max<std::size_t>(1, std::min(pool.threads(), job->nq));
        std::size_t per = (job->nq + parts - 1) / std::max<std::size_t>(parts, 1);
        parts = job->nq == 0 ? 1 : (job->nq + per - 1) / per;
        job->remaining.store(parts);
        for (std::size_t p = 0; p < parts; p++) {
            std::size_t from = p * per, to = std::min(job->nq, from + per);
            pool.submit([job, from, to] {
                job->graph->runQueries(*job, from, to);
                if (job->remaining.fetch_sub(1) != 1) return;
                // A refused call means the environment is shutting down: the job is left as it
                // is, since releasing its JS references off the JS thread is not allowed.
                deliver(job, job->completions);
            });
        }
        return promise;
    }

    Napi::ObjectReference column_;
    std::size_t dim_ = 0;
    std::size_t rows_ = 0;
    std::size_t efConstruction_ = 0;
    std::size_t M_ = 0;
    RowMetric metric_;
    std::vector<float> aux_;
    std::vector<std::uint32_t> keys_;
    std::unique_ptr<graph_t> graph_;
    std::unique_ptr<ContextPool> contexts_;
};

// trimMemory(): hands the allocator's free pages back to the OS (glibc's malloc_trim). Loading a
// segment reads files into buffers that are freed right after decoding; glibc keeps such memory in
// its arenas (its mmap threshold grows to 32 MiB after the first large free), so without a trim a
// server's RSS stays above what it holds. Returns whether anything could be trimmed.
Napi::Value TrimMemory(Napi::CallbackInfo const& info) {
#if defined(__GLIBC__)
    return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
}

// Scans rows [from, to) for every query of an exact job, keeping each query's `wanted` nearest
// (ties to the lower row) in part `part` of the output. Distances only rank: the caller re-scores
// the candidates with its own kernels, so summation order never changes a reported score.
void runExact(Job& j, std::size_t part, std::size_t from, std::size_t to) {
    using Entry = std::pair<float, std::uint32_t>;
    std::vector<Entry> heap;
    heap.reserve(j.wanted + 1);
    std::vector<float> inv;
    if (j.exactKind == 2) {
        inv.resize(to - from);
        for (std::size_t r = from; r < to; r++) {
            float n2 = dot(j.data + r * j.dim, j.data + r * j.dim, j.dim);
            inv[r - from] = n2 > 0 ? 1.0f / std::sqrt(n2) : 0.0f;
        }
    }
    for (std::size_t qi = 0; qi < j.nq; qi++) {
        float const* q = j.queries + qi * j.dim;
        heap.clear();
        float qinv = 0;
        if (j.exactKind == 2) {
            float n2 = dot(q, q, j.dim);
            qinv = n2 > 0 ? 1.0f / std::sqrt(n2) : 0.0f;
        }
        for (std::size_t r = from; r < to; r++) {
            if (j.validRows != nullptr && j.validRows[r] == 0) continue;
            if (j.filtered && !(r < j.filter.size && ((j.filter.words[r >> 5] >> (r & 31)) & 1u) != 0)) continue;
            float const* x = j.data + r * j.dim;
            float d = j.exactKind == 0   ? l2sq(q, x, j.dim)
                      : j.exactKind == 1 ? -dot(q, x, j.dim)
                                         : -dot(q, x, j.dim) * inv[r - from] * qinv;
            // Outside the bounds, an overflow to infinity, or NaN: not a candidate.
            if (!(d >= j.lo && d < j.hi)) continue;
            Entry e{d, static_cast<std::uint32_t>(r)};
            if (heap.size() < j.wanted) {
                heap.push_back(e);
                std::push_heap(heap.begin(), heap.end());
            } else if (e < heap.front()) {
                std::pop_heap(heap.begin(), heap.end());
                heap.back() = e;
                std::push_heap(heap.begin(), heap.end());
            }
        }
        std::sort_heap(heap.begin(), heap.end());
        std::size_t slot = part * j.nq + qi;
        std::uint32_t* out = j.keys.data() + slot * j.wanted;
        for (std::size_t i = 0; i < heap.size(); i++) out[i] = heap[i].second;
        j.counts[slot] = static_cast<std::int32_t>(heap.size());
    }
}

// exactSearchAsync(column: Float32Array, dim, kind: 'l2'|'ip'|'cos', valid: Uint8Array | null,
//                  queries: Float32Array, nq, wanted, filterWords: Uint32Array | null, filterSize,
//                  lo = -Infinity, hi = Infinity)
// Keys are squared L2, -dot (ip) or -cosine (cos); only rows with lo <= key < hi are candidates.
// Promise of {keys, counts, parts}: for part p and query q, counts[p*nq+q] candidate rows at
// keys[(p*nq+q)*wanted ...], nearest first. Rows are split into parts scanned side by side.
Napi::Value ExactSearchAsync(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 9 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsString() || !info[4].IsTypedArray() ||
        !info[5].IsNumber() || !info[6].IsNumber())
        throw Napi::TypeError::New(env, "exactSearchAsync(column, dim, kind, valid, queries, nq, wanted, filterWords, filterSize)");
    if (info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw Napi::TypeError::New(env, "column and queries must be Float32Arrays");
    auto col = info[0].As<Napi::Float32Array>();
    auto qf = info[4].As<Napi::Float32Array>();
    auto job = std::make_unique<Job>();
    job->dim = info[1].As<Napi::Number>().Uint32Value();
    if (job->dim == 0 || col.ElementLength() % job->dim != 0) throw Napi::RangeError::New(env, "column length is not a multiple of dim");
    job->rows = col.ElementLength() / job->dim;
    std::string kind = info[2].As<Napi::String>().Utf8Value();
    job->exactKind = kind == "l2" ? 0 : kind == "ip" ? 1 : kind == "cos" ? 2 : -1;
    if (job->exactKind < 0) throw Napi::TypeError::New(env, "kind must be l2, ip or cos");
    if (info[3].IsTypedArray()) {
        auto v = typedArg<Napi::Uint8Array>(info[3], napi_uint8_array, "valid must be a Uint8Array");
        if (v.ElementLength() < job->rows) throw Napi::RangeError::New(env, "valid shorter than the column");
        job->validRows = v.Data();
        job->valid = Napi::Persistent(info[3].As<Napi::Object>());
    }
    job->nq = info[5].As<Napi::Number>().Uint32Value();
    job->wanted = std::max<std::size_t>(1, info[6].As<Napi::Number>().Uint32Value());
    if (job->wanted > std::max<std::size_t>(1, job->rows)) throw Napi::RangeError::New(env, "wanted exceeds the rows");
    if (qf.ElementLength() < job->nq * job->dim) throw Napi::RangeError::New(env, "queries shorter than nq rows");
    job->queries = qf.Data();
    job->data = col.Data();
    if (info.Length() > 9 && info[9].IsNumber()) job->lo = info[9].As<Napi::Number>().FloatValue();
    if (info.Length() > 10 && info[10].IsNumber()) job->hi = info[10].As<Napi::Number>().FloatValue();
    job->filtered = info[7].IsTypedArray();
    if (job->filtered) {
        auto w = typedArg<Napi::Uint32Array>(info[7], napi_uint32_array, "filterWords must be a Uint32Array");
        job->filter.words = w.Data();
        job->filter.size = std::min<std::uint64_t>(info[8].As<Napi::Number>().Int64Value(), std::uint64_t(w.ElementLength()) * 32);
        job->words = Napi::Persistent(info[7].As<Napi::Object>());
    }
    SearchPool& pool = SearchPool::get(poolThreads());
    // Parts of at least 4,096 rows: below that the hop to another thread costs more than it saves.
    job->parts = std::max<std::size_t>(1, std::min(pool.threads(), job->rows / 4096));
    job->keys.assign(job->parts * job->nq * job->wanted, 0);
    job->counts.assign(job->parts * job->nq, 0);
    job->column = Napi::Persistent(info[0].As<Napi::Object>());
    job->q = Napi::Persistent(info[4].As<Napi::Object>());
    job->deferred = std::make_unique<Napi::Promise::Deferred>(env);
    Napi::Promise promise = job->deferred->Promise();
    job->completions = env.GetInstanceData<Completions>();
    if (job->completions->pending++ == 0) job->completions->queue.Ref(env);
    job->completions->started();
    Job* j = job.release();
    j->remaining.store(j->parts);
    std::size_t per = (j->rows + j->parts - 1) / j->parts;
    for (std::size_t p = 0; p < j->parts; p++) {
        std::size_t from = std::min(j->rows, p * per), to = std::min(j->rows, from + per);
        pool.submit([j, p, from, to] {
            runExact(*j, p, from, to);
            if (j->remaining.fetch_sub(1) != 1) return;
            deliver(j, j->completions);
        });
    }
    return promise;
}

void completeJob(Napi::Env env, Napi::Function, std::nullptr_t*, Job* j) {
    std::unique_ptr<Job> owned(j);
    if (env == nullptr) return;
    if (!j->error.empty())
        j->deferred->Reject(Napi::Error::New(env, "graph search failed: " + j->error).Value());
    else
        j->deferred->Resolve(ColumnGraph::result(env, *j));
    j->self.Reset();
    j->q.Reset();
    j->words.Reset();
    j->column.Reset();
    j->valid.Reset();
    if (j->graph != nullptr) j->graph->inflight_--;
    if (--j->completions->pending == 0) j->completions->queue.Unref(env);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    auto* completions = new Completions();
    completions->queue = CompletionQueue::New(env, "harrier-graph-search", 0, 1);
    completions->queue.Unref(env);
    env.SetInstanceData<Completions>(completions);
    // Registered after the queue, so it runs before the queue closes and before the finalizers
    // that free graphs, this Completions and the isolate's ArrayBuffers (hooks run in reverse).
    env.AddCleanupHook([completions] { completions->waitIdle(); });
    exports.Set("ColumnGraph", ColumnGraph::Init(env));
    exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
    exports.Set("exactSearchAsync", Napi::Function::New(env, ExactSearchAsync));
    exports.Set("searchThreads", Napi::Number::New(env, double(SearchPool::get(poolThreads()).threads())));
    exports.Set("isa", Napi::String::New(env, kernels().isa));
    return exports;
}

}  // namespace

NODE_API_MODULE(harrier_graph, Init)
