/**
 * `saveSafetensors`: writes tensors in the reference writer's layout (see format.ts `planFile`), one
 * tensor at a time, into a temporary file renamed over the target once complete.
 */
import { open, rename, rm } from 'node:fs/promises';
import { argTypeError } from '../errors';
import { Tensor } from '../tensor';
import { planFile } from './format';
import { bf16Bits, halfBits } from './half_bits';

/** Tensors to save: a record or a map from name to tensor. */
export type TensorDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Little-endian bytes of a tensor's values in its own dtype. */
async function tensorBytes(t: Tensor): Promise<Uint8Array> {
  const values = await t.toArray();
  if (t.dtype === 'float32' || t.dtype === 'float64')
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const encode = t.dtype === 'float16' ? halfBits : bf16Bits;
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = encode(values[i]);
  return new Uint8Array(bits.buffer);
}

function entriesOf(tensors: TensorDict): [string, Tensor][] {
  if (typeof tensors !== 'object' || tensors === null)
    throw argTypeError('saveSafetensors: tensors', 'a Map or record of tensors', tensors);
  const list: [string, Tensor][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, Tensor>)] : Object.entries(tensors);
  for (const [name, t] of list) {
    if (!(t instanceof Tensor)) throw argTypeError(`saveSafetensors: tensors["${name}"]`, 'a Tensor', t);
    t.handle(`saveSafetensors: tensors["${name}"]`);
  }
  return list;
}

function checkMetadata(metadata: unknown): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  const ok =
    typeof metadata === 'object' &&
    metadata !== null &&
    !Array.isArray(metadata) &&
    Object.values(metadata).every((v) => typeof v === 'string');
  if (!ok) throw argTypeError('saveSafetensors: metadata', 'a record of strings', metadata);
  return metadata as Record<string, string>;
}

/**
 * Saves tensors as a safetensors file at `path` (any device and dtype; each tensor's dtype is kept),
 * with optional string `metadata` under `__metadata__`. The layout matches the reference writer:
 * tensors ordered by dtype (F64, F32, BF16, F16) then name, contiguous, header padded to 8 bytes.
 */
export async function saveSafetensors(
  path: string,
  tensors: TensorDict,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  if (typeof path !== 'string') throw argTypeError('saveSafetensors: path', 'a file path', path);
  const list = entriesOf(tensors);
  const byName = new Map(list);
  const { header, plan } = planFile(
    list.map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    checkMetadata(metadata),
  );
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(header);
    for (const p of plan) await fh.write(await tensorBytes(byName.get(p.name) as Tensor));
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
