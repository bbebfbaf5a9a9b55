// Perceptual colour map (viridis) as a small lookup table, in linear RGB for instance colours
// and as CSS stops for the legend's colour bar.

/** matplotlib's viridis at t = 0, 0.1, ..., 1 (sRGB). */
const VIRIDIS_STOPS = [
  0x440154, 0x482475, 0x414487, 0x355f8d, 0x2a788e, 0x21918c, 0x22a884, 0x44bf70, 0x7ad151, 0xbddf26, 0xfde725,
];
const LUT_SIZE = 256;

export function srgbToLinear(c: number): number {
  return c < 0.04045 ? c * 0.0773993808 : Math.pow(c * 0.9478672986 + 0.0521327014, 2.4);
}

/** (LUT_SIZE, 3) linear RGB, interpolated between the stops in sRGB. */
const LUT = (() => {
  const lut = new Float32Array(LUT_SIZE * 3);
  const n = VIRIDIS_STOPS.length - 1;
  for (let i = 0; i < LUT_SIZE; i++) {
    const x = (i / (LUT_SIZE - 1)) * n;
    const k = Math.min(n - 1, Math.floor(x));
    const f = x - k;
    for (let ch = 0; ch < 3; ch++) {
      const shift = 16 - 8 * ch;
      const a = ((VIRIDIS_STOPS[k] >> shift) & 0xff) / 255;
      const b = ((VIRIDIS_STOPS[k + 1] >> shift) & 0xff) / 255;
      lut[3 * i + ch] = srgbToLinear(a + (b - a) * f);
    }
  }
  return lut;
})();

/** Write viridis(t) (t in 0..1, clamped) as linear RGB into ``out[offset..offset+2]``. */
export function viridis(t: number, out: Float32Array, offset: number): void {
  const i = 3 * Math.round(Math.min(1, Math.max(0, t)) * (LUT_SIZE - 1));
  out[offset] = LUT[i];
  out[offset + 1] = LUT[i + 1];
  out[offset + 2] = LUT[i + 2];
}

/** A CSS linear-gradient of the colour map, left (0) to right (1). */
export function viridisGradient(): string {
  const stops = VIRIDIS_STOPS.map((c, i) =>
    `#${c.toString(16).padStart(6, "0")} ${((i / (VIRIDIS_STOPS.length - 1)) * 100).toFixed(0)}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}
