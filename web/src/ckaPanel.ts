// The layer-similarity panel: the CKA matrix of the probed layers (graph order, viridis 0..1
// with its scale; hovering a cell names both layers and the value, clicking it selects the
// pair's blocks) and a small 3D map of the layers (one sphere per layer at its MDS position,
// labelled, adjacent layers joined; drag to turn it), following the run or the step sought. A
// comparison's cross matrix (A's layers x B's) shows without the map, with what it came from.
// The panel stands at the left under the toolbar; main.ts keeps the model framed beside it.
import * as THREE from "three";
import { type CkaData, checkCka } from "./ckaFrame";
import type { Frame } from "./codec";
import { viridis, viridisGradient } from "./colormap";
import { displayName, el, fill } from "./dom";
import { scenePathOf } from "./sceneView";
import type { Viewer } from "./viewerContext";

const MATRIX_PX = 208, MAP_W = 224, MAP_H = 150;
const rgb = new Float32Array(3);

function css(t: number): string {
  viridis(t, rgb, 0);
  const s = (c: number) => Math.round(255 * (c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055));
  return `rgb(${s(rgb[0])},${s(rgb[1])},${s(rgb[2])})`;
}

/** The last one or two segments of a module path, for labels. */
function shortName(path: string): string {
  const parts = path.split(".");
  return displayName(parts.length > 2 ? parts.slice(-2).join(".") : path, 24);
}

export class CkaPanel {
  readonly root: HTMLElement;
  data: CkaData | null = null;
  refused: string | null = null;
  refusedCount = 0;
  hover: { a: string; b: string; value: number } | null = null;
  pair: [string, string] | null = null;
  folded = false;
  /** The map's turn (radians about y, then x), changed by dragging it. */
  yaw = 0.35; pitch = 0.3;
  /** Labels drawn on the map (those that would overlap another are left out). */
  mapLabels = 0;
  private readonly matrixCanvas = el("canvas", { class: "matrix", width: MATRIX_PX, height: MATRIX_PX }) as HTMLCanvasElement;
  private readonly mapCanvas = el("canvas", { class: "map", width: MAP_W, height: MAP_H }) as HTMLCanvasElement;
  private readonly title = el("b");
  private readonly step = el("span", { class: "step" });
  private readonly hoverLine = el("p", { class: "hover" });
  private readonly note = el("p", { class: "note" });
  private readonly body = el("div", { class: "body" });
  private readonly scale: HTMLElement;

  constructor(private readonly onPair: (a: string, b: string) => void) {
    this.root = document.getElementById("cka") ?? document.body.appendChild(el("aside", { id: "cka" }));
    this.root.hidden = true;
    const fold = el("button", { class: "fold", title: "Fold or unfold the panel" }, "–");
    fold.addEventListener("click", () => { this.folded = !this.folded; fold.textContent = this.folded ? "+" : "–"; this.body.hidden = this.folded; });
    const bar = el("span", { class: "bar" });
    bar.style.background = viridisGradient();
    const scale = this.scale = el("div", { class: "scale" }, el("span", null, "0"), bar, el("span", null, "1 (same)"));
    fill(this.body, this.matrixCanvas, scale, this.hoverLine, this.mapCanvas, this.note);
    fill(this.root, el("header", null, this.title, this.step, fold), this.body);
    this.matrixCanvas.addEventListener("mousemove", (e) => this.hoverAt(e));
    this.matrixCanvas.addEventListener("mouseleave", () => { this.hover = null; this.showHover(); });
    this.matrixCanvas.addEventListener("click", (e) => { const c = this.cellAt(e); if (c) this.pick(c[0], c[1]); });
    let drag: { x: number; y: number } | null = null;
    this.mapCanvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; this.mapCanvas.setPointerCapture(e.pointerId); });
    this.mapCanvas.addEventListener("pointerup", () => { drag = null; });
    this.mapCanvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      this.yaw += (e.clientX - drag.x) * 0.01;
      this.pitch = Math.max(-1.5, Math.min(1.5, this.pitch + (e.clientY - drag.y) * 0.01));
      drag = { x: e.clientX, y: e.clientY };
      this.drawMap();
    });
  }

  /** Show a CKA frame; false (and the previous matrix kept) when it is refused. */
  set(frame: Frame): boolean {
    let data: CkaData;
    try {
      data = checkCka(frame);
    } catch (err) {
      this.refused = `CKA frame refused: ${(err as Error).message}`;
      this.refusedCount++;
      this.note.textContent = this.refused;
      this.note.classList.add("bad");
      return false;
    }
    this.refused = null;
    this.note.classList.remove("bad");
    this.data = data;
    this.root.hidden = false;
    this.title.textContent = data.cross ? "Cross-model CKA (rows A × columns B)" : "Layer similarity (CKA)";
    this.step.textContent = data.cross ? "" : `step ${data.step}`;
    this.mapCanvas.hidden = data.cross || !data.points;
    const empty = data.layers.length === 0 || data.columns.length === 0; // a comparison without features
    this.matrixCanvas.hidden = this.scale.hidden = this.hoverLine.hidden = empty;
    this.note.textContent = data.cross ? data.note
      : `${data.layers.length} layers · hover a cell · click: select the pair · drag the map to turn it` +
        (data.undefined.length ? ` · ${data.undefined.length} constant (no CKA)` : "");
    this.drawMatrix();
    this.drawMap();
    return true;
  }

  /** Select the blocks of cell (row, column). */
  pick(i: number, j: number): boolean {
    const d = this.data;
    if (!d || i < 0 || j < 0 || i >= d.layers.length || j >= d.columns.length) return false;
    this.pair = [d.layers[i], d.columns[j]];
    this.onPair(this.pair[0], this.pair[1]);
    this.drawMatrix();
    return true;
  }

  state() {
    const d = this.data, r = this.root.getBoundingClientRect();
    return {
      shown: !this.root.hidden, step: d?.step ?? null, layers: d ? [...d.layers] : [], columns: d ? [...d.columns] : [],
      cross: d?.cross ?? false, note: this.note.textContent ?? "", refused: this.refused, refusedCount: this.refusedCount,
      hover: this.hover, pair: this.pair, mapPoints: d?.points ? d.points.length / 3 : 0, mapLabels: this.mapLabels, folded: this.folded,
      rect: { left: r.left, top: r.top, right: r.right, bottom: r.bottom },
    };
  }

  /** The value of cell (row, column), or null. */
  value(i: number, j: number): number | null {
    const d = this.data;
    return d && i >= 0 && j >= 0 && i < d.layers.length && j < d.columns.length ? d.matrix[i * d.columns.length + j] : null;
  }

  private cellAt(e: MouseEvent): [number, number] | null {
    const d = this.data;
    if (!d) return null;
    const r = this.matrixCanvas.getBoundingClientRect();
    const i = Math.floor(((e.clientY - r.top) / r.height) * d.layers.length);
    const j = Math.floor(((e.clientX - r.left) / r.width) * d.columns.length);
    return i >= 0 && j >= 0 && i < d.layers.length && j < d.columns.length ? [i, j] : null;
  }

  private hoverAt(e: MouseEvent): void {
    const c = this.cellAt(e), d = this.data;
    this.hover = c && d ? { a: d.layers[c[0]], b: d.columns[c[1]], value: d.matrix[c[0] * d.columns.length + c[1]] } : null;
    this.showHover();
  }

  private showHover(): void {
    const h = this.hover;
    this.hoverLine.textContent = h ? `${displayName(h.a, 60)} × ${displayName(h.b, 60)}: ${h.value.toFixed(3)}` : "\u00a0";
  }

  private drawMatrix(): void {
    const d = this.data, g = this.matrixCanvas.getContext("2d");
    if (!d || !g) return;
    const rows = d.layers.length, cols = d.columns.length, W = MATRIX_PX;
    g.clearRect(0, 0, W, W);
    const cw = W / Math.max(1, cols), ch = W / Math.max(1, rows);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
      g.fillStyle = css(d.matrix[i * cols + j]);
      g.fillRect(j * cw, i * ch, Math.ceil(cw), Math.ceil(ch));
    }
    if (this.pair) {
      const i = d.layers.indexOf(this.pair[0]), j = d.columns.indexOf(this.pair[1]);
      if (i >= 0 && j >= 0) { g.strokeStyle = "#ff9f1c"; g.lineWidth = 2; g.strokeRect(j * cw + 1, i * ch + 1, cw - 2, ch - 2); }
    }
    this.showHover();
  }

  private drawMap(): void {
    const d = this.data, g = this.mapCanvas.getContext("2d");
    if (!d || !d.points || !g) return;
    const n = d.layers.length, p = d.points;
    g.clearRect(0, 0, MAP_W, MAP_H);
    const rot = new THREE.Matrix4().makeRotationX(this.pitch).multiply(new THREE.Matrix4().makeRotationY(this.yaw));
    const v = new THREE.Vector3();
    const turned = Array.from({ length: n }, (_, i) => v.set(p[3 * i], p[3 * i + 1], p[3 * i + 2]).applyMatrix4(rot).clone());
    // fit the turned layers' screen extent (one scale for both axes: distances stay true),
    // leaving room at the right for the labels
    const lo = new THREE.Vector3(Infinity, Infinity, Infinity), hi = new THREE.Vector3(-Infinity, -Infinity, -Infinity);
    for (const t of turned) { lo.min(t); hi.max(t); }
    const padX = 10, padRight = 48, padY = 10;
    const scale = Math.min((MAP_W - padX - padRight) / Math.max(1e-6, hi.x - lo.x), (MAP_H - 2 * padY) / Math.max(1e-6, hi.y - lo.y));
    const cx = (lo.x + hi.x) / 2, cy = (lo.y + hi.y) / 2, depth = Math.max(1e-6, hi.z - lo.z);
    const at = turned.map((t, i) => ({ i, x: padX + (MAP_W - padX - padRight) / 2 + (t.x - cx) * scale,
      y: MAP_H / 2 - (t.y - cy) * scale, z: (t.z - lo.z) / depth }));
    g.strokeStyle = "rgba(160, 170, 190, 0.55)"; g.lineWidth = 1;
    g.beginPath();
    at.forEach((q, k) => (k ? g.lineTo(q.x, q.y) : g.moveTo(q.x, q.y)));
    g.stroke();
    g.font = "9px system-ui, sans-serif"; g.textBaseline = "middle";
    const front = [...at].sort((a, b) => a.z - b.z); // far first: nearer spheres drawn over
    for (const q of front) {
      g.fillStyle = css(n > 1 ? q.i / (n - 1) : 0.5);
      g.beginPath(); g.arc(q.x, q.y, 3 + 2.5 * q.z, 0, 2 * Math.PI); g.fill();
      g.strokeStyle = "#0b0d12"; g.stroke();
    }
    // labels, nearest first, each only where it overlaps no label already drawn
    const taken: { x0: number; y0: number; x1: number; y1: number }[] = [];
    g.fillStyle = "#c4cbd9";
    for (const q of front.reverse()) {
      const text = shortName(d.layers[q.i]), w = g.measureText(text).width, x0 = q.x + 7, y0 = q.y - 6;
      const r = { x0, y0, x1: x0 + w, y1: y0 + 12 };
      if (taken.some((t) => r.x0 < t.x1 && t.x0 < r.x1 && r.y0 < t.y1 && t.y0 < r.y1)) continue;
      taken.push(r);
      g.fillText(text, x0, q.y);
    }
    this.mapLabels = taken.length;
  }
}

/** Amber boxes around the blocks of the pair picked in the matrix (both kept in view). */
export class CkaPairMark {
  readonly root = new THREE.Group();

  constructor() { this.root.name = "cka-pair"; }

  set(boxes: THREE.Box3[]): void {
    for (const c of [...this.root.children]) { this.root.remove(c); ((c as THREE.Box3Helper).geometry).dispose(); }
    for (const b of boxes) this.root.add(new THREE.Box3Helper(b.clone().expandByScalar(0.06), 0xff9f1c));
  }
}

/** The panel and the pair mark wired to the viewer: a picked cell selects its row's block and
 * frames both blocks, boxed in amber. */
export function ckaView(v: Viewer, selectPath: (path: string) => boolean): CkaPanel {
  const mark = new CkaPairMark();
  v.world.add(mark.root);
  const panel = new CkaPanel((a, b) => {
    selectPath(a);
    const boxes: THREE.Box3[] = [];
    for (const path of new Set([a, b])) {
      const pick = v.view.pathIndex.get(scenePathOf(path));
      if (pick?.kind !== "block") continue;
      const p = v.view.blockPositions, s = v.view.blockScales, k = 3 * pick.index;
      const size = new THREE.Vector3(s[k], s[k + 1], s[k + 2]);
      boxes.push(new THREE.Box3().setFromCenterAndSize(new THREE.Vector3(p[k], p[k + 1], p[k + 2]), size));
    }
    mark.set(boxes);
    if (boxes.length) {
      v.state.cameraUntouched = false;
      v.nav.frame(boxes.reduce((u, b) => u.union(b), new THREE.Box3()).expandByScalar(1));
    }
    v.requestRender();
  });
  // the health panel stands at the same corner: the CKA panel goes below it while it shows
  const health = document.getElementById("health");
  if (health) {
    const place = () => {
      const r = health.hidden ? null : health.getBoundingClientRect();
      panel.root.style.top = r && r.height > 0 ? `${Math.ceil(r.bottom) + 8}px` : "";
      // above the legend docked at the bottom left
      panel.root.style.maxHeight = r && r.height > 0 ? `calc(100% - ${Math.ceil(r.bottom) + 160}px)` : "";
    };
    new MutationObserver(place).observe(health, { attributes: true, attributeFilter: ["hidden"] });
    new ResizeObserver(place).observe(health);
  }
  return panel;
}
