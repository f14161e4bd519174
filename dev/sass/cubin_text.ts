/**
 * The kernels' machine code in a CUDA cubin: an ELF64 file whose section `.text.<mangled kernel name>` holds
 * each kernel's instructions (16 bytes each on sm_70 and later).
 */

/** Kernel name (mangled) -> its .text bytes, in section order. */
export function kernelTexts(elf: Buffer): Map<string, Buffer> {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) {
    throw new Error('not an ELF64 file (a cubin: nvcc -cubin, or cuobjdump -xelf from an executable)');
  }
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const header = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 24)),
      size: Number(elf.readBigUInt64LE(at + 32)),
    };
  };
  const names = header(shstrndx);
  const nameAt = (o: number) => {
    const start = names.offset + o;
    return elf.toString('latin1', start, elf.indexOf(0, start));
  };
  const out = new Map<string, Buffer>();
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const name = nameAt(h.name);
    if (name.startsWith('.text.')) out.set(name.slice(6), elf.subarray(h.offset, h.offset + h.size));
  }
  return out;
}
