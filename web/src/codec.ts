// Decode nnviz3d binary frames (see nnviz3d/protocol/codec.py): a JSON header plus raw
// little-endian arrays, each viewed in place where its dtype allows.
import { DTYPE_CODES, type DtypeCode, MAGIC, PREFIX_BYTES, PROTOCOL_VERSION } from "./protocol.gen";

export type NumericArray =
  | Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer> | Uint8Array<ArrayBuffer>
  | Uint16Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Int8Array<ArrayBuffer>
  | Int16Array<ArrayBuffer> | Int32Array<ArrayBuffer>;

export interface WireArray {
  dtype: DtypeCode;
  shape: number[];
  /** Values; float16 arrays arrive widened to Float32Array. */
  data: NumericArray;
}

export interface Frame {
  header: Record<string, any>;
  arrays: Record<string, WireArray>;
}

export class FrameError extends Error {}

const SIZES: Record<DtypeCode, number> = {
  f4: 4, f2: 2, f8: 8, u1: 1, u2: 2, u4: 4, i1: 1, i2: 2, i4: 4,
};

export function decodeFrame(buf: ArrayBuffer): Frame {
  if (buf.byteLength < PREFIX_BYTES) throw new FrameError(`frame of ${buf.byteLength} bytes is too short`);
  const view = new DataView(buf);
  const magic = String.fromCharCode(...new Uint8Array(buf, 0, 4));
  if (magic !== MAGIC) throw new FrameError(`bad magic ${JSON.stringify(magic)}: not an nnviz3d frame`);
  const version = view.getUint16(4, true);
  if (version !== PROTOCOL_VERSION) {
    throw new FrameError(`frame has protocol version ${version}, this viewer speaks ${PROTOCOL_VERSION}`);
  }
  const hlen = view.getUint32(8, true);
  if (PREFIX_BYTES + hlen > buf.byteLength) throw new FrameError("header runs past the end of the frame");
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, PREFIX_BYTES, hlen)));
  const arrays: Record<string, WireArray> = {};
  for (const spec of header.arrays ?? []) {
    const dtype = spec.dtype as DtypeCode;
    if (!DTYPE_CODES.includes(dtype)) throw new FrameError(`array ${spec.name} has unknown dtype ${dtype}`);
    const count = (spec.shape as number[]).reduce((a, b) => a * b, 1);
    if (count * SIZES[dtype] !== spec.nbytes || spec.offset + spec.nbytes > buf.byteLength) {
      throw new FrameError(`array ${spec.name} does not fit the frame`);
    }
    arrays[spec.name] = { dtype, shape: spec.shape, data: view_(buf, dtype, spec.offset, count) };
  }
  return { header, arrays };
}

function view_(buf: ArrayBuffer, dtype: DtypeCode, offset: number, count: number): NumericArray {
  switch (dtype) {
    case "f4": return new Float32Array(buf, offset, count);
    case "f8": return new Float64Array(buf, offset, count);
    case "u1": return new Uint8Array(buf, offset, count);
    case "u2": return new Uint16Array(buf, offset, count);
    case "u4": return new Uint32Array(buf, offset, count);
    case "i1": return new Int8Array(buf, offset, count);
    case "i2": return new Int16Array(buf, offset, count);
    case "i4": return new Int32Array(buf, offset, count);
    case "f2": return halfToFloat(new Uint16Array(buf, offset, count));
  }
}

function halfToFloat(h: Uint16Array<ArrayBuffer>): Float32Array<ArrayBuffer> {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    const sign = v & 0x8000 ? -1 : 1;
    const exp = (v >> 10) & 0x1f;
    const frac = v & 0x3ff;
    if (exp === 0) out[i] = sign * 2 ** -14 * (frac / 1024);
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}
