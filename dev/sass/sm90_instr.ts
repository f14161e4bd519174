/**
 * Decoding of sm_90 machine instructions as far as a static schedule needs: the opcode (its low 12 bits, named
 * from a table learned from `cuobjdump -sass` listings: learn_opcodes.ts), the register fields, the control bits
 * ptxas sets for the scheduler, and branch targets. Two 64-bit words per instruction, little-endian:
 *   word 0 bits 0-11 opcode, 16-23 Rd, 24-31 Ra, 32-39 Rb (register forms), 47 WARPGROUP: DEPBAR (1) or ARRIVE;
 *   word 1 bits 41-44 stall cycles before the next instruction may issue, 45 yield, 46-48 the scoreboard this
 *   instruction sets on write (7: none), 49-51 on read, 52-57 the scoreboards it waits for;
 *   BRA: byte offset from the next instruction = (signed word 0 bits 32-63) * 256 + (word 0 bits 16-23) * 4.
 */

/** One decoded instruction. */
export interface Instr {
  /** Byte offset in the kernel's .text. */
  pc: number;
  /** Mnemonic without modifiers ('?xyz' for an opcode the table lacks); WARPGROUP split into WG.ARRIVE / WG.DEPBAR. */
  op: string;
  rd: number;
  ra: number;
  rb: number;
  /** Cycles ptxas makes the warp wait before its next instruction (the static schedule). */
  stall: number;
  /** Scoreboard set when the result is written, or -1. */
  writeBarrier: number;
  /** Bit mask of the scoreboards waited for before issue. */
  waitMask: number;
  /** Branch target (byte offset), for BRA. */
  target?: number;
}

/** Opcode key ('0x' + low 12 bits, lower-case hex) -> mnemonic. */
export type OpcodeTable = Record<string, string>;

/** Decodes a kernel's .text. */
export function decode(text: Buffer, opcodes: OpcodeTable): Instr[] {
  const out: Instr[] = [];
  for (let pc = 0; pc + 16 <= text.length; pc += 16) {
    const lo = text.readUInt32LE(pc);
    const w0hi = text.readInt32LE(pc + 4);
    const w1hi = text.readUInt32LE(pc + 12);
    const key = '0x' + (lo & 0xfff).toString(16);
    let op = opcodes[key] ?? '?' + (lo & 0xfff).toString(16).padStart(3, '0');
    if (op === 'WARPGROUP') op = (w0hi >> 15) & 1 ? 'WG.DEPBAR' : 'WG.ARRIVE'; // word 0 bit 47
    const wb = (w1hi >>> 14) & 7;
    const ins: Instr = {
      pc,
      op,
      rd: (lo >>> 16) & 0xff,
      ra: (lo >>> 24) & 0xff,
      rb: text.readUInt32LE(pc + 4) & 0xff,
      stall: (w1hi >>> 9) & 15,
      writeBarrier: wb === 7 ? -1 : wb,
      waitMask: (w1hi >>> 20) & 63,
    };
    if (op === 'BRA') ins.target = pc + 16 + w0hi * 256 + ((lo >>> 16) & 0xff) * 4;
    out.push(ins);
  }
  return out;
}

/** A loop: a backward branch and its target. */
export interface Loop {
  from: number;
  to: number;
  instructions: number;
}

/** The innermost loops (backward branches whose range holds no other), longest first. A branch placed after
 * the kernel's last EXIT is left out: ptxas puts the retry of a waiting instruction (an mbarrier try-wait) there,
 * branching back over the whole kernel. */
export function loops(code: Instr[]): Loop[] {
  const lastExit = code.reduce((at, i) => (i.op === 'EXIT' ? i.pc : at), Infinity);
  const all = code
    .filter((i) => i.op === 'BRA' && i.target !== undefined && i.target <= i.pc && i.pc < lastExit)
    .map((i) => ({ from: i.target as number, to: i.pc, instructions: (i.pc - (i.target as number)) / 16 + 1 }));
  const holdsAnother = (l: Loop) => all.some((o) => o !== l && o.from >= l.from && o.to <= l.to);
  return all.filter((l) => !holdsAnother(l)).sort((a, b) => b.instructions - a.instructions);
}

/** The instructions with from <= pc <= to. */
export function range(code: Instr[], from: number, to: number): Instr[] {
  return code.filter((i) => i.pc >= from && i.pc <= to);
}

/** Sum of the stall counts: the cycles a warp alone takes through straight-line code, waits for results of
 * variable latency (memory, MUFU, shuffles, barriers) not counted. */
export function stallSum(code: Instr[]): number {
  return code.reduce((s, i) => s + i.stall, 0);
}

/** Per mnemonic: count and stall sum, by stall sum descending. */
export function histogram(code: Instr[]): Array<{ op: string; count: number; stall: number }> {
  const m = new Map<string, { op: string; count: number; stall: number }>();
  for (const i of code) {
    const e = m.get(i.op) ?? { op: i.op, count: 0, stall: 0 };
    e.count++;
    e.stall += i.stall;
    m.set(i.op, e);
  }
  return [...m.values()].sort((a, b) => b.stall - a.stall || b.count - a.count);
}
