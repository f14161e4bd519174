/**
 * `loadSafetensors`: reads a safetensors file (or bytes already in memory, or a sharded checkpoint's
 * `model.safetensors.index.json`) into tensors. A file is read one tensor at a time at its offset through
 * `fs.promises` (off the event loop), never whole into one buffer.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import type { DType } from '../dtype';
import { deviceIndex, deviceName, type DeviceLike } from '../device';
import { argTypeError } from '../errors';
import { checkDtype, tensor, type Tensor } from '../tensor';
import { corrupt, headerLength, parseHeader, PREFIX_BYTES, type TensorEntry } from './format';

/** Options of {@link loadSafetensors}. */
export interface LoadSafetensorsOptions {
  /** Where the tensors go (default `'cpu'`). */
  device?: DeviceLike;
  /** Converts every tensor to this dtype (rounded once, from the file's values); default: the file's dtype. */
  dtype?: DType;
}

/** Reads `length` bytes at `position` of a source. */
type ReadAt = (position: number, length: number) => Promise<Uint8Array>;

interface Target {
  device: number;
  dtype: DType | undefined;
}

function checkOptions(opts: unknown): Target {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null))
    throw argTypeError('loadSafetensors: options', 'an options object', opts);
  const o = (opts ?? {}) as LoadSafetensorsOptions;
  const device = deviceIndex(o.device ?? 'cpu', 'loadSafetensors: options.device');
  if (o.dtype !== undefined) checkDtype(o.dtype, 'loadSafetensors: options.dtype');
  return { device, dtype: o.dtype };
}

/** The typed array a tensor's bytes are, in a fresh aligned copy (the addon reads the values from it). */
function typedView(bytes: Uint8Array, dtype: DType): Float32Array | Float64Array | Uint16Array {
  let own = bytes;
  if (bytes.byteOffset !== 0 || bytes.buffer.byteLength !== bytes.byteLength) {
    // Copied with set(): Buffer's slice() would share the memory at an unaligned offset.
    own = new Uint8Array(bytes.byteLength);
    own.set(bytes);
  }
  if (dtype === 'float64') return new Float64Array(own.buffer, 0, own.byteLength / 8);
  if (dtype === 'float32') return new Float32Array(own.buffer, 0, own.byteLength / 4);
  return new Uint16Array(own.buffer, 0, own.byteLength / 2);
}

/** One tensor from its bytes: made in the file's dtype, then converted once if another dtype is asked. */
function makeTensor(entry: TensorEntry, bytes: Uint8Array, target: Target): Tensor {
  const data = typedView(bytes, entry.dtype);
  const dtype = target.dtype ?? entry.dtype;
  if (dtype === entry.dtype) return tensor(data, entry.shape, { dtype, device: deviceName(target.device) });
  const staged = tensor(data, entry.shape, { dtype: entry.dtype });
  try {
    return staged.to({ device: deviceName(target.device), dtype });
  } finally {
    staged.dispose();
  }
}

/** Reads a whole single-file source into a map, disposing what it made if any step fails. */
async function loadOne(read: ReadAt, fileBytes: number, where: string, target: Target): Promise<Map<string, Tensor>> {
  const len = headerLength(await read(0, Math.min(PREFIX_BYTES, fileBytes)), fileBytes, where);
  const dataStart = PREFIX_BYTES + len;
  const { tensors } = parseHeader(await read(PREFIX_BYTES, len), fileBytes - dataStart, where);
  const out = new Map<string, Tensor>();
  try {
    for (const entry of tensors) {
      const bytes = await read(dataStart + entry.begin, entry.end - entry.begin);
      out.set(entry.name, makeTensor(entry, bytes, target));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

async function loadFile(path: string, target: Target): Promise<Map<string, Tensor>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const read: ReadAt = async (position, length) => {
      const buf = Buffer.allocUnsafeSlow(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      if (bytesRead !== length) throw corrupt(path, `the file ended while reading ${length} bytes at ${position}`);
      return buf;
    };
    return await loadOne(read, size, path, target);
  } finally {
    await fh.close();
  }
}

/** A shard's file name from the index: a plain relative name inside the index's folder. */
function shardPath(indexPath: string, file: string): string {
  const n = normalize(file);
  if (isAbsolute(n) || n === '..' || n.startsWith(`..${sep}`))
    throw corrupt(indexPath, `weight_map names a file outside the index's folder: ${JSON.stringify(file)}`);
  return join(dirname(indexPath), n);
}

async function readIndex(path: string): Promise<Map<string, string[]>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf-8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== undefined) throw e;
    throw corrupt(path, `index is not valid JSON (${(e as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw corrupt(path, 'index must hold a "weight_map" object');
  const byFile = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string') throw corrupt(path, `weight_map["${name}"] must be a file name`);
    const shard = shardPath(path, file);
    byFile.set(shard, [...(byFile.get(shard) ?? []), name]);
  }
  return byFile;
}

/** Loads every shard of an index; each shard must hold exactly the names the index gives it. */
async function loadSharded(indexPath: string, target: Target): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  try {
    for (const [shard, names] of await readIndex(indexPath)) {
      const part = await loadFile(shard, target);
      for (const [name, t] of part) out.set(name, t);
      const missing = names.filter((n) => !part.has(n));
      const extra = [...part.keys()].filter((n) => !names.includes(n));
      if (missing.length + extra.length > 0)
        throw corrupt(
          indexPath,
          `shard ${shard} does not match the index (missing: [${missing.join(', ')}], not in the index: [${extra.join(', ')}])`,
        );
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Loads a safetensors checkpoint: a file path, the path of a sharded checkpoint's
 * `*.safetensors.index.json`, or the file's bytes. F32, F16, BF16 and F64 tensors load as float32,
 * float16, bfloat16 and float64 (or all as `options.dtype`); any other dtype, and any corrupt file, is a
 * `NattenError` with code `ERR_NATTEN_SAFETENSORS` saying what is wrong (nothing is kept from a failed load).
 */
export async function loadSafetensors(
  source: string | Uint8Array,
  options?: LoadSafetensorsOptions,
): Promise<Map<string, Tensor>> {
  const target = checkOptions(options);
  if (typeof source === 'string') {
    return source.endsWith('.json') ? loadSharded(source, target) : loadFile(source, target);
  }
  if (!(source instanceof Uint8Array)) throw argTypeError('loadSafetensors: source', 'a path or a Uint8Array', source);
  const read: ReadAt = (position, length) => Promise.resolve(source.subarray(position, position + length));
  return loadOne(read, source.byteLength, 'buffer', target);
}
