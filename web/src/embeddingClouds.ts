// The embedding point clouds: one per layer beside its block, coloured by class, morphing
// (smoothstep) from one layout to the next; box-selected inputs light up in every cloud.
// A cloud is sized to be seen in the overview (at least EXTENT_SHARE of the model's extent) and
// placed beside its layer where it touches no block, group box or other cloud: slid out along x
// (behind the row, as the default view sees it), else above the block, else above everything. Each carries a title that faces the
// camera ("fc2 · UMAP · step 120"); the classes' colours are named in the legend (classLegend.ts).
// The server sends each layer's newest embedding while the view follows the run, and the one at
// or before the step shown after a seek (a replay's clouds follow the timeline): either way the
// cloud morphs to it. What a click on a point does is set by pointSelection.ts and said in the
// point's tooltip (``meta.click``).
import * as THREE from "three";
import type { Frame, NumericArray } from "./codec";
import { displayName } from "./dom";
import { type OverlayInfo, parse } from "./overlayFrame";
import { finite, frameBox, pointsMesh } from "./overlayMeshes";

/** Smallest cloud side (model units), and its share of the model's largest extent. */
const EMBED_MIN = 1.6, EXTENT_SHARE = 0.12;
/** Characters of a layer name in a cloud's title. */
const TITLE_CHARS = 32;

type Anchor = { x: number; z: number; sx: number; sz: number; sy: number };

interface Cloud {
  group: THREE.Group;
  points: THREE.Points;
  title: THREE.Sprite;
  titleText: string;
  size: number;
  box: THREE.Box3;
  from: Float32Array;
  to: Float32Array;
  t: number;
}

/** A cloud's title: "fc2 · UMAP · step 120" (the layer name is text, clamped). */
export function cloudTitle(o: OverlayInfo): string {
  return `${displayName(o.module || "(model)", TITLE_CHARS)} · ${displayName(o.meta.method ?? "", 12).toUpperCase()} · step ${Number(o.meta.step)}`;
}

export class EmbeddingClouds {
  readonly root = new THREE.Group();
  /** Newest embedding per layer, and its point cloud (morphing from the previous layout). */
  readonly embedList = new Map<string, OverlayInfo>();
  private readonly clouds = new Map<string, Cloud>();
  /** Seconds a cloud takes to morph to a new layout. */
  morphSeconds = 0.8;
  /** Inputs picked by a box selection (highlighted in every cloud), or null. */
  embedSelection: Set<number> | null = null;
  pointSize = 0.045;
  pointOpacity = 1;
  /** The boxes of the scene's blocks and group boxes (set by the viewer): clouds are placed
   * clear of them, and sized by their extent. */
  obstacles: () => THREE.Box3[] = () => [];
  /** What a click on point ``index`` does (set by pointSelection.ts). */
  clickPoint: (index: number) => void = () => undefined;
  /** The tooltip's words for that click, asked when a point is hovered (set there too). */
  clickHint: () => string = () => "click: show this input";

  /** ``anchor``: where a layer's block stands; ``targets``: the hoverable meshes of all overlays,
   * each cloud's points registered with the embedding it shows. */
  constructor(private anchor: (module: string) => Anchor | null,
    private targets: Map<THREE.Object3D, OverlayInfo>) {
    this.root.name = "embeddings";
  }

  /** Re-place every cloud beside its layer (after the scene changed). */
  relayout(): void {
    for (const layer of [...this.clouds.keys()]) this.removeCloud(layer);
    for (const o of this.embedList.values()) this.placeEmbedding(o);
  }

  /** A layer's embedding (an ``embedding`` frame): its cloud morphs from where it was. True when
   * a cloud was placed anew (the scene's extent may have grown). */
  setEmbedding(frame: Frame): boolean {
    const [o] = parse(frame);
    if (!o) return false;
    this.embedList.set(o.module, o);
    const cloud = this.clouds.get(o.module);
    if (cloud && cloud.to.length === o.arrays.positions.length) {
      const attr = cloud.points.geometry.getAttribute("position") as THREE.BufferAttribute;
      cloud.from = Float32Array.from(attr.array as Float32Array);
      cloud.to = this.scaled(o.arrays.positions, cloud.size);
      cloud.t = 0;
      this.targets.delete(cloud.points);
      this.targets.set(cloud.points, this.clickable(o));
      this.setTitle(cloud, cloudTitle(o));
      this.paintCloud(o.module);
      return false;
    }
    this.removeCloud(o.module);
    return this.placeEmbedding(o);
  }

  /** ``o`` whose ``meta.click`` reads the current click hint (overlayValues.ts puts it in the
   * tooltip: whether the model is there to show an input can change after the cloud came). */
  private clickable(o: OverlayInfo): OverlayInfo {
    Object.defineProperty(o.meta, "click", { get: () => this.clickHint(), enumerable: false, configurable: true });
    return o;
  }

  /** Each cloud: its layer, title, side and box in model coordinates. */
  boxes(): { layer: string; title: string; size: number; min: number[]; max: number[] }[] {
    return [...this.clouds.entries()].map(([layer, c]) => ({ layer, title: c.titleText, size: c.size,
      min: c.box.min.toArray(), max: c.box.max.toArray() }));
  }

  /** The box around every cloud and its title, or null without clouds. */
  bounds(): THREE.Box3 | null {
    if (!this.clouds.size) return null;
    const box = new THREE.Box3();
    for (const c of this.clouds.values()) box.union(c.box).expandByPoint(c.title.position.clone().add(c.group.position));
    return box;
  }

  private scaled(positions: NumericArray, size: number): Float32Array {
    const out = new Float32Array(positions.length);
    for (let i = 0; i < out.length; i++) out[i] = finite(positions[i]) * (size / 2);
    return out;
  }

  private removeCloud(layer: string): void {
    const old = this.clouds.get(layer);
    if (!old) return;
    this.root.remove(old.group);
    this.targets.delete(old.points);
    old.points.geometry.dispose();
    (old.points.material as THREE.Material).dispose();
    old.title.material.map?.dispose();
    old.title.material.dispose();
    this.clouds.delete(layer);
  }

  /** Where a cloud of side ``size`` goes beside block ``a``: slid out along x from the block,
   * to +x or to -x, whichever is nearer (+x on a tie), until its box (title included) touches no
   * obstacle and no other cloud; above the block when both sides are far (another row of a
   * folded model), above everything when nothing else is free. */
  private findSpot(a: Anchor, size: number, obstacles: THREE.Box3[]): THREE.Vector3 {
    const gap = Math.max(0.4, 0.12 * size);
    const all = [...obstacles, ...[...this.clouds.values()].map((c) => c.box)];
    const probe = new THREE.Box3();
    const hits = (p: THREE.Vector3) => {
      const h = size / 2 + gap / 2;
      probe.min.set(p.x - h, p.y - h, p.z - h);
      probe.max.set(p.x + h, p.y + h + 0.2 * size, p.z + h); // the title above
      return all.filter((b) => b.intersectsBox(probe));
    };
    const y = size / 2 + 0.1;
    const sweep = (dir: number): number | null => {
      let x = a.x + dir * (a.sx / 2 + gap + size / 2);
      for (let i = 0; i < 40; i++) {
        const hit = hits(new THREE.Vector3(x, y, a.z));
        if (!hit.length) return x;
        x = dir < 0 ? Math.min(...hit.map((b) => b.min.x)) - gap - size / 2 - 1e-3
          : Math.max(...hit.map((b) => b.max.x)) + gap + size / 2 + 1e-3;
      }
      return null;
    };
    const left = sweep(-1), right = sweep(1);
    const dl = left === null ? Infinity : a.x - left, dr = right === null ? Infinity : right - a.x;
    // the +x side unless the other is much nearer: the default view looks from -x, so a cloud
    // there stands behind its row and shows above it on the screen instead of hiding blocks
    const x = dr <= 1.25 * dl ? right : left;
    if (x !== null && Math.min(dl, dr) <= a.sx / 2 + 2 * (size + gap)) return new THREE.Vector3(x, y, a.z);
    const above = new THREE.Vector3(a.x, a.sy + gap + size / 2, a.z);
    if (!hits(above).length) return above;
    if (x !== null) return new THREE.Vector3(x, y, a.z);
    let top = 0;
    for (const b of all) top = Math.max(top, b.max.y);
    return new THREE.Vector3(a.x, top + gap + size / 2, a.z);
  }

  private placeEmbedding(o: OverlayInfo): boolean {
    const a = this.anchor(o.module);
    if (!a) return false;
    const blocks = this.obstacles();
    const model = new THREE.Box3();
    for (const b of blocks) model.union(b);
    const extent = model.isEmpty() ? 0 : Math.max(...model.getSize(new THREE.Vector3()).toArray());
    const size = Math.max(EMBED_MIN, EXTENT_SHARE * extent);
    const points = pointsMesh(o.arrays.positions, o.arrays.colors as Uint8Array, size * 0.999);
    const mat = points.material as THREE.PointsMaterial;
    mat.size = this.pointSize * (size / EMBED_MIN);
    mat.transparent = true;
    mat.opacity = this.pointOpacity;
    points.name = `embedding:${o.module}`;
    const to = Float32Array.from((points.geometry.getAttribute("position") as THREE.BufferAttribute).array as Float32Array);
    const group = new THREE.Group();
    group.position.copy(this.findSpot(a, size, blocks));
    const title = new THREE.Sprite(new THREE.SpriteMaterial({ transparent: true, depthWrite: false, toneMapped: false }));
    title.name = `embedding-title:${o.module}`;
    title.renderOrder = 2;
    group.add(points, frameBox(size, size, size), title);
    this.root.add(group);
    const box = new THREE.Box3().setFromCenterAndSize(group.position, new THREE.Vector3(size, size, size));
    const cloud: Cloud = { group, points, title, titleText: "", size, box, from: to, to, t: 1 };
    this.setTitle(cloud, cloudTitle(o));
    this.targets.set(points, this.clickable(o));
    this.clouds.set(o.module, cloud);
    this.paintCloud(o.module);
    return true;
  }

  /** Draw a cloud's title into its sprite, above the cloud, as wide as the cloud at most. */
  private setTitle(cloud: Cloud, text: string): void {
    if (text === cloud.titleText) return;
    cloud.titleText = text;
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d")!;
    const font = "bold 44px Roboto, system-ui, sans-serif";
    ctx.font = font;
    canvas.width = Math.ceil(ctx.measureText(text).width) + 40;
    canvas.height = 64;
    ctx.font = font;
    ctx.fillStyle = "rgba(20, 24, 33, 0.78)";
    ctx.beginPath();
    ctx.roundRect(0, 0, canvas.width, canvas.height, 14);
    ctx.fill();
    ctx.fillStyle = "#e3e7ef";
    ctx.textBaseline = "middle";
    ctx.fillText(text, 20, canvas.height / 2 + 2);
    const texture = new THREE.CanvasTexture(canvas);
    texture.colorSpace = THREE.SRGBColorSpace;
    const mat = cloud.title.material;
    mat.map?.dispose();
    mat.map = texture;
    mat.needsUpdate = true;
    let h = 0.13 * cloud.size, w = (h * canvas.width) / canvas.height;
    if (w > 1.5 * cloud.size) { w = 1.5 * cloud.size; h = (w * canvas.height) / canvas.width; }
    cloud.title.scale.set(w, h, 1);
    cloud.title.position.set(0, cloud.size / 2 + 0.7 * h, 0);
  }

  /** Colours of a cloud: its classes, unselected points dimmed while a selection holds. */
  private paintCloud(layer: string): void {
    const cloud = this.clouds.get(layer), o = this.embedList.get(layer);
    if (!cloud || !o) return;
    const col = cloud.points.geometry.getAttribute("color") as THREE.BufferAttribute;
    const c = new THREE.Color();
    const rgb = o.arrays.colors;
    const sel = this.embedSelection;
    for (let i = 0; i < col.count; i++) {
      c.setRGB(rgb[3 * i] / 255, rgb[3 * i + 1] / 255, rgb[3 * i + 2] / 255, THREE.SRGBColorSpace);
      if (sel && !sel.has(i)) c.multiplyScalar(0.12);
      col.setXYZ(i, c.r, c.g, c.b);
    }
    col.needsUpdate = true;
  }

  /** Highlight these inputs in every cloud (null: all normal). */
  selectInputs(indices: Set<number> | null): void {
    this.embedSelection = indices && indices.size ? indices : null;
    for (const layer of this.clouds.keys()) this.paintCloud(layer);
  }

  /** Inputs whose point, in any cloud, projects inside a screen rectangle (NDC corners). */
  inputsInBox(camera: THREE.Camera, x0: number, y0: number, x1: number, y1: number): Set<number> {
    const out = new Set<number>();
    const v = new THREE.Vector3();
    const [ax, bx, ay, by] = [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)];
    for (const cloud of this.clouds.values()) {
      const p = cloud.points.geometry.getAttribute("position") as THREE.BufferAttribute;
      cloud.points.updateMatrixWorld();
      for (let i = 0; i < p.count; i++) {
        v.set(p.getX(i), p.getY(i), p.getZ(i)).applyMatrix4(cloud.points.matrixWorld).project(camera);
        if (v.z < 1 && v.x >= ax && v.x <= bx && v.y >= ay && v.y <= by) out.add(i);
      }
    }
    return out;
  }

  pointColor(layer: string, index: number): number[] | null {
    const cloud = this.clouds.get(layer);
    if (!cloud) return null;
    const col = cloud.points.geometry.getAttribute("color") as THREE.BufferAttribute;
    return [col.getX(index), col.getY(index), col.getZ(index)];
  }

  /** Point size and opacity of every cloud. */
  setPointStyle(size: number, opacity: number): void {
    this.pointSize = size;
    this.pointOpacity = opacity;
    for (const cloud of this.clouds.values()) {
      const mat = cloud.points.material as THREE.PointsMaterial;
      mat.size = size * (cloud.size / EMBED_MIN);
      mat.opacity = opacity;
    }
  }

  /** Advance the clouds' morphs; true while one is moving. */
  tick(dt: number): boolean {
    let moving = false;
    for (const cloud of this.clouds.values()) {
      if (cloud.t >= 1) continue;
      cloud.t = Math.min(1, cloud.t + dt / this.morphSeconds);
      const s = cloud.t * cloud.t * (3 - 2 * cloud.t); // smoothstep
      const attr = cloud.points.geometry.getAttribute("position") as THREE.BufferAttribute;
      const arr = attr.array as Float32Array;
      for (let i = 0; i < arr.length; i++) arr[i] = cloud.from[i] + (cloud.to[i] - cloud.from[i]) * s;
      attr.needsUpdate = true;
      moving = true;
    }
    return moving;
  }

  /** Where point ``index`` of a layer's cloud is now (scene coordinates), or null. */
  embeddingPoint(layer: string, index: number): THREE.Vector3 | null {
    const cloud = this.clouds.get(layer);
    if (!cloud) return null;
    const p = cloud.points.geometry.getAttribute("position") as THREE.BufferAttribute;
    cloud.points.updateMatrixWorld();
    return new THREE.Vector3(p.getX(index), p.getY(index), p.getZ(index)).applyMatrix4(cloud.points.matrixWorld);
  }

}
