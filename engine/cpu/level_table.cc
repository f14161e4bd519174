// This level's table of entry points (kernel_table.h), read by engine/cpu/dispatch.cc.
#include "kernel_table.h"
#include "level.h"

namespace natten::cpu::NATTEN_SIMD {

// The level's own definitions (in the other SIMD sources), declared with the types of engine.h's.
#define NATTEN_CPU_DECLARE(name) decltype(::natten::cpu::name) name;
NATTEN_CPU_ENTRY_POINTS(NATTEN_CPU_DECLARE)
#undef NATTEN_CPU_DECLARE

#define NATTEN_CPU_ADDRESS(name) &name,
extern const KernelTable kTable = {NATTEN_CPU_ENTRY_POINTS(NATTEN_CPU_ADDRESS)};
#undef NATTEN_CPU_ADDRESS

}  // namespace natten::cpu::NATTEN_SIMD
