// How the kernel parses the values written to the attributes the model emulates.

import type { KernelVersion } from './state.js';

/** PAGE_SIZE on x86 and most arm64 configs. */
const PAGE_SIZE = 4096;

/**
 * driver_override store (kernel-abi.md 1.1): cut at the first newline; empty clears; the value is
 * a C string, so it also ends at a NUL. 5.19 and 6.0 tested the length before that NUL, so a
 * NUL-only write stored "" (an override that matches nothing) instead of clearing.
 */
export function storeOverride(value: string, version: KernelVersion): { override: string | null } | { errno: string } {
  if (Buffer.byteLength(value) >= PAGE_SIZE - 1) return { errno: 'EINVAL' };
  const nl = value.indexOf('\n');
  const line = nl === -1 ? value : value.slice(0, nl);
  const text = line.split('\0')[0]!;
  const nulQuirk = version.atLeast(5, 19) && !version.atLeast(6, 1);
  if (text.length > 0 || (nulQuirk && line.length > 0)) return { override: text };
  return { override: null };
}

/** kstrtou16 with base 0 (decimal, 0x hex, 0 octal), one trailing newline allowed; null if invalid. */
export function parseU16(value: string): number | null {
  const t = (value.endsWith('\n') ? value.slice(0, -1) : value).replace(/^\+/, '');
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) n = parseInt(t, 8);
  else if (/^[1-9][0-9]*$/.test(t)) n = parseInt(t, 10);
  else return null;
  return n <= 0xffff ? n : null;
}

/** kstrtobool as in 6.x: judged by the first one or two characters. */
export function parseBool(value: string): boolean | null {
  const c = value[0] ?? '';
  if ('eEyYtT1'.includes(c) && c !== '') return true;
  if ('dDfFnN0'.includes(c) && c !== '') return false;
  if (c === 'o' || c === 'O') {
    const d = value[1] ?? '';
    if (d === 'n' || d === 'N') return true;
    if (d === 'f' || d === 'F') return false;
  }
  return null;
}
