/**
 * Checks of optimizer and GradScaler options (docs/design.md §7): PyTorch's ranges, each failure a coded
 * error naming the option, what it must be and what was given.
 */
import { argTypeError, rangeError } from '../errors';

/** Bounds of a number option; `open` excludes the bound itself. */
export interface Bounds {
  min?: number;
  minOpen?: boolean;
  max?: number;
  maxOpen?: boolean;
}

function boundsText(b: Bounds): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`${b.minOpen ? '>' : '>='} ${b.min}`);
  if (b.max !== undefined) parts.push(`${b.maxOpen ? '<' : '<='} ${b.max}`);
  return parts.length ? `a finite number ${parts.join(' and ')}` : 'a finite number';
}

/** `value` (or `dflt` when undefined) as a finite number within `b`. */
export function numberOption(fn: string, name: string, value: unknown, dflt: number | undefined, b: Bounds): number {
  const v = value === undefined ? dflt : value;
  if (v === undefined) throw argTypeError(`${fn}: ${name}`, `${boundsText(b)} (it has no default)`, v);
  if (typeof v !== 'number') throw argTypeError(`${fn}: ${name}`, boundsText(b), v);
  const ok =
    Number.isFinite(v) &&
    (b.min === undefined || (b.minOpen ? v > b.min : v >= b.min)) &&
    (b.max === undefined || (b.maxOpen ? v < b.max : v <= b.max));
  if (!ok) throw rangeError('ERR_NATTEN_INVALID_ARG_VALUE', `${fn}: ${name} must be ${boundsText(b)}, got ${v}`);
  return v;
}

/** `value` (or `dflt` when undefined) as a boolean. */
export function boolOption(fn: string, name: string, value: unknown, dflt: boolean): boolean {
  const v = value === undefined ? dflt : value;
  if (typeof v !== 'boolean') throw argTypeError(`${fn}: ${name}`, 'a boolean', v);
  return v;
}
