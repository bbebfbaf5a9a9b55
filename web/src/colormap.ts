// Colour maps as small lookup tables, in linear RGB for instance colours and as CSS stops for
// the legend's colour bar: viridis for magnitudes, and the diverging map of
// nnviz3d/scene/colormaps.py (ColorBrewer RdBu reversed: blue < 0 < red) for differences.

/** matplotlib's viridis at t = 0, 0.1, ..., 1 (sRGB). */
const VIRIDIS_STOPS = [
  0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725,
];
/** ColorBrewer RdBu reversed at t = 0, 0.1, ..., 1 (sRGB): blue, white at 0.5, red. */
const DIVERGING_STOPS = [
  0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b, 0x67001f,
];
const LUT_SIZE = 256;

export function srgbToLinear(c: number): number {
  return c < 0.04045 ? c * 0.0773993808 : Math.pow(c * 0.9478672986 + 0.0521327014, 2.4);
}

/** (LUT_SIZE, 3) linear RGB, interpolated between the stops in sRGB. */
function buildLut(stops: number[]): Float32Array {
  const lut = new Float32Array(LUT_SIZE * 3);
  const n = stops.length - 1;
  for (let i = 0; i < LUT_SIZE; i++) {
    const x = (i / (LUT_SIZE - 1)) * n;
    const k = Math.min(n - 1, Math.floor(x));
    const f = x - k;
    for (let ch = 0; ch < 3; ch++) {
      const shift = 16 - 8 * ch;
      const a = ((stops[k] >> shift) & 0xff) / 255;
      const b = ((stops[k + 1] >> shift) & 0xff) / 255;
      lut[3 * i + ch] = srgbToLinear(a + (b - a) * f);
    }
  }
  return lut;
}

const VIRIDIS = buildLut(VIRIDIS_STOPS);
const DIVERGING = buildLut(DIVERGING_STOPS);

function lookup(lut: Float32Array, t: number, out: Float32Array, offset: number): void {
  const i = 3 * Math.round(Math.min(1, Math.max(0, t)) * (LUT_SIZE - 1));
  out[offset] = lut[i];
  out[offset + 1] = lut[i + 1];
  out[offset + 2] = lut[i + 2];
}

/** Write viridis(t) (t in 0..1, clamped) as linear RGB into ``out[offset..offset+2]``. */
export function viridis(t: number, out: Float32Array, offset: number): void {
  lookup(VIRIDIS, t, out, offset);
}

/** Write the diverging map at t (0 blue, 0.5 white, 1 red) into ``out[offset..offset+2]``. */
export function diverging(t: number, out: Float32Array, offset: number): void {
  lookup(DIVERGING, t, out, offset);
}

function gradient(stops: number[]): string {
  const css = stops.map((c, i) =>
    `#${c.toString(16).padStart(6, "0")} ${((i / (stops.length - 1)) * 100).toFixed(0)}%`);
  return `linear-gradient(to right, ${css.join(", ")})`;
}

/** A CSS linear-gradient of viridis, left (0) to right (1). */
export function viridisGradient(): string {
  return gradient(VIRIDIS_STOPS);
}

/** A CSS linear-gradient of the diverging map, left (negative) to right (positive). */
export function divergingGradient(): string {
  return gradient(DIVERGING_STOPS);
}

/** The CSS colour of the middle of viridis (or of the diverging map: white), for a scale that
 * collapsed to one value. */
export function middleCss(diverging = false): string {
  const stops = diverging ? DIVERGING_STOPS : VIRIDIS_STOPS;
  return `#${stops[(stops.length - 1) / 2].toString(16).padStart(6, "0")}`;
}
