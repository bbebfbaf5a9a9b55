// Decode nnviz3d binary frames (see nnviz3d/protocol/codec.py): a JSON header plus raw
// little-endian arrays, each viewed in place where its dtype allows. Header numbers that are NaN
// or infinite arrive as null, named in the header's ``nonfinite`` map, and are put back here;
// headers of old recordings with bare NaN/Infinity tokens (not JSON) decode too.
import {
  DTYPE_CODES, type DtypeCode, MAGIC, NONFINITE, NONFINITE_VALUES, type NonFiniteValue, PREFIX_BYTES,
  PROTOCOL_VERSION,
} from "./protocol.gen";

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
  let header: Record<string, any>;
  try {
    header = parseJson(new TextDecoder().decode(new Uint8Array(buf, PREFIX_BYTES, hlen)));
  } catch (err) {
    throw new FrameError(`header is not JSON: ${String(err)}`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw new FrameError("header is not a JSON object");
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

const NUMBERS: Record<NonFiniteValue, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** Parse a header or JSON message: the numbers its ``nonfinite`` map names are put back (and
 * the map dropped); text with bare NaN/Infinity/-Infinity (older Python writers) parses too. */
export function parseJson(text: string): any {
  let value: any;
  try {
    value = JSON.parse(text);
  } catch (err) {
    value = parseLegacy(text, err);
  }
  if (value && typeof value === "object" && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, NONFINITE)) {
    const map = value[NONFINITE];
    delete value[NONFINITE];
    if (map && typeof map === "object") {
      for (const [pointer, tag] of Object.entries(map)) restore(value, pointer, tag);
    }
  }
  return value;
}

/** Set the null at JSON ``pointer`` (RFC 6901) to the number ``tag`` names. Only own
 * properties are walked and only a null is replaced: a hostile map cannot reach prototypes. */
function restore(root: any, pointer: string, tag: unknown): void {
  if (typeof tag !== "string" || !(NONFINITE_VALUES as readonly string[]).includes(tag) || !pointer.startsWith("/")) return;
  const parts = pointer.slice(1).split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  let cur = root;
  for (let i = 0; i < parts.length; i++) {
    if (cur === null || typeof cur !== "object") return;
    const key = parts[i];
    if (Array.isArray(cur) ? !/^\d+$/.test(key) || Number(key) >= cur.length : !Object.prototype.hasOwnProperty.call(cur, key)) return;
    if (i === parts.length - 1) {
      if (cur[key] === null) cur[key] = NUMBERS[tag as NonFiniteValue];
      return;
    }
    cur = cur[key];
  }
}

/** JSON with bare NaN, Infinity and -Infinity outside strings (what Python's json.dumps wrote
 * before the ``nonfinite`` map): each token becomes a marker string, turned back into its number. */
function parseLegacy(text: string, original: unknown): any {
  const marker = `\u0000nnviz3d-nonfinite-${Math.random().toString(36).slice(2)}:`;
  let out = "";
  let inString = false;
  let changed = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") { out += text[i + 1] ?? ""; i++; } else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; out += c; continue; }
    const token = ["-Infinity", "Infinity", "NaN"].find((t) => text.startsWith(t, i));
    if (token) {
      out += JSON.stringify(marker + token);
      i += token.length - 1;
      changed = true;
      continue;
    }
    out += c;
  }
  if (!changed) throw original;
  return JSON.parse(out, (_key, v) =>
    typeof v === "string" && v.startsWith(marker) ? NUMBERS[v.slice(marker.length) as NonFiniteValue] : v);
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
