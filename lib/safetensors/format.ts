/**
 * The safetensors container (docs/design.md §6 "safetensors"): an 8-byte little-endian header length N,
 * N bytes of JSON (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}`),
 * then the tensors' bytes. This file parses and validates a header against the data length, and builds
 * one as the reference writer does. It reads no files.
 */
import type { DType } from '../dtype';
import { NattenError } from '../errors';

/** The header's dtype names natten-node reads and writes, and the tensor dtype each maps to. */
export const FILE_DTYPES: Readonly<Record<string, DType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
};

/** The file dtype name of a tensor dtype. */
export const FILE_DTYPE_OF: Readonly<Record<DType, string>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
};

/** The reference reader's limit on the header size (bytes); a larger length is treated as corrupt. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes of the length prefix. */
export const PREFIX_BYTES = 8;

/** One tensor's entry in a header. Offsets are relative to the start of the data section. */
export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed and validated header. */
export interface ParsedHeader {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
}

/** Throws the coded error for a corrupt or unsupported file; `where` names the file. */
export function corrupt(where: string, what: string): NattenError {
  return new NattenError(`safetensors ${where}: ${what}`, 'ERR_NATTEN_SAFETENSORS');
}

/** Reads the header length from the 8-byte prefix, checking it fits in a file of `fileBytes` bytes. */
export function headerLength(prefix: Uint8Array, fileBytes: number, where: string): number {
  if (fileBytes < PREFIX_BYTES)
    throw corrupt(where, `the file has ${fileBytes} bytes, fewer than the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, PREFIX_BYTES).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw corrupt(where, `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const len = Number(n);
  if (PREFIX_BYTES + len > fileBytes)
    throw corrupt(where, `header length ${len} runs past the end of the file (${fileBytes} bytes)`);
  return len;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseShape(v: unknown, where: string, name: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw corrupt(where, `tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(v)}`);
  return v as number[];
}

function parseOffsets(v: unknown, where: string, name: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw corrupt(where, `tensor "${name}": data_offsets must be [begin, end] integers, got ${JSON.stringify(v)}`);
  const [b, e] = v as [number, number];
  if (e < b) throw corrupt(where, `tensor "${name}": data_offsets [${b}, ${e}] end before they begin`);
  return [b, e];
}

/** Byte size of a shape in a dtype, or null past the safe-integer range. */
function byteSize(shape: readonly number[], elemBytes: number): number | null {
  let n = elemBytes;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

function parseEntry(name: string, v: unknown, where: string): TensorEntry {
  if (!isRecord(v)) throw corrupt(where, `tensor "${name}": entry must be an object`);
  const fileDtype = v.dtype;
  if (typeof fileDtype !== 'string') throw corrupt(where, `tensor "${name}": dtype must be a string`);
  const dtype = FILE_DTYPES[fileDtype];
  if (dtype === undefined || !Object.hasOwn(FILE_DTYPES, fileDtype)) {
    throw corrupt(where, `tensor "${name}": dtype ${JSON.stringify(fileDtype)} is not supported (F32, F16, BF16, F64)`);
  }
  const shape = parseShape(v.shape, where, name);
  const [begin, end] = parseOffsets(v.data_offsets, where, name);
  const elem = fileDtype === 'F64' ? 8 : fileDtype === 'F32' ? 4 : 2;
  const bytes = byteSize(shape, elem);
  if (bytes !== end - begin) {
    throw corrupt(
      where,
      `tensor "${name}": shape [${shape.join(', ')}] of ${fileDtype} needs ${bytes ?? 'too many'} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

function parseMetadata(v: unknown, where: string): Record<string, string> {
  if (!isRecord(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw corrupt(where, '__metadata__ must map strings to strings');
  return { ...(v as Record<string, string>) };
}

/** The reference reader's rule: the tensors, by offset, tile the data section exactly (no gap, no overlap). */
function checkTiling(tensors: TensorEntry[], dataBytes: number, where: string): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of sorted) {
    if (t.begin > dataBytes || t.end > dataBytes)
      throw corrupt(
        where,
        `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] lie outside the ${dataBytes}-byte data`,
      );
    if (t.begin < at)
      throw corrupt(where, `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] overlap another tensor`);
    if (t.begin > at) throw corrupt(where, `tensor "${t.name}": gap of ${t.begin - at} bytes before it in the data`);
    at = t.end;
  }
  if (at !== dataBytes) throw corrupt(where, `the tensors cover ${at} of the ${dataBytes} data bytes`);
}

/** Parses the header's bytes and checks every entry against a data section of `dataBytes` bytes. */
export function parseHeader(bytes: Uint8Array, dataBytes: number, where: string): ParsedHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw corrupt(where, `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(json)) throw corrupt(where, 'header must be a JSON object');
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(v, where);
    else tensors.push(parseEntry(name, v, where));
  }
  checkTiling(tensors, dataBytes, where);
  return { tensors, metadata };
}

/** Where a tensor goes in a written file. */
export interface PlannedTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
  begin: number;
  end: number;
}

/** Rank of a dtype in the reference writer's order: larger alignment first (F64, F32, BF16, F16). */
const WRITE_RANK: Readonly<Record<DType, number>> = { float64: 0, float32: 1, bfloat16: 2, float16: 3 };

const elemBytes = (d: DType): number => (d === 'float64' ? 8 : d === 'float32' ? 4 : 2);

/**
 * Lays tensors out as the reference writer does: ordered by dtype (largest alignment first) then by
 * name (byte order), contiguous from offset 0; the JSON header lists `__metadata__` first then the
 * tensors in that order, and is padded with spaces to a multiple of 8 bytes so the data stays aligned.
 */
export function planFile(
  tensors: readonly { name: string; dtype: DType; shape: readonly number[] }[],
  metadata: Readonly<Record<string, string>> | undefined,
): { header: Buffer; plan: PlannedTensor[] } {
  const order = [...tensors].sort(
    (a, b) => WRITE_RANK[a.dtype] - WRITE_RANK[b.dtype] || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  const plan: PlannedTensor[] = [];
  let at = 0;
  // Built as text, not as an object: JS objects move integer-like keys first and treat "__proto__" specially.
  const fields: string[] = metadata === undefined ? [] : [`"__metadata__":${metadataJson(metadata)}`];
  for (const t of order) {
    const end = at + t.shape.reduce((a, b) => a * b, 1) * elemBytes(t.dtype);
    plan.push({ name: t.name, dtype: t.dtype, shape: t.shape, begin: at, end });
    const entry = { dtype: FILE_DTYPE_OF[t.dtype], shape: t.shape, data_offsets: [at, end] };
    fields.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    at = end;
  }
  const text = Buffer.from(`{${fields.join(',')}}`, 'utf-8');
  const padded = Math.ceil(text.length / 8) * 8;
  const header = Buffer.alloc(PREFIX_BYTES + padded, 0x20);
  header.writeBigUInt64LE(BigInt(padded), 0);
  text.copy(header, PREFIX_BYTES);
  return { header, plan };
}

function metadataJson(metadata: Readonly<Record<string, string>>): string {
  return `{${Object.entries(metadata)
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(',')}}`;
}
