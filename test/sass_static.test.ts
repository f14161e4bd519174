// The static-schedule reader of dev/sass: sm_90 instruction fields decoded from encodings taken from a
// `cuobjdump -sass` listing of the 3-D 'wgmma-ws' kernel (each with the text cuobjdump gave it), the opcode learner
// on listing lines, and a cubin from the local nvcc read end to end (CI has nvcc; without one that part skips).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { kernelTexts } from '../dev/sass/cubin_text';
import { learn } from '../dev/sass/learn_opcodes';
import { OpcodeTable, decode, histogram, loops, range, stallSum } from '../dev/sass/sm90_instr';

const { findNvcc } = require(path.join(__dirname, '..', 'scripts', 'find_nvcc.js')) as {
  findNvcc: () => string | undefined;
};
const table = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'dev', 'sass', 'opcodes_sm90.json'), 'utf8'),
) as OpcodeTable;

/** pc, cuobjdump's text, word 0, word 1. */
const SAMPLES: Array<[number, string, string, string]> = [
  [0x50, '@P0 BRA 0x2c0', '0000000000980947', '000fea0003800000'],
  [0x340, '@!P0 BRA 0x310', 'fffffffc00f08947', '000fea000383ffff'],
  [0x3c0, 'WARPGROUP.DEPBAR.LE gsb0, 0x0', '00008000000079c5', '000fe40000010000'],
  [0x3d0, 'FMNMX R178, R26, -INF , !PT', 'ff8000001ab27809', '000fe40007800000'],
  [0x3e0, 'MUFU.EX2 R24, R24', '0000001800187308', '000e620000000800'],
  [0x3f0, 'FFMA R4, R179, R4, R24', '00000004b3047223', '002fe20000000018'],
];

function text(): Buffer {
  const buf = Buffer.alloc(0x400);
  for (const [pc, , w0, w1] of SAMPLES) {
    buf.writeBigUInt64LE(BigInt('0x' + w0), pc);
    buf.writeBigUInt64LE(BigInt('0x' + w1), pc + 8);
  }
  return buf;
}

describe('sm_90 instruction decoding', () => {
  const code = decode(text(), table);
  const at = (pc: number) => code[pc / 16];

  test('opcodes, registers and control bits', () => {
    expect(at(0x3c0)).toMatchObject({ op: 'WG.DEPBAR', stall: 2, writeBarrier: -1, waitMask: 0 });
    expect(at(0x3d0)).toMatchObject({ op: 'FMNMX', rd: 178, ra: 26, stall: 2 });
    expect(at(0x3e0)).toMatchObject({ op: 'MUFU', rd: 24, writeBarrier: 1, stall: 1 });
    expect(at(0x3f0)).toMatchObject({ op: 'FFMA', rd: 4, ra: 179, rb: 4, waitMask: 0b10, stall: 1 });
  });

  test('branch targets, forward and backward, and the loop a backward branch closes', () => {
    expect(at(0x50)).toMatchObject({ op: 'BRA', target: 0x2c0 });
    expect(at(0x340)).toMatchObject({ op: 'BRA', target: 0x310 });
    expect(loops(code)).toEqual([{ from: 0x310, to: 0x340, instructions: 4 }]);
  });

  test('stall sums and the histogram of a range', () => {
    const part = range(code, 0x3c0, 0x3f0);
    expect(stallSum(part)).toBe(6);
    expect(histogram(part).map((e) => e.op)).toEqual(['WG.DEPBAR', 'FMNMX', 'MUFU', 'FFMA']);
  });
});

describe('opcode learning from cuobjdump listings', () => {
  const line = (pc: number, asm: string, w0: string) =>
    `        /*${pc.toString(16).padStart(4, '0')}*/                   ${asm} ;   /* 0x${w0} */`;

  test('every sample is named as the table names it', () => {
    const learned = learn(SAMPLES.map(([pc, asm, w0]) => line(pc, asm, w0)).join('\n'), {});
    expect(learned).toEqual({
      '0x947': 'BRA',
      '0x9c5': 'WARPGROUP',
      '0x809': 'FMNMX',
      '0x308': 'MUFU',
      '0x223': 'FFMA',
    });
    for (const [k, v] of Object.entries(learned)) expect(table[k]).toBe(v);
  });

  test('a key seen with two mnemonics is an error', () => {
    expect(() => learn(line(0x10, 'FADD R1, R2, R3', '0000000302017223'), { '0x223': 'FFMA' })).toThrow(/0x223/);
  });
});

describe('a cubin from the local nvcc', () => {
  const nvcc = findNvcc();
  (nvcc ? test : test.skip)('its kernel, loop and exponentials are found', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sass-'));
    const src = path.join(dir, 'k.cu');
    fs.writeFileSync(
      src,
      'extern "C" __global__ void spin(float* x, int n) {\n' +
        '  float a = x[threadIdx.x];\n' +
        '  for (int i = 0; i < n; ++i) a = exp2f(a) * 0.5f + 1.f;\n' +
        '  x[threadIdx.x] = a;\n}\n',
    );
    const cubin = path.join(dir, 'k.cubin');
    const r = spawnSync(nvcc as string, ['-cubin', '-O3', '-use_fast_math', '-arch=sm_90a', '-o', cubin, src], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const texts = kernelTexts(fs.readFileSync(cubin));
    expect([...texts.keys()]).toEqual(['spin']);
    const code = decode(texts.get('spin') as Buffer, table);
    const loop = loops(code)[0];
    expect(loop).toBeDefined();
    const body = range(code, loop.from, loop.to);
    expect(body.some((i) => i.op === 'MUFU')).toBe(true);
    expect(stallSum(body)).toBeGreaterThan(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
