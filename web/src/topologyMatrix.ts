// The connection matrix of the visible blocks: a wall standing behind the model and above it,
// turned and leaning back to face the framing camera (it never covers a block from there), rows (from) and columns (to) in graph order,
// one cell per edge coloured by the size of the tensor that flows or by the edge's kind. The
// cells are one InstancedMesh (one draw call); the row and column names, the grid, the title and
// the colour key are drawn as text on one canvas texture behind them (a name is canvas text,
// never markup). With more rows than can be read, the names are left out and shown on hover.
import * as THREE from "three";
import { srgbToLinear, viridis } from "./colormap";
import { displayName } from "./dom";
import type { SceneView } from "./sceneView";

export type MatrixColor = "size" | "kind";

/** Row and column names are drawn up to this many rows; above it they show on hover. */
export const MAX_NAMED_ROWS = 48;
/** The wall's width: this share of the model's length, within these bounds (scene units). */
const SHARE = 0.7, MIN_SIDE = 4, MAX_SIDE = 24;
/** Air between the model's box and the wall: behind it, and above it as seen from the camera
 * (room for labels; plus this share of the model's length for perspective, which lifts the far
 * end of a long model on the screen). */
const GAP = 0.6, GAP_UP = 1.0, GAP_PERSPECTIVE = 0.06;
/** Characters of a name drawn at a row or column. */
const NAME_CHARS = 28;
/** Texture pixels across the whole wall. */
const TEXTURE_PX = 2048;
const SKIP_RGB: [number, number, number] = [0.95, 0.55, 0.25];
const DATA_RGB: [number, number, number] = [0.55, 0.68, 0.95];

export interface MatrixCell {
  /** Source and destination block (indices into view.blocks). */
  src: number;
  dst: number;
  /** Index into view.edges. */
  edge: number;
  /** Elements of the tensor that flows (the source's first output), 0 when unknown. */
  elements: number;
}

/** What the pointer is on: a cell, or a row's or column's name. */
export type MatrixHit = { kind: "cell"; cell: number } | { kind: "row" | "col"; block: number };

/** Elements of a shape like [1, 16, 768] (symbolic or missing dimensions: 0). */
export function elementsOf(shape: unknown): number {
  if (!Array.isArray(shape) || !shape.length) return 0;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isFinite(d) || d < 0) return 0;
    n *= d;
  }
  return Number.isFinite(n) ? n : 0;
}

/** Names as drawn at the rows: the module paths without the dotted prefix they all share,
 * the end kept when too long ("…attn.c_attn"), control and bidi characters made visible. */
export function shortNames(modules: string[]): string[] {
  const parts = modules.map((m) => m.split("."));
  let common = 0;
  const named = parts.filter((p) => p.length > 1); // inputs and outputs ("input:x") keep theirs
  if (named.length > 1) {
    while (named.every((p) => common < p.length - 1 && p[common] === named[0][common])) common++;
  }
  return parts.map((p, i) => {
    const s = modules[i] ? p.slice(p.length > 1 ? common : 0).join(".") : "(model)";
    return displayName(s.length > NAME_CHARS ? `…${s.slice(s.length - NAME_CHARS + 1)}` : s, NAME_CHARS);
  });
}

/** Blocks in graph order: by their layer in the layered layout, then as listed. */
export function graphOrder(view: SceneView): number[] {
  const layer = (i: number) => { const l = Number(view.blocks[i].layer); return Number.isFinite(l) ? l : i; };
  return view.blocks.map((_, i) => i).sort((a, b) => layer(a) - layer(b) || a - b);
}

export class TopologyMatrix {
  readonly root = new THREE.Group();
  /** Block indices in row (and column) order, and each block's row. */
  order: number[] = [];
  rowOf = new Map<number, number>();
  cells: MatrixCell[] = [];
  colorBy: MatrixColor = "size";
  /** Whether the names are drawn (else shown on hover). */
  named = false;
  /** The wall's world box (model units), or null when not built. */
  box: THREE.Box3 | null = null;
  /** The wall's four world corners (it leans: its box is bigger than it on screen). */
  corners: THREE.Vector3[] = [];
  private cellMesh: THREE.InstancedMesh | null = null;
  private back: THREE.Mesh | null = null;
  private readonly marker: THREE.LineSegments;
  /** Local layout: the grid's side, the names' margin, the key's strip (scene units). */
  private side = 1;
  private margin = 0;
  private strip = 0;
  private sizeRange: [number, number] = [0, 0];

  constructor() {
    this.root.name = "topology-matrix";
    this.root.visible = false;
    const geo = new THREE.BufferGeometry();
    geo.setAttribute("position", new THREE.Float32BufferAttribute(new Float32Array(3 * 24), 3));
    this.marker = new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color: 0xffffff, depthTest: false }));
    this.marker.name = "matrix-marker";
    this.marker.renderOrder = 12;
    this.marker.visible = false;
  }

  /** Build the wall for the blocks shown, behind and above ``around`` (the model's box, model
   * units) as seen from direction ``viewFrom`` (navigation.ts VIEW_FROM), facing it. */
  build(view: SceneView, around: THREE.Box3, viewFrom: THREE.Vector3): void {
    this.clear();
    this.order = graphOrder(view);
    this.kinds = view.edges.map((e) => e.kind);
    this.rowOf = new Map(this.order.map((b, r) => [b, r]));
    this.cells = [];
    view.edges.forEach((e, edge) => {
      const s = view.pathIndex.get(e.src), d = view.pathIndex.get(e.dst);
      if (s?.kind !== "block" || d?.kind !== "block") return;
      this.cells.push({ src: s.index, dst: d.index, edge, elements: elementsOf(view.blocks[s.index].output_shapes?.[0]) });
    });
    const n = Math.max(this.order.length, 1);
    this.named = this.order.length <= MAX_NAMED_ROWS;
    const size = around.getSize(new THREE.Vector3());
    const width = THREE.MathUtils.clamp(SHARE * Math.max(size.z, size.x), MIN_SIDE, MAX_SIDE);
    this.margin = this.named ? width * 0.3 : width * 0.03;
    this.side = width - this.margin;
    this.strip = width * 0.07;
    const cell = this.side / n;
    const height = this.strip + this.side + this.margin;

    const sizes = this.cells.map((c) => c.elements).filter((x) => x > 0).map(Math.log10);
    this.sizeRange = sizes.length ? [Math.min(...sizes), Math.max(...sizes)] : [0, 0];
    const mesh = new THREE.InstancedMesh(new THREE.PlaneGeometry(1, 1), new THREE.MeshBasicMaterial(),
      Math.max(this.cells.length, 1));
    mesh.count = this.cells.length;
    mesh.name = "matrix-cells";
    const m = new THREE.Matrix4();
    this.cells.forEach((c, k) => {
      const [x, y] = this.cellCentre(k);
      m.makeScale(cell * 0.86, cell * 0.86, 1).setPosition(x, y, 0.004);
      mesh.setMatrixAt(k, m);
      mesh.setColorAt(k, this.cellColor(c));
    });
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    mesh.computeBoundingSphere();
    mesh.computeBoundingBox();
    this.cellMesh = mesh;

    const texture = new THREE.CanvasTexture(this.paint(view, width, height));
    texture.colorSpace = THREE.SRGBColorSpace;
    texture.anisotropy = 4;
    const wall = new THREE.Mesh(new THREE.PlaneGeometry(width, height),
      new THREE.MeshBasicMaterial({ map: texture, transparent: true, side: THREE.DoubleSide, depthWrite: false }));
    wall.position.set(width / 2, height / 2, 0);
    wall.name = "matrix-back";
    this.back = wall;
    this.root.add(wall, mesh, this.marker);

    // turned to face the camera's side (local +z along viewFrom, level), past the model's far
    // side, above its top, centred on it
    const face = new THREE.Vector3(viewFrom.x, 0, viewFrom.z);
    if (face.lengthSq() < 1e-9) face.set(-1, 0, 0);
    face.normalize();
    const lean = Math.atan2(viewFrom.y, Math.hypot(viewFrom.x, viewFrom.z)); // the camera's height
    this.root.rotation.set(-lean, Math.atan2(face.x, face.z), 0, "YXZ");
    const across = new THREE.Vector3(face.z, 0, -face.x); // the wall's local +x
    let far = -Infinity;
    for (const x of [around.min.x, around.max.x]) for (const z of [around.min.z, around.max.z]) far = Math.max(far, -(face.x * x + face.z * z));
    const c = around.getCenter(new THREE.Vector3());
    const back = far + GAP + (face.x * c.x + face.z * c.z); // how far past the centre, away from the camera
    const bottom = c.clone().addScaledVector(face, -back).setY(around.max.y + GAP_UP);
    // seen along viewFrom, the wall's lower edge stands above every corner of the model's box
    const d = viewFrom.clone().normalize();
    const up = new THREE.Vector3(0, 1, 0).addScaledVector(d, -d.y).normalize(); // the screen's up
    let top = -Infinity;
    for (let k = 0; k < 8; k++) {
      top = Math.max(top, up.dot(new THREE.Vector3(k & 1 ? around.max.x : around.min.x,
        k & 2 ? around.max.y : around.min.y, k & 4 ? around.max.z : around.min.z)));
    }
    const need = top + GAP_UP + GAP_PERSPECTIVE * Math.max(size.x, size.z) - up.dot(bottom);
    if (need > 0 && up.y > 1e-6) bottom.y += need / up.y;
    this.root.position.copy(bottom.addScaledVector(across, -width / 2));
    this.root.updateMatrixWorld(true);
    this.box = new THREE.Box3().setFromObject(wall);
    this.corners = [[0, 0], [width, 0], [width, height], [0, height]]
      .map(([x, y]) => this.root.localToWorld(new THREE.Vector3(x, y, 0)));
  }

  /** Local centre (x, y) of cell ``k``. */
  private cellCentre(k: number): [number, number] {
    const c = this.cells[k], n = Math.max(this.order.length, 1), cell = this.side / n;
    return [this.margin + (this.rowOf.get(c.dst)! + 0.5) * cell, this.strip + this.side - (this.rowOf.get(c.src)! + 0.5) * cell];
  }

  private cellColor(c: MatrixCell): THREE.Color {
    if (this.colorBy === "kind") {
      const [r, g, b] = this.cellKind(c) === "skip" ? SKIP_RGB : DATA_RGB;
      return new THREE.Color(srgbToLinear(r), srgbToLinear(g), srgbToLinear(b));
    }
    if (c.elements <= 0) return new THREE.Color(0.2, 0.2, 0.2);
    const [lo, hi] = this.sizeRange, out = new Float32Array(3);
    viridis(hi > lo ? (Math.log10(c.elements) - lo) / (hi - lo) : 0.5, out, 0);
    return new THREE.Color(out[0], out[1], out[2]);
  }

  /** Edge kinds by edge index, set by the view's edges at build time. */
  private kinds: string[] = [];
  private cellKind(c: MatrixCell): string {
    return this.kinds[c.edge] ?? "data";
  }

  /** Colour the cells by tensor size or by edge kind (the key is redrawn). */
  setColorBy(view: SceneView, mode: MatrixColor): void {
    this.colorBy = mode;
    if (!this.cellMesh || !this.back) return;
    this.cells.forEach((c, k) => this.cellMesh!.setColorAt(k, this.cellColor(c)));
    if (this.cellMesh.instanceColor) this.cellMesh.instanceColor.needsUpdate = true;
    const mat = this.back.material as THREE.MeshBasicMaterial;
    const g = this.back.geometry as THREE.PlaneGeometry;
    mat.map?.dispose();
    const t = new THREE.CanvasTexture(this.paint(view, g.parameters.width, g.parameters.height));
    t.colorSpace = THREE.SRGBColorSpace;
    t.anisotropy = 4;
    mat.map = t;
    mat.needsUpdate = true;
  }

  /** The wall's canvas: background, grid, diagonal, names, title and colour key. */
  private paint(view: SceneView, width: number, height: number): HTMLCanvasElement {
    const px = TEXTURE_PX / width; // texture pixels per scene unit
    const canvas = document.createElement("canvas");
    canvas.width = TEXTURE_PX;
    canvas.height = Math.round(height * px);
    const g = canvas.getContext("2d")!;
    const n = Math.max(this.order.length, 1), cell = (this.side / n) * px;
    const x0 = this.margin * px, y0 = this.margin * px; // the grid's top-left (canvas y down)
    const grid = this.side * px;
    g.fillStyle = "rgba(11, 13, 18, 0.88)";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#171b26";
    g.fillRect(x0, y0, grid, grid);
    g.strokeStyle = "#262c3c";
    g.lineWidth = Math.max(1, cell * 0.04);
    const every = n > 100 ? 10 : 1;
    g.beginPath();
    for (let i = 0; i <= n; i += every) {
      g.moveTo(x0, y0 + i * cell); g.lineTo(x0 + grid, y0 + i * cell);
      g.moveTo(x0 + i * cell, y0); g.lineTo(x0 + i * cell, y0 + grid);
    }
    g.stroke();
    g.fillStyle = "#2f3750"; // the diagonal: each block's own row and column meet there
    for (let i = 0; i < n; i++) g.fillRect(x0 + i * cell, y0 + i * cell, cell, cell);
    const font = (h: number) => `${Math.round(h)}px system-ui, sans-serif`;
    g.textBaseline = "middle";
    if (this.named) {
      const h = Math.min(cell * 0.62, x0 / 10);
      g.font = font(h);
      g.fillStyle = "#d8deea";
      const names = shortNames(this.order.map((b) => view.blocks[b].module));
      g.textAlign = "right";
      names.forEach((name, r) => g.fillText(name, x0 - h * 0.4, y0 + (r + 0.5) * cell, x0 - h * 0.6));
      g.save();
      g.rotate(-Math.PI / 2); // columns: read bottom to top, ending at the grid
      g.textAlign = "left";
      names.forEach((name, c) => g.fillText(name, -(y0 - h * 0.4), x0 + (c + 0.5) * cell, y0 - h * 0.6));
      g.restore();
    }
    // the title over the names' corner (or the grid), the key in the strip below
    const th = this.strip * px * 0.34;
    g.font = font(th);
    g.fillStyle = "#e8ecf4";
    g.textAlign = "left";
    const yKey = y0 + grid + this.strip * px * 0.5;
    g.fillText(`connections ${this.order.length}×${this.order.length} · ${this.cells.length} edges · row → column`,
      th * 0.5, yKey - th * 0.62, canvas.width - th);
    g.font = font(th * 0.8);
    g.fillStyle = "#aab3c5";
    if (this.colorBy === "kind") {
      let x = th * 0.5;
      for (const [label, rgb] of [["data", DATA_RGB], ["skip (residual)", SKIP_RGB]] as const) {
        g.fillStyle = `rgb(${rgb.map((v) => Math.round(v * 255)).join(",")})`;
        g.fillRect(x, yKey + th * 0.25, th * 0.8, th * 0.8);
        g.fillStyle = "#aab3c5";
        g.fillText(label, x + th * 1.1, yKey + th * 0.65);
        x += th * 1.1 + g.measureText(label).width + th;
      }
    } else {
      const [lo, hi] = this.sizeRange, w = canvas.width * 0.3, x = th * 0.5;
      const out = new Float32Array(3), c = new THREE.Color();
      for (let i = 0; i < 64; i++) {
        viridis(i / 63, out, 0);
        g.fillStyle = c.setRGB(out[0], out[1], out[2]).getStyle();
        g.fillRect(x + (i / 64) * w, yKey + th * 0.25, w / 64 + 1, th * 0.8);
      }
      g.fillStyle = "#aab3c5";
      const fmt = (e: number) => (e >= 3 ? `1e${e.toFixed(1)}` : `${Math.round(10 ** e)}`);
      g.fillText(`tensor elements ${fmt(lo)} … ${fmt(hi)} (log)`, x + w + th * 0.5, yKey + th * 0.65);
    }
    return canvas;
  }

  /** What ``raycaster`` points at on the wall, or null. */
  pick(raycaster: THREE.Raycaster): MatrixHit | null {
    if (!this.root.visible || !this.back) return null;
    const hit = raycaster.intersectObject(this.back, false)[0];
    if (!hit) return null;
    const local = this.root.worldToLocal(hit.point.clone());
    const n = this.order.length, cell = this.side / Math.max(n, 1);
    const col = Math.floor((local.x - this.margin) / cell);
    const row = Math.floor((this.strip + this.side - local.y) / cell);
    const inCols = col >= 0 && col < n, inRows = row >= 0 && row < n;
    if (inCols && inRows) {
      const k = this.cells.findIndex((c) => this.rowOf.get(c.src) === row && this.rowOf.get(c.dst) === col);
      return k >= 0 ? { kind: "cell", cell: k } : null;
    }
    if (inRows && local.x < this.margin) return { kind: "row", block: this.order[row] };
    if (inCols && local.y > this.strip + this.side) return { kind: "col", block: this.order[col] };
    return null;
  }

  /** Outline a cell, a row or a column (null: none). */
  mark(hit: MatrixHit | null): void {
    this.marker.visible = hit !== null;
    if (!hit) return;
    const n = Math.max(this.order.length, 1), cell = this.side / n;
    let x0: number, x1: number, y0: number, y1: number;
    const top = this.strip + this.side;
    if (hit.kind === "cell") {
      const [x, y] = this.cellCentre(hit.cell);
      [x0, x1, y0, y1] = [x - cell / 2, x + cell / 2, y - cell / 2, y + cell / 2];
    } else if (hit.kind === "row") {
      const r = this.rowOf.get(hit.block)!;
      [x0, x1, y0, y1] = [0, this.margin + this.side, top - (r + 1) * cell, top - r * cell];
    } else {
      const c = this.rowOf.get(hit.block)!;
      [x0, x1, y0, y1] = [this.margin + c * cell, this.margin + (c + 1) * cell, this.strip, top + this.margin];
    }
    const z = 0.01;
    const p = this.marker.geometry.getAttribute("position") as THREE.BufferAttribute;
    const pts = [x0, y0, x1, y0, x1, y0, x1, y1, x1, y1, x0, y1, x0, y1, x0, y0];
    for (let i = 0; i < 8; i++) p.setXYZ(i, pts[2 * i], pts[2 * i + 1], z);
    this.marker.geometry.setDrawRange(0, 8);
    p.needsUpdate = true;
    this.marker.geometry.computeBoundingSphere();
  }

  /** World centre of cell ``k`` (model units). */
  cellPoint(k: number): THREE.Vector3 {
    const [x, y] = this.cellCentre(k);
    this.root.updateMatrixWorld(true);
    return this.root.localToWorld(new THREE.Vector3(x, y, 0.004));
  }

  /** World point on row ``r``'s name (or its left edge when names are hidden). */
  rowPoint(r: number): THREE.Vector3 {
    const cell = this.side / Math.max(this.order.length, 1);
    this.root.updateMatrixWorld(true);
    return this.root.localToWorld(new THREE.Vector3(this.margin * 0.5, this.strip + this.side - (r + 0.5) * cell, 0));
  }

  clear(): void {
    for (const o of [this.cellMesh, this.back]) {
      if (!o) continue;
      this.root.remove(o);
      o.geometry.dispose();
      const mat = o.material as THREE.MeshBasicMaterial;
      mat.map?.dispose();
      mat.dispose();
    }
    this.cellMesh = null;
    this.back = null;
    this.box = null;
    this.corners = [];
    this.cells = [];
    this.marker.visible = false;
  }
}
