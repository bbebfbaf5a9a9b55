// Three.js objects for one scene frame. Draw calls stay bounded whatever the model's size:
// all blocks are one InstancedMesh, all block outlines one LineSegments, all edges one
// LineSegments, all group boxes one InstancedMesh plus one LineSegments.
import * as THREE from "three";
import type { Frame } from "./codec";
import { srgbToLinear } from "./colormap";

export interface BlockInfo {
  path: string;
  module: string;
  kind: string;
  role: string;
  collapsed: boolean;
  params: number;
  input_shapes: (number | string)[][];
  output_shapes: (number | string)[][];
  dtypes: string[];
  shared_params: Record<string, string>;
  repeat_group: string | null;
  [key: string]: unknown;
}

export interface GroupInfo {
  path: string;
  module: string;
  kind: string;
  depth: number;
  total_params: number;
  [key: string]: unknown;
}

export interface Pick { kind: "block" | "group"; index: number; }

/** Scene path of a dotted module path ("" is the model itself); scene paths pass through. */
export function scenePathOf(module: string): string {
  if (module.startsWith("/")) return module;
  return `/model${module ? "/" + module.replace(/\./g, "/") : ""}`;
}

const HIGHLIGHT = new THREE.Color(1, 1, 1);
/** Opacity of skip (residual) edges when not highlighted. */
const SKIP_OPACITY = 0.35;
/** Ghost outlines drawn behind a stack, and their offset (+x, +y), as layout/layered.py. */
const STACK_GHOSTS = 3;
const STACK_SHIFT = 0.18;

function lineSet(segs: number[], cols: number[], opacity: number, name: string): THREE.LineSegments {
  const geo = new THREE.BufferGeometry();
  geo.setAttribute("position", new THREE.Float32BufferAttribute(segs, 3));
  geo.setAttribute("color", new THREE.Float32BufferAttribute(cols, 3));
  const lines = new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ vertexColors: true,
    transparent: opacity < 1, opacity, depthWrite: opacity >= 1 }));
  lines.name = name;
  return lines;
}
const ARC_SAMPLES = 12;

export class SceneView {
  readonly root = new THREE.Group();
  blocks: BlockInfo[] = [];
  groups: GroupInfo[] = [];
  labels: { path: string; text: string; for: string }[] = [];
  meta: Record<string, any> = {};
  labelPositions: Float32Array = new Float32Array(0);
  labelSizes: Float32Array = new Float32Array(0);
  blockPositions: Float32Array = new Float32Array(0);
  blockScales: Float32Array = new Float32Array(0);
  groupPositions: Float32Array = new Float32Array(0);
  groupScales: Float32Array = new Float32Array(0);
  readonly pathIndex = new Map<string, Pick>();
  /** Each edge's scene paths and its drawn polyline (x, y, z per point, source to target). */
  edges: { src: string; dst: string; kind: string; line: Float32Array }[] = [];
  private blockMesh: THREE.InstancedMesh | null = null;
  private groupMesh: THREE.InstancedMesh | null = null;
  private edgeHighlight: THREE.LineSegments | null = null;
  /** Category colours from the scene, linear RGB (B, 3). */
  private baseColors: Float32Array = new Float32Array(0);
  /** Colours set by setBlockColors (linear RGB, (B, 3)), or null for the category colours. */
  private override: Float32Array | null = null;
  private overrideBuf: Float32Array = new Float32Array(0);
  private readonly scratch = new THREE.Color();
  private hovered = -1;
  private selectedBlock = -1;
  private selectedPick: Pick | null = null;
  /** Blocks lit from another view (the connection matrix: topologyViews.ts), as if hovered. */
  private lit = new Set<number>();
  /** Each edge's colour (linear RGB), in ``edges`` order. */
  private edgeColors: [number, number, number][] = [];
  readonly selectionBox: THREE.LineSegments;

  constructor() {
    const geo = new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1));
    this.selectionBox = new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color: 0xffffff }));
    this.selectionBox.visible = false;
    this.selectionBox.name = "selection";
  }

  load(frame: Frame): void {
    this.dispose();
    const h = frame.header;
    const a = frame.arrays;
    this.meta = h.meta ?? {};
    this.blocks = h.blocks;
    this.groups = h.groups;
    this.labels = h.labels;
    this.blockPositions = a.block_position.data as Float32Array;
    this.blockScales = a.block_scale.data as Float32Array;
    this.groupPositions = a.group_position.data as Float32Array;
    this.groupScales = a.group_scale.data as Float32Array;
    this.labelPositions = a.label_position.data as Float32Array;
    this.labelSizes = a.label_size.data as Float32Array;
    this.pathIndex.clear();
    this.blocks.forEach((b, i) => this.pathIndex.set(b.path, { kind: "block", index: i }));
    this.groups.forEach((g, i) => this.pathIndex.set(g.path, { kind: "group", index: i }));

    this.blockMesh = this.buildBoxes(this.blockPositions, this.blockScales,
      a.block_color.data as Uint8Array, new THREE.MeshStandardMaterial({ roughness: 0.6, metalness: 0.05 }));
    this.blockMesh.name = "blocks";
    this.baseColors = new Float32Array(this.blocks.length * 3);
    for (let i = 0; i < this.blocks.length * 3; i++) {
      this.baseColors[i] = srgbToLinear((a.block_color.data[i] as number) / 255);
    }
    this.override = null;
    this.root.add(this.blockMesh);
    this.root.add(this.buildOutlines(this.blockPositions, this.blockScales, 0x0b0d12, "block-outlines"));

    if (this.groups.length) {
      const mat = new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.07, depthWrite: false,
        side: THREE.DoubleSide });
      this.groupMesh = this.buildBoxes(this.groupPositions, this.groupScales, a.group_color.data as Uint8Array, mat);
      this.groupMesh.name = "groups";
      this.groupMesh.renderOrder = 2;
      this.root.add(this.groupMesh);
      this.root.add(this.buildOutlines(this.groupPositions, this.groupScales, 0x8a90a8, "group-outlines"));
    }
    this.root.add(this.buildEdges(a.edge_offsets.data as Uint32Array, a.edge_points.data as Float32Array,
      a.edge_color.data as Uint8Array, h.edges ?? []));
    const ghosts = this.buildStackGhosts();
    if (ghosts) this.root.add(ghosts);
    this.root.add(this.selectionBox);
    this.edgeHighlight = null;
    this.hovered = -1;
    this.selectedBlock = -1;
    this.selectedPick = null;
    this.lit.clear();
  }

  private buildBoxes(pos: Float32Array, scale: Float32Array, colors: Uint8Array,
    material: THREE.Material): THREE.InstancedMesh {
    const n = pos.length / 3;
    const mesh = new THREE.InstancedMesh(new THREE.BoxGeometry(1, 1, 1), material, Math.max(n, 1));
    mesh.count = n;
    const m = new THREE.Matrix4();
    const c = new THREE.Color();
    for (let i = 0; i < n; i++) {
      m.makeScale(scale[3 * i], scale[3 * i + 1], scale[3 * i + 2]);
      m.setPosition(pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
      mesh.setMatrixAt(i, m);
      c.setRGB(colors[3 * i] / 255, colors[3 * i + 1] / 255, colors[3 * i + 2] / 255, THREE.SRGBColorSpace);
      mesh.setColorAt(i, c);
    }
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    mesh.computeBoundingSphere();
    mesh.computeBoundingBox();
    return mesh;
  }

  private buildOutlines(pos: Float32Array, scale: Float32Array, color: number, name: string): THREE.LineSegments {
    const n = pos.length / 3;
    const corners = new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1)).getAttribute("position").array as Float32Array;
    const out = new Float32Array(n * corners.length);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < corners.length; k += 3) {
        const o = i * corners.length + k;
        out[o] = pos[3 * i] + corners[k] * scale[3 * i];
        out[o + 1] = pos[3 * i + 1] + corners[k + 1] * scale[3 * i + 1];
        out[o + 2] = pos[3 * i + 2] + corners[k + 2] * scale[3 * i + 2];
      }
    }
    const geo = new THREE.BufferGeometry();
    geo.setAttribute("position", new THREE.BufferAttribute(out, 3));
    const lines = new THREE.LineSegments(geo, new THREE.LineBasicMaterial({ color, transparent: true, opacity: 0.6 }));
    lines.name = name;
    return lines;
  }

  private buildEdges(offsets: Uint32Array, points: Float32Array, colors: Uint8Array,
    meta: { src: string; dst: string; kind: string }[]): THREE.LineSegments {
    this.edges = [];
    this.edgeColors = [];
    const c = new THREE.Color();
    const nEdges = offsets.length - 1;
    for (let e = 0; e < nEdges; e++) {
      const start = offsets[e], end = offsets[e + 1];
      const pts: THREE.Vector3[] = [];
      for (let p = start; p < end; p++) pts.push(new THREE.Vector3(points[3 * p], points[3 * p + 1], points[3 * p + 2]));
      const line = pts.length > 2
        ? new THREE.CatmullRomCurve3(pts, false, "centripetal").getPoints(ARC_SAMPLES * (pts.length - 1))
        : pts;
      c.setRGB(colors[3 * e] / 255, colors[3 * e + 1] / 255, colors[3 * e + 2] / 255, THREE.SRGBColorSpace);
      const flat = new Float32Array(line.length * 3);
      line.forEach((p, i) => flat.set([p.x, p.y, p.z], 3 * i));
      this.edges.push({ src: meta[e]?.src ?? "", dst: meta[e]?.dst ?? "", kind: meta[e]?.kind ?? "data", line: flat });
      this.edgeColors.push([c.r, c.g, c.b]);
    }
    return this.drawEdges();
  }

  /** The edges' lines from ``edges`` (their polylines) and their colours. */
  private drawEdges(): THREE.LineSegments {
    const segs: number[] = [];
    const cols: number[] = [];
    const skipSegs: number[] = [];
    const skipCols: number[] = [];
    this.edges.forEach((edge, e) => {
      // skip edges are drawn faint (a wall of residual arcs never hides the blocks); the
      // selected or hovered block's edges are drawn bright on top (highlightEdges)
      const [sg, cl] = edge.kind === "skip" ? [skipSegs, skipCols] : [segs, cols];
      const [r, g, b] = this.edgeColors[e];
      const line = edge.line;
      for (let i = 0; i + 3 < line.length; i += 3) {
        sg.push(...line.subarray(i, i + 6));
        cl.push(r, g, b, r, g, b);
      }
    });
    const lines = lineSet(segs, cols, 1, "edges");
    if (skipSegs.length) lines.add(lineSet(skipSegs, skipCols, SKIP_OPACITY, "skip-edges"));
    return lines;
  }

  /** Draw the edges of block ``index`` (-1: none) bright, over the faint skip edges. */
  highlightEdges(indices: number[]): void {
    if (this.edgeHighlight) { this.root.remove(this.edgeHighlight); this.edgeHighlight.geometry.dispose(); this.edgeHighlight = null; }
    const paths = new Set(indices.filter((i) => i >= 0 && i < this.blocks.length).map((i) => this.blocks[i].path));
    if (!paths.size) return;
    const segs: number[] = [];
    const cols: number[] = [];
    for (const e of this.edges) {
      if (!paths.has(e.src) && !paths.has(e.dst)) continue;
      const [r, g, b] = e.kind === "skip" ? [1, 0.62, 0.3] : [1, 1, 1];
      for (let i = 0; i + 3 < e.line.length; i += 3) {
        segs.push(...e.line.subarray(i, i + 6));
        cols.push(r, g, b, r, g, b);
      }
    }
    if (!segs.length) return;
    this.edgeHighlight = lineSet(segs, cols, 1, "edge-highlight");
    this.edgeHighlight.renderOrder = 5;
    this.root.add(this.edgeHighlight);
  }

  /** What a label stands for (by scene path): a block or group, its largest extent, its depth. */
  labelTarget(path: string): { kind: "block" | "group"; size: number; depth: number } | null {
    const pick = this.pathIndex.get(path);
    if (!pick) return null;
    const s = pick.kind === "block" ? this.blockScales : this.groupScales;
    const i = pick.index;
    const size = Math.max(s[3 * i], s[3 * i + 1], s[3 * i + 2]);
    return { kind: pick.kind, size, depth: pick.kind === "group" ? Number(this.groups[i].depth ?? 0) : 99 };
  }

  /** Ghost outlines behind stacked blocks and groups (``meta.stack`` members, "×N"). */
  private buildStackGhosts(): THREE.LineSegments | null {
    const pos: number[] = [], scale: number[] = [];
    const add = (p: Float32Array, sc: Float32Array, i: number, count: number) => {
      const ghosts = Math.min(STACK_GHOSTS, count - 1);
      for (let k = ghosts; k >= 1; k--) {
        pos.push(p[3 * i] + k * STACK_SHIFT, p[3 * i + 1] + k * STACK_SHIFT, p[3 * i + 2]);
        scale.push(sc[3 * i], sc[3 * i + 1], sc[3 * i + 2]);
      }
    };
    this.blocks.forEach((b, i) => { if (Number(b.stack) > 1) add(this.blockPositions, this.blockScales, i, Number(b.stack)); });
    this.groups.forEach((g, i) => { if (Number(g.stack) > 1) add(this.groupPositions, this.groupScales, i, Number(g.stack)); });
    if (!pos.length) return null;
    const lines = this.buildOutlines(new Float32Array(pos), new Float32Array(scale), 0xb8c2dc, "stack-ghosts");
    (lines.material as THREE.LineBasicMaterial).opacity = 0.55;
    return lines;
  }

  pick(raycaster: THREE.Raycaster): Pick | null {
    if (this.blockMesh) {
      const hit = raycaster.intersectObject(this.blockMesh, false)[0];
      if (hit && hit.instanceId !== undefined) return { kind: "block", index: hit.instanceId };
    }
    if (this.groupMesh) {
      // the innermost (smallest) group box that the ray enters
      const hits = raycaster.intersectObject(this.groupMesh, false);
      let best: Pick | null = null;
      let bestVolume = Infinity;
      for (const h of hits) {
        if (h.instanceId === undefined) continue;
        const s = this.groupScales;
        const v = s[3 * h.instanceId] * s[3 * h.instanceId + 1] * s[3 * h.instanceId + 2];
        if (v < bestVolume) { bestVolume = v; best = { kind: "group", index: h.instanceId }; }
      }
      return best;
    }
    return null;
  }

  setHover(index: number): boolean {
    if (index === this.hovered || !this.blockMesh) return false;
    const prev = this.hovered;
    this.hovered = index;
    if (prev >= 0) this.paint(prev);
    if (index >= 0) this.paint(index);
    this.highlightEdges([this.hovered, this.selectedBlock]);
    return true;
  }

  select(pick: Pick | null): void {
    this.selectedPick = pick;
    const prev = this.selectedBlock;
    this.selectedBlock = pick?.kind === "block" ? pick.index : -1;
    if (prev >= 0) this.paint(prev);
    if (this.selectedBlock >= 0) this.paint(this.selectedBlock);
    this.highlightEdges([this.hovered, this.selectedBlock]);
    if (!pick) { this.selectionBox.visible = false; return; }
    const [pos, scale] = pick.kind === "block" ? [this.blockPositions, this.blockScales] : [this.groupPositions, this.groupScales];
    const i = pick.index;
    this.selectionBox.position.set(pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
    this.selectionBox.scale.set(scale[3 * i] * 1.04 + 0.02, scale[3 * i + 1] * 1.04 + 0.02, scale[3 * i + 2] * 1.04 + 0.02);
    this.selectionBox.visible = true;
  }

  /** Colour every block from ``rgbLinear`` (linear RGB, 3 per block, copied), or restore the
   * category colours with null. Hover and selection highlighting apply on top. */
  setBlockColors(rgbLinear: Float32Array | null): void {
    if (rgbLinear) {
      const n = this.blocks.length * 3;
      if (rgbLinear.length !== n) throw new Error(`setBlockColors: ${rgbLinear.length} values for ${this.blocks.length} blocks`);
      if (this.overrideBuf.length !== n) this.overrideBuf = new Float32Array(n);
      this.overrideBuf.set(rgbLinear);
      this.override = this.overrideBuf;
    } else this.override = null;
    if (!this.blockMesh) return;
    for (let i = 0; i < this.blocks.length; i++) this.paint(i);
  }

  /** The colour set for block ``i`` (linear RGB, without hover/selection highlighting). */
  blockColor(i: number): [number, number, number] {
    const src = this.override ?? this.baseColors;
    return [src[3 * i], src[3 * i + 1], src[3 * i + 2]];
  }

  /** The colour block ``i`` is drawn in now (linear RGB, hover and selection included). */
  shownColor(i: number): [number, number, number] | null {
    if (!this.blockMesh || i < 0 || i >= this.blocks.length) return null;
    const c = this.blockMesh.getColorAt(i, new THREE.Color());
    return [c.r, c.g, c.b];
  }

  /** The category colours of all blocks, linear RGB (B, 3); read-only. */
  get categoryColors(): Float32Array {
    return this.baseColors;
  }

  private paint(i: number): void {
    if (!this.blockMesh) return;
    const src = this.override ?? this.baseColors;
    const c = this.scratch.setRGB(src[3 * i], src[3 * i + 1], src[3 * i + 2]);
    if (i === this.hovered || i === this.selectedBlock || this.lit.has(i)) {
      c.lerp(HIGHLIGHT, i === this.hovered || this.lit.has(i) ? 0.45 : 0.3);
    }
    this.blockMesh.setColorAt(i, c);
    this.blockMesh.instanceColor!.needsUpdate = true;
  }

  /** Light these blocks as if hovered (-1s ignored); the others lit before go back. */
  setLit(indices: number[]): void {
    const before = [...this.lit];
    this.lit = new Set(indices.filter((i) => i >= 0 && i < this.blocks.length));
    for (const i of new Set([...before, ...this.lit])) this.paint(i);
  }

  /** Redraw where things stand after ``blockPositions``, ``groupPositions``, ``groupScales``
   * and the ``edges``' lines were changed in place (a layout change: topologyViews.ts);
   * colours, hover and selection stay. */
  relocate(): void {
    const m = new THREE.Matrix4();
    const place = (mesh: THREE.InstancedMesh | null, pos: Float32Array, scale: Float32Array) => {
      if (!mesh) return;
      for (let i = 0; i < pos.length / 3; i++) {
        m.makeScale(scale[3 * i], scale[3 * i + 1], scale[3 * i + 2]);
        m.setPosition(pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
        mesh.setMatrixAt(i, m);
      }
      mesh.instanceMatrix.needsUpdate = true;
      mesh.computeBoundingSphere();
      mesh.computeBoundingBox();
    };
    place(this.blockMesh, this.blockPositions, this.blockScales);
    place(this.groupMesh, this.groupPositions, this.groupScales);
    const swap = (name: string, make: () => THREE.Object3D | null) => {
      const old = this.root.getObjectByName(name);
      if (old) {
        this.root.remove(old);
        old.traverse((o) => { (o as THREE.Mesh).geometry?.dispose(); ((o as THREE.Mesh).material as THREE.Material)?.dispose?.(); });
      }
      const made = make();
      if (made) this.root.add(made);
    };
    swap("block-outlines", () => this.buildOutlines(this.blockPositions, this.blockScales, 0x0b0d12, "block-outlines"));
    if (this.groupMesh) swap("group-outlines", () => this.buildOutlines(this.groupPositions, this.groupScales, 0x8a90a8, "group-outlines"));
    swap("edges", () => this.drawEdges());
    swap("stack-ghosts", () => this.buildStackGhosts());
    this.select(this.selectedPick);
  }

  boxOf(pick: Pick): THREE.Box3 {
    const [pos, scale] = pick.kind === "block" ? [this.blockPositions, this.blockScales] : [this.groupPositions, this.groupScales];
    const i = pick.index;
    const c = new THREE.Vector3(pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]);
    const s = new THREE.Vector3(scale[3 * i], scale[3 * i + 1], scale[3 * i + 2]);
    return new THREE.Box3().setFromCenterAndSize(c, s);
  }

  bounds(): THREE.Box3 {
    const box = new THREE.Box3();
    const p = this.blockPositions, s = this.blockScales;
    for (let i = 0; i < p.length / 3; i++) {
      box.expandByPoint(new THREE.Vector3(p[3 * i] - s[3 * i] / 2, p[3 * i + 1] - s[3 * i + 1] / 2, p[3 * i + 2] - s[3 * i + 2] / 2));
      box.expandByPoint(new THREE.Vector3(p[3 * i] + s[3 * i] / 2, p[3 * i + 1] + s[3 * i + 1] / 2, p[3 * i + 2] + s[3 * i + 2] / 2));
    }
    if (box.isEmpty()) box.setFromCenterAndSize(new THREE.Vector3(), new THREE.Vector3(1, 1, 1));
    return box;
  }

  dispose(): void {
    for (const child of [...this.root.children]) {
      this.root.remove(child);
      if (child === this.selectionBox) continue;
      child.traverse((o) => {
        const obj = o as THREE.Mesh;
        obj.geometry?.dispose();
        (obj.material as THREE.Material | undefined)?.dispose?.();
      });
    }
    this.edgeHighlight = null;
    this.blockMesh = null;
    this.groupMesh = null;
  }
}
