/**
 * A minimal WebAssembly binary encoder for the project's hand-written kernels (the dense
 * solvers' block update in linalg-simd.ts, the GBDT's histogram and prediction kernels in
 * gbdt/): LEB128 numbers, sections, and the few instructions they use, each as a byte array to
 * spread into a function body. No toolchain, no binary blob.
 */

/** The WebAssembly API surface used here (declared locally: the project compiles without the DOM lib). */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

export const wasm: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

export const utf8 = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** Value types. */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/**
 * A module with one imported memory (`env.memory`; `limits` as encoded, e.g. [0x00, min]) and
 * functions of i32 parameters and no result, exported under `names`. `bodies` are complete
 * function bodies (locals vector, code, end).
 */
export function moduleBytes(params: number, limits: number[], names: string[], bodies: number[][]): Uint8Array {
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(new Array<number[]>(params).fill([I32])), 0x00]])),
    ...section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, ...limits]])),
    ...section(3, vec(names.map(() => [0]))),
    ...section(7, vec(names.map((name, i) => [...utf8(name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ]);
}

// Instructions.
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const tee = (i: number): number[] => [0x22, ...uleb(i)];
export const i32 = (v: number): number[] => [0x41, ...sleb(v)];
export const load32 = (offset: number): number[] => [0x28, 2, ...uleb(offset)];
export const load8 = (offset: number): number[] => [0x2d, 0, ...uleb(offset)];
export const store32 = (offset: number): number[] => [0x36, 2, ...uleb(offset)];
export const f64Load = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
export const f64Store = (offset: number): number[] => [0x39, 3, ...uleb(offset)];
export const ADD = [0x6a];
export const MUL = [0x6c];
export const AND = [0x71];
export const XOR = [0x73];
export const SHL = [0x74];
export const LT_S = [0x48];
export const LT_U = [0x49];
export const GT_U = [0x4b];
export const LE_S = [0x4c];
export const GE_S = [0x4e];
export const GE_U = [0x4f];
export const F32_LOAD = [0x2a, 2, 0];
export const F64_PROMOTE = [0xbb];
export const F64_NE = [0x62];
export const F64_GT = [0x64];
export const F64_ADD = [0xa0];
export const F64_ONE = [0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
export const V128_LOAD = [0xfd, ...uleb(0x00), 4, 0];
export const V128_STORE = [0xfd, ...uleb(0x0b), 4, 0];
export const F64X2_ADD = [0xfd, ...uleb(0xf0)];
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const IF = [0x04, 0x40];
export const END = [0x0b];
export const BR_IF = (depth: number): number[] => [0x0d, depth];
