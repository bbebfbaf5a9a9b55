// Words and scales drawn on the overlays themselves, as SDF text (troika-three-text): each
// overlay's title, its colour bar with the numbers at its ends, and axis names. Names come from
// model files and runs: they are set as text (never markup) and long ones are cut.
import * as THREE from "three";
import { Text } from "troika-three-text";
import fontUrl from "@fontsource/roboto/files/roboto-latin-400-normal.woff?url";
import { displayName, formatStat, safeColor } from "./dom";

/** Characters of a module name in a title; a longer one ends in "…". */
export const TITLE_NAME_CHARS = 32;
/** Rough advance of one character of Roboto, in font sizes (for planning room before sync). */
export const CHAR_WIDTH = 0.56;

/** "fc1 · weight 128×64 · step 48": the parts joined, the module name cut. */
export function titleText(module: string, what: string, ...rest: (string | null | undefined)[]): string {
  return [displayName(module || "(model)", TITLE_NAME_CHARS), what, ...rest].filter((s) => s).join(" · ");
}

export function shapeText(shape: number[]): string {
  return shape.map((n) => String(n)).join("×");
}

/** One line of text, anchored at its ``anchorX`` / ``anchorY``; it asks for a render when its
 * glyphs are ready. */
export function textMesh(text: string, size: number, onSync: () => void,
  anchorX: "left" | "center" | "right" = "left", anchorY: "top" | "middle" | "bottom" = "bottom",
  color = 0xe8ecf4): Text {
  const t = new Text();
  t.font = fontUrl;
  t.text = text;
  t.fontSize = size;
  t.anchorX = anchorX;
  t.anchorY = anchorY;
  t.color = color;
  t.outlineWidth = "8%";
  t.outlineColor = 0x0b0d12;
  t.renderOrder = 10;
  t.sync(onSync);
  return t;
}

/** The planned width of a line of ``chars`` characters at font ``size``. */
export function textWidth(text: string, size: number): number {
  return text.length * size * CHAR_WIDTH;
}

const gradients = new Map<string, THREE.DataTexture>();

/** A horizontal colour bar ``width`` x ``height`` (left = lo, right = hi) with its two numbers
 * under its ends; centred at its own origin, facing +z. */
export function colourBar(stops: string[], lo: number, hi: number, width: number, height: number,
  textSize: number, onSync: () => void, hiNote = ""): THREE.Group {
  const key = stops.join(",");
  let tex = gradients.get(key);
  if (!tex) {
    const colors = stops.map((s) => new THREE.Color(safeColor(s, "#808080")));
    const n = 64, data = new Uint8Array(n * 4);
    const c = new THREE.Color();
    for (let i = 0; i < n; i++) {
      const t = (i / (n - 1)) * Math.max(colors.length - 1, 0);
      const k = Math.min(Math.floor(t), Math.max(colors.length - 2, 0));
      if (colors.length > 1) c.copy(colors[k]).lerp(colors[k + 1], t - k);
      else c.copy(colors[0] ?? new THREE.Color(0x808080));
      data.set([Math.round(c.r * 255), Math.round(c.g * 255), Math.round(c.b * 255), 255], 4 * i);
    }
    tex = new THREE.DataTexture(data, n, 1, THREE.RGBAFormat);
    tex.colorSpace = THREE.SRGBColorSpace;
    tex.magFilter = THREE.LinearFilter;
    tex.needsUpdate = true;
    gradients.set(key, tex);
  }
  const bar = new THREE.Mesh(new THREE.PlaneGeometry(width, height),
    new THREE.MeshBasicMaterial({ map: tex, side: THREE.DoubleSide }));
  bar.name = "colour-bar";
  (bar.material as THREE.MeshBasicMaterial).userData.sharedMap = true;
  const group = new THREE.Group();
  group.name = "colour-scale";
  const low = textMesh(formatStat(lo), textSize, onSync, "left", "top");
  low.position.set(-width / 2, -height / 2 - textSize * 0.15, 0);
  const high = textMesh(`${formatStat(hi)}${hiNote}`, textSize, onSync, "right", "top");
  high.position.set(width / 2, -height / 2 - textSize * 0.15, 0);
  low.name = "scale-lo";
  high.name = "scale-hi";
  group.add(bar, low, high);
  group.userData = { lo, hi };
  return group;
}
