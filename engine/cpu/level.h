// The SIMD level of a translation unit of the engine. The engine's SIMD sources (NATTEN_CPU_SIMD_SOURCES
// in CMakeLists.txt) are compiled once per level (avx512, avx2, baseline), each time with NATTEN_SIMD
// naming the level and that level's -march; their code lives in natten::cpu::NATTEN_SIMD, so the copies
// never share a symbol and engine/cpu/dispatch.cc picks one copy at run time.
#pragma once

#ifndef NATTEN_SIMD
#error "NATTEN_SIMD (the SIMD level namespace) must be defined: compile this file through NATTEN_CPU_SIMD_SOURCES"
#endif
