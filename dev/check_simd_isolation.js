#!/usr/bin/env node
// Checks the portability of a built addon: no code that runs outside the CPU engine's avx512 / avx2
// levels uses instructions above the x86-64 baseline. Disassembles the addon (objdump), rates each
// function by the highest instruction set it uses (AVX-512: zmm or mask registers; AVX: ymm or any
// VEX instruction) and by its level namespace (natten::cpu::avx512::, ::avx2::, else baseline). A function
// above its namespace's level passes only when it is a compiler-made local clone ("[clone ...]") whose
// callers are all of a level that allows it (a clone is private to the level's translation unit).
//   node dev/check_simd_isolation.js [build/Release/natten.node]   (x86-64; exit 1 on a violation)
'use strict';
const { execFileSync } = require('child_process');

const file = process.argv[2] || 'build/Release/natten.node';
const RANK = { baseline: 0, avx2: 1, avx512: 2 };

function levelOf(name) {
  if (name.includes('::avx512::')) return 'avx512';
  if (name.includes('::avx2::')) return 'avx2';
  return 'baseline';
}

/** Functions: address -> {name, isa, targets (addresses called or jumped to outside the function)}. */
function disassemble() {
  const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', '-C', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const fns = new Map();
  let cur = null;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+) <(.*)>:$/.exec(line);
    if (head) {
      cur = { addr: head[1].replace(/^0+/, ''), name: head[2], isa: 'baseline', targets: new Set() };
      fns.set(cur.addr, cur);
      continue;
    }
    if (!cur) continue;
    if (/%zmm|%k[0-7]\b/.test(line)) cur.isa = 'avx512';
    else if (cur.isa === 'baseline' && (/%ymm/.test(line) || /:\s+v[a-z]/.test(line))) cur.isa = 'avx2';
    const branch = /:\s+(?:call|jmp)\s+([0-9a-f]+) </.exec(line);
    if (branch) cur.targets.add(branch[1]);
  }
  return fns;
}

const fns = disassemble();
const callers = new Map();
for (const f of fns.values())
  for (const t of f.targets) if (t !== f.addr) (callers.get(t) || callers.set(t, []).get(t)).push(f);

const bad = [];
let above = 0;
for (const f of fns.values()) {
  if (RANK[f.isa] <= RANK[levelOf(f.name)]) continue;
  above++;
  const from = callers.get(f.addr) || [];
  const ok = f.name.includes('[clone') && from.length > 0 && from.every((c) => RANK[levelOf(c.name)] >= RANK[f.isa]);
  if (!ok)
    bad.push(
      `${f.isa} code in ${f.name.slice(0, 160)} (callers: ${from.map((c) => levelOf(c.name)).join(', ') || 'none'})`,
    );
}
const count = (l) => [...fns.values()].filter((f) => levelOf(f.name) === l).length;
console.log(
  `${file}: ${fns.size} functions (avx512 level ${count('avx512')}, avx2 level ${count('avx2')}); ` +
    `${above} above their level, of which ${bad.length} outside a clone private to a level`,
);
for (const b of bad) console.log(`  ${b}`);
process.exit(bad.length ? 1 : 0);
