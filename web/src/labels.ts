// Labels as SDF text (troika-three-text), readable at any zoom. Each frame the labels in view are
// ranked (pinned: hovered or selected; then groups, outer first; then blocks by how big they look),
// sized to a screen height clamped to LABEL_MIN_PX..LABEL_MAX_PX, and placed greedily: a label
// whose screen rectangle would overlap one already placed, leave the canvas, or fall under the
// toolbar or a panel is not drawn. A fixed pool of text meshes bounds the draw calls.
import * as THREE from "three";
import { Text } from "troika-three-text";
import fontUrl from "@fontsource/roboto/files/roboto-latin-400-normal.woff?url";
import { displayName } from "./dom";
import type { SceneView } from "./sceneView";

export const LABEL_POOL = 64;
/** Screen height of a label's text (CSS px), whatever the distance. */
export const LABEL_MIN_PX = 11;
export const LABEL_MAX_PX = 32;
/** Characters of a label drawn in the scene (a 10,000-character name ends in "…"). */
const LABEL_CHARS = 48;
/** Roboto's mean advance per character, in font sizes (for rectangles before troika measures). */
const CHAR_WIDTH = 0.52;
/** Screen px kept free around each label. */
const MARGIN = 3;
/** Heights (in label heights) a label may rise above its block to avoid a collision. */
const LIFTS = [0, 1.15, 2.3];

/** A drawn label's text and screen rectangle (CSS px, relative to the page). */
export interface LabelRect { text: string; for: string; x: number; y: number; w: number; h: number; px: number }

/** Page elements labels never go under (the toolbar, panels, the dock, the help line...). */
const BLOCKERS = ["toolbar", "info", "dock", "help", "health", "tour-caption", "inspect", "chart-panel"];

type Box = { x: number; y: number; w: number; h: number };
const boxOf = (r: DOMRect): Box => ({ x: r.left, y: r.top, w: r.width, h: r.height });

function blockerRects(): Box[] {
  const out: Box[] = [];
  for (const id of BLOCKERS) {
    const el = document.getElementById(id);
    if (!el || el.hidden) continue;
    if (id === "dock") { // the dock spans the width; only its visible children block
      for (const c of Array.from(el.children) as HTMLElement[]) {
        if (c.hidden) continue;
        const r = c.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) out.push(boxOf(r));
      }
      continue;
    }
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) out.push(boxOf(r));
  }
  return out;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export class LabelPool {
  readonly root = new THREE.Group();
  private texts: Text[] = [];
  private assigned: number[] = [];
  private pinned = new Set<number>();
  /** Width and height of each laid-out text per unit font size (troika's measure). */
  private widths = new Map<string, [number, number]>();
  /** The labels drawn by the last update, with their screen rectangles. */
  rects: LabelRect[] = [];
  /** False in VR: there is no page around the scene, and labels only need not overlap. */
  screenSpace = true;
  onSync: () => void = () => {};

  constructor(private size = LABEL_POOL) {
    this.root.name = "labels";
    for (let i = 0; i < size; i++) {
      const t = new Text();
      // drawn over the blocks (placement keeps them apart); set on the base material, which
      // troika derives its text and outline materials from
      t.material = new THREE.MeshBasicMaterial({ depthTest: false, depthWrite: false, transparent: true });
      t.font = fontUrl;
      t.anchorX = "center";
      t.anchorY = "bottom";
      t.color = 0xe8ecf4;
      t.outlineWidth = "8%";
      t.outlineColor = 0x0b0d12;
      t.visible = false;
      t.renderOrder = 10;
      (t.material as THREE.Material).depthTest = false; // placed so that none overlap: always readable
      this.texts.push(t);
      this.assigned.push(-1);
      this.root.add(t);
    }
  }

  /** Always show these label indices (hovered or selected block). */
  pin(indices: number[]): void {
    this.pinned = new Set(indices.filter((i) => i >= 0));
  }

  /** Rank, size and place the labels in view (see the file comment); face the camera. */
  update(view: SceneView, camera: THREE.PerspectiveCamera, canvas?: HTMLCanvasElement): void {
    const n = view.labels.length;
    camera.updateMatrixWorld();
    const frustum = new THREE.Frustum().setFromProjectionMatrix(
      new THREE.Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse));
    const rect = canvas ? canvas.getBoundingClientRect() : new DOMRect(0, 0, 1280, 800);
    const W = rect.width || 1, H = rect.height || 1;
    const tanHalf = Math.tan(THREE.MathUtils.degToRad(camera.fov) / 2);
    const pxPerUnitAt = (dist: number) => H / (2 * tanHalf * Math.max(dist, 1e-6));
    const blockers = this.screenSpace && canvas ? blockerRects() : [];
    const p = view.labelPositions;
    const v = new THREE.Vector3();
    type Cand = { i: number; rank: number; dist: number; sx: number; sy: number; px: number };
    const cand: Cand[] = [];
    for (let i = 0; i < n; i++) {
      v.set(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      const pinned = this.pinned.has(i);
      if (!frustum.containsPoint(v) && !pinned) continue;
      const dist = v.distanceTo(camera.position);
      const ppu = pxPerUnitAt(dist);
      const target = view.labelTarget(view.labels[i].for);
      // what the label stands for, as seen: groups (outer first) above blocks (bigger first)
      const seen = target ? target.size * ppu : 0;
      const rank = pinned ? 1e12 : target?.kind === "group" ? 1e9 - target.depth * 1e6 + seen : seen;
      const px = THREE.MathUtils.clamp(view.labelSizes[i] * ppu, LABEL_MIN_PX, LABEL_MAX_PX);
      v.project(camera);
      cand.push({ i, rank, dist, sx: rect.left + (v.x + 1) / 2 * W, sy: rect.top + (1 - v.y) / 2 * H, px });
    }
    cand.sort((a, b) => b.rank - a.rank || a.dist - b.dist);
    const placed: LabelRect[] = [];
    const chosen: { c: Cand; r: LabelRect; lift: number }[] = [];
    for (const c of cand) {
      if (chosen.length >= this.size) break;
      const text = displayName(view.labels[c.i].text, LABEL_CHARS);
      const [w, h] = this.measure(text, c.px);
      const pinned = this.pinned.has(c.i);
      // where it would collide, a label may rise a line or two above its block
      for (const lift of pinned ? [0] : LIFTS) {
        const r = { text, for: view.labels[c.i].for, x: c.sx - w / 2, y: c.sy - h - lift * h, w, h, px: c.px };
        if (!pinned) {
          if (r.x < rect.left || r.y < rect.top || r.x + r.w > rect.left + W || r.y + r.h > rect.top + H) continue;
          const padded = { x: r.x - MARGIN, y: r.y - MARGIN, w: r.w + 2 * MARGIN, h: r.h + 2 * MARGIN };
          if (placed.some((q) => overlaps(padded, q)) || blockers.some((b) => overlaps(padded, b))) continue;
        }
        placed.push(r);
        chosen.push({ c, r, lift: lift * h });
        break;
      }
    }
    const keep = new Map(chosen.map(({ c }, k) => [c.i, k]));
    // keep each label on the text mesh it had, so troika does not re-layout moved labels
    const free: number[] = [];
    const slotOf = new Map<number, number>();
    for (let k = 0; k < this.size; k++) {
      if (keep.has(this.assigned[k]) && !slotOf.has(this.assigned[k])) slotOf.set(this.assigned[k], k);
      else free.push(k);
    }
    for (const { c } of chosen) if (!slotOf.has(c.i)) slotOf.set(c.i, free.shift()!);
    const used = new Set(slotOf.values());
    for (let k = 0; k < this.size; k++) {
      if (!used.has(k)) { this.texts[k].visible = false; this.assigned[k] = -1; }
    }
    const up = new THREE.Vector3();
    for (const { c, r, lift } of chosen) {
      const k = slotOf.get(c.i)!;
      const t = this.texts[k];
      const fontSize = c.px / pxPerUnitAt(c.dist);
      if (this.assigned[k] !== c.i || t.text !== r.text) {
        t.text = r.text;
        this.assigned[k] = c.i;
        t.fontSize = fontSize;
        // the measure is per unit of the font size this layout was made with
        t.sync(() => {
          const b = t.textRenderInfo?.blockBounds;
          if (b && t.text === r.text) this.widths.set(r.text, [(b[2] - b[0]) / fontSize, (b[3] - b[1]) / fontSize]);
          this.onSync();
        });
      }
      t.position.set(p[3 * c.i], p[3 * c.i + 1], p[3 * c.i + 2]);
      if (lift) t.position.addScaledVector(up.set(0, 1, 0).applyQuaternion(camera.quaternion), lift / pxPerUnitAt(c.dist));
      t.fontSize = fontSize;
      t.quaternion.copy(camera.quaternion);
      t.visible = true;
    }
    this.rects = placed;
  }

  /** Width in px of ``text`` at ``px`` high: troika's measure when this label was laid out
   * before, else an estimate from the mean character width. */
  private measure(text: string, px: number): [number, number] {
    const known = this.widths.get(text);
    if (known) return [known[0] * px * 1.04, Math.min(Math.max(known[1], 1.2), 1.6) * px];
    return [text.length * CHAR_WIDTH * px, 1.25 * px];
  }

  get visibleCount(): number {
    return this.texts.filter((t) => t.visible).length;
  }

  clear(): void {
    for (let k = 0; k < this.size; k++) { this.texts[k].visible = false; this.assigned[k] = -1; }
    this.rects = [];
  }
}
