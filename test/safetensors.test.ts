// safetensors reader and writer (lib/safetensors): round trips in every dtype, a file built byte by
// byte from the format's description, the reference writer's layout, every corruption case, sharded
// checkpoints, and a seeded fuzz of damaged files (each load a correct load or ERR_NATTEN_SAFETENSORS).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as natten from '../lib';
import { mulberry32 } from './oracle';
import { decodeBf16, decodeHalf } from './helpers/float_ref';
import { bf16Bits, halfBits } from '../lib/safetensors/half_bits';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'natten-st-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file image from a header object (serialized as given, padded to 8) and a data section. */
function fileOf(header: unknown, data: Uint8Array, pad = true): Buffer {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const h = Buffer.from(text);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([prefix, h, data]);
}

const f32Bytes = (v: number[]): Uint8Array => new Uint8Array(new Float32Array(v).buffer);

async function expectCorrupt(src: string | Uint8Array, pattern: RegExp): Promise<void> {
  const err = await natten.loadSafetensors(src).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(natten.NattenError);
  expect((err as natten.NattenError).code).toBe('ERR_NATTEN_SAFETENSORS');
  expect((err as Error).message).toMatch(pattern);
}

async function values(m: Map<string, natten.Tensor>, name: string): Promise<number[]> {
  const t = m.get(name);
  if (t === undefined) throw new Error(`no tensor ${name}`);
  return Array.from(await t.toArray());
}

const disposeAll = (m: Map<string, natten.Tensor>): void => m.forEach((t) => t.dispose());

describe('half bit patterns', () => {
  it('halfBits and bf16Bits invert the exact decoders for every 16-bit pattern', () => {
    for (let b = 0; b < 0x10000; b++) {
      const h = decodeHalf(b);
      if (!Number.isNaN(h)) expect(halfBits(h)).toBe(b);
      const f = decodeBf16(b);
      if (!Number.isNaN(f)) expect(bf16Bits(f)).toBe(b);
    }
    expect(Number.isNaN(decodeHalf(halfBits(NaN)))).toBe(true);
    expect(halfBits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(halfBits(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(halfBits(2 ** -25)).toBe(0); // tie to even, down to zero
  });
});

describe('saveSafetensors / loadSafetensors', () => {
  it('round-trips every dtype bit for bit, with metadata, from a record and a Map', async () => {
    const src: Record<string, natten.Tensor> = {
      'blocks.0.w': natten.randn([3, 5], { seed: 1 }),
      'blocks.0.b': natten.randn([7], { seed: 2, dtype: 'float16' }),
      '10': natten.randn([2, 2, 3], { seed: 3, dtype: 'bfloat16' }),
      __proto__x: natten.randn([4], { seed: 4, dtype: 'float64' }),
      scalar: natten.tensor([2.5], [], { dtype: 'float32' }),
      empty: natten.zeros([0, 3]),
    };
    const path = join(dir, 'rt.safetensors');
    await natten.saveSafetensors(path, src, { format: 'pt', note: 'ü' });
    for (const loaded of [await natten.loadSafetensors(path), await natten.loadSafetensors(readFileSync(path))]) {
      expect([...loaded.keys()].sort()).toEqual(Object.keys(src).sort());
      for (const [name, t] of Object.entries(src)) {
        const got = loaded.get(name) as natten.Tensor;
        expect([got.dtype, got.shape]).toEqual([t.dtype, t.shape]);
        expect(await got.toArray()).toEqual(await t.toArray());
      }
      disposeAll(loaded);
    }
    await natten.saveSafetensors(join(dir, 'rt2.safetensors'), new Map(Object.entries(src)), {
      format: 'pt',
      note: 'ü',
    });
    expect(readFileSync(join(dir, 'rt2.safetensors'))).toEqual(readFileSync(path));
    Object.values(src).forEach((t) => t.dispose());
  });

  it('writes the reference layout: dtype order F64, F32, BF16, F16 then name, padded header, no gaps', async () => {
    const path = join(dir, 'layout.safetensors');
    await natten.saveSafetensors(
      path,
      {
        b: natten.tensor([1, 2], [2]),
        a: natten.tensor([3], [1], { dtype: 'float16' }),
        z: natten.tensor([4], [1], { dtype: 'float64' }),
        c: natten.tensor([5, 6, 7], [3], { dtype: 'bfloat16' }),
        '2': natten.tensor([8], [1]),
      },
      { k: 'v' },
    );
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString();
    const json =
      '{"__metadata__":{"k":"v"},"z":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"2":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},' +
      '"c":{"dtype":"BF16","shape":[3],"data_offsets":[20,26]},"a":{"dtype":"F16","shape":[1],"data_offsets":[26,28]}}';
    expect(text).toBe(json + ' '.repeat(n - json.length));
    expect(bytes.length).toBe(8 + n + 28);
    const data = bytes.subarray(8 + n);
    expect(data.readDoubleLE(0)).toBe(4);
    expect([data.readFloatLE(8), data.readFloatLE(12), data.readFloatLE(16)]).toEqual([8, 1, 2]);
    expect([data.readUInt16LE(20), data.readUInt16LE(22), data.readUInt16LE(24)]).toEqual([0x40a0, 0x40c0, 0x40e0]);
    expect(data.readUInt16LE(26)).toBe(0x4200);
  });

  it('reads a file built byte by byte from the format description, any key order, unpadded header', async () => {
    const data = Buffer.concat([Buffer.from([0x00, 0x3c, 0x00, 0xc0]), Buffer.from(f32Bytes([1.5, -2, 0.25]))]);
    const header =
      '{"w":{"shape":[3],"data_offsets":[4,16],"dtype":"F32"},"h":{"dtype":"F16","shape":[2,1],"data_offsets":[0,4]}}';
    const m = await natten.loadSafetensors(fileOf(header, data, false));
    expect(await values(m, 'w')).toEqual([1.5, -2, 0.25]);
    expect(await values(m, 'h')).toEqual([1, -2]);
    expect((m.get('h') as natten.Tensor).shape).toEqual([2, 1]);
    disposeAll(m);
  });

  it('converts to options.dtype, rounding once from the file values', async () => {
    const v = [1 + 2 ** -9 + 2 ** -20, 3.140625, -1e-3];
    const m = await natten.loadSafetensors(
      fileOf({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } }, f32Bytes(v)),
      {
        dtype: 'bfloat16',
      },
    );
    const t = m.get('x') as natten.Tensor;
    expect(t.dtype).toBe('bfloat16');
    expect(Array.from(await t.toArray())).toEqual(v.map((x) => decodeBf16(bf16Bits(Math.fround(x)))));
    disposeAll(m);
  });

  it('rejects bad arguments with coded errors', async () => {
    await expect(natten.loadSafetensors(42 as unknown as string)).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    await expect(natten.loadSafetensors(join(dir, 'rt.safetensors'), { dtype: 'int8' as never })).rejects.toMatchObject(
      {
        code: 'ERR_NATTEN_INVALID_DTYPE',
      },
    );
    await expect(natten.saveSafetensors(join(dir, 'x'), { a: 3 as never })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
    await expect(natten.saveSafetensors(join(dir, 'x'), {}, { a: 1 as never })).rejects.toMatchObject({
      code: 'ERR_NATTEN_INVALID_ARG_TYPE',
    });
  });
});

describe('corrupt files', () => {
  const ok = {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
  };
  const data = f32Bytes([1, 2, 3]);
  const cases: [string, Buffer, RegExp][] = [
    ['shorter than the length prefix', Buffer.from([1, 0, 0]), /fewer than the 8-byte/],
    ['header length past the end', fileOf(ok, data).subarray(0, 20), /runs past the end/],
    ['header length over the limit', Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), /over the 100000000-byte limit/],
    ['bad JSON', fileOf('{"a": ', data), /not valid UTF-8 JSON/],
    ['bad UTF-8', fileOf(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), data), /not valid UTF-8 JSON|must be/],
    ['not an object', fileOf('[1,2]', data), /must be a JSON object/],
    [
      'unknown dtype',
      fileOf({ ...ok, a: { ...ok.a, dtype: 'I64', shape: [1] } }, data),
      /dtype "I64" is not supported/,
    ],
    ['bad shape', fileOf({ ...ok, a: { ...ok.a, shape: [-2] } }, data), /shape must be/],
    ['bad offsets', fileOf({ ...ok, a: { ...ok.a, data_offsets: [0] } }, data), /data_offsets must be/],
    ['offsets reversed', fileOf({ ...ok, a: { ...ok.a, data_offsets: [8, 0] } }, data), /end before they begin/],
    ['shape/offset mismatch', fileOf({ ...ok, a: { ...ok.a, shape: [3] } }, data), /needs 12 bytes.*hold 8/],
    [
      'offsets outside the data',
      fileOf({ ...ok, b: { ...ok.b, data_offsets: [8, 16], shape: [2] } }, data),
      /outside the 12-byte data/,
    ],
    ['overlap', fileOf({ ...ok, b: { ...ok.b, data_offsets: [4, 8] } }, data), /overlap/],
    ['gap', fileOf({ a: { ...ok.a, data_offsets: [4, 12] } }, data), /gap of 4 bytes/],
    ['trailing bytes', fileOf(ok, Buffer.concat([data, Buffer.alloc(4)])), /cover 12 of the 16 data bytes/],
    ['bad metadata', fileOf({ ...ok, __metadata__: { a: 1 } }, data), /__metadata__ must map strings/],
    ['entry not an object', fileOf({ ...ok, c: 3 }, data), /entry must be an object/],
  ];
  it.each(cases)('%s -> ERR_NATTEN_SAFETENSORS', async (_name, bytes, pattern) => {
    await expectCorrupt(bytes, pattern);
    const path = join(dir, 'corrupt.safetensors');
    writeFileSync(path, bytes);
    await expectCorrupt(path, pattern);
  });

  it('the untouched file of those cases loads', async () => {
    const m = await natten.loadSafetensors(fileOf(ok, data));
    expect([await values(m, 'a'), await values(m, 'b')]).toEqual([[1, 2], [3]]);
    disposeAll(m);
  });
});

describe('sharded checkpoints', () => {
  it('loads every shard named by model.safetensors.index.json', async () => {
    await natten.saveSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { 'a.w': natten.tensor([1, 2]) });
    await natten.saveSafetensors(join(dir, 'model-00002-of-00002.safetensors'), {
      'b.w': natten.tensor([3], [1], { dtype: 'bfloat16' }),
      'b.b': natten.tensor([4]),
    });
    const index = join(dir, 'model.safetensors.index.json');
    const weightMap = {
      'a.w': 'model-00001-of-00002.safetensors',
      'b.w': 'model-00002-of-00002.safetensors',
      'b.b': 'model-00002-of-00002.safetensors',
    };
    writeFileSync(index, JSON.stringify({ metadata: { total_size: 18 }, weight_map: weightMap }));
    const m = await natten.loadSafetensors(index, { dtype: 'float64' });
    expect([await values(m, 'a.w'), await values(m, 'b.w'), await values(m, 'b.b')]).toEqual([[1, 2], [3], [4]]);
    expect((m.get('b.w') as natten.Tensor).dtype).toBe('float64');
    disposeAll(m);

    writeFileSync(index, JSON.stringify({ weight_map: { ...weightMap, 'c.w': 'model-00002-of-00002.safetensors' } }));
    await expectCorrupt(index, /missing: \[c\.w\]/);
    writeFileSync(
      index,
      JSON.stringify({ weight_map: { 'a.w': 'model-00001-of-00002.safetensors', 'b.w': weightMap['b.w'] } }),
    );
    await expectCorrupt(index, /not in the index: \[b\.b\]/);
    writeFileSync(index, JSON.stringify({ weight_map: { x: '../x.safetensors' } }));
    await expectCorrupt(index, /outside the index's folder/);
    writeFileSync(index, '{"weight_map": ');
    await expectCorrupt(index, /index is not valid JSON/);
    writeFileSync(index, '{}');
    await expectCorrupt(index, /must hold a "weight_map"/);
  });
});

describe('fuzz', () => {
  it('1000 truncated and bit-flipped files: each a correct load or ERR_NATTEN_SAFETENSORS', async () => {
    const path = join(dir, 'fuzz.safetensors');
    const src = {
      w: natten.randn([3, 4], { seed: 9 }),
      h: natten.randn([5], { seed: 10, dtype: 'float16' }),
      d: natten.randn([2], { seed: 11, dtype: 'float64' }),
    };
    await natten.saveSafetensors(path, src, { m: 'x' });
    const good = readFileSync(path);
    const rand = mulberry32(1234);
    let loads = 0;
    for (let i = 0; i < 1000; i++) {
      const bytes = Buffer.from(good);
      let file: Buffer = bytes;
      const kind = i % 4;
      if (kind === 0) file = bytes.subarray(0, Math.floor(rand() * bytes.length));
      const flips = kind === 3 ? 8 : 1;
      for (let f = 0; f < flips && kind !== 0; f++) {
        // Header bytes are where the structure is; aim most flips there.
        const at = kind === 1 ? Math.floor(rand() * Math.min(bytes.length, 200)) : Math.floor(rand() * bytes.length);
        bytes[at] ^= 1 << Math.floor(rand() * 8);
      }
      try {
        const m = await natten.loadSafetensors(file);
        loads++;
        for (const t of m.values()) expect(t.numel).toBe(t.shape.reduce((a, b) => a * b, 1));
        // A load that succeeds keeps the names and shapes the surviving header gives: check the data size.
        const bytesTotal = [...m.values()].reduce(
          (s, t) => s + t.numel * (t.dtype === 'float64' ? 8 : t.dtype === 'float32' ? 4 : 2),
          0,
        );
        expect(8 + Number(file.readBigUInt64LE(0)) + bytesTotal).toBe(file.length);
        disposeAll(m);
      } catch (e) {
        if (!(e instanceof natten.NattenError) || e.code !== 'ERR_NATTEN_SAFETENSORS') throw e;
      }
    }
    expect(loads).toBeGreaterThan(0);
    Object.values(src).forEach((t) => t.dispose());
  });
});
