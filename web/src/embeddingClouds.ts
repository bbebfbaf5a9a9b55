// The embedding point clouds: one per layer beside its block, coloured by class, morphing
// (smoothstep) from one layout to the next; box-selected inputs light up in every cloud.
import * as THREE from "three";
import type { Frame, NumericArray } from "./codec";
import { type OverlayInfo, parse } from "./overlayFrame";
import { finite, frameBox, pointsMesh } from "./overlayMeshes";

const EMBED_SIZE = 1.6, EMBED_GAP = 0.6;

type Anchor = { x: number; z: number; sx: number; sz: number; sy: number };

export class EmbeddingClouds {
  readonly root = new THREE.Group();
  /** Newest embedding per layer, and its point cloud (morphing from the previous layout). */
  readonly embedList = new Map<string, OverlayInfo>();
  private readonly clouds = new Map<string, { points: THREE.Points; from: Float32Array; to: Float32Array; t: number }>();
  /** Seconds a cloud takes to morph to a new layout. */
  morphSeconds = 0.8;
  /** Inputs picked by a box selection (highlighted in every cloud), or null. */
  embedSelection: Set<number> | null = null;
  pointSize = 0.045;
  pointOpacity = 1;

  /** ``anchor``: where a layer's block stands; ``targets``: the hoverable meshes of all overlays,
   * each cloud's points registered with the embedding it shows. */
  constructor(private anchor: (module: string) => Anchor | null,
    private targets: Map<THREE.Object3D, OverlayInfo>) {
    this.root.name = "embeddings";
  }

  /** Re-anchor every cloud beside its layer (after the scene changed). */
  relayout(): void {
    for (const o of this.embedList.values()) this.placeEmbedding(o);
  }

  /** A layer's embedding (an ``embedding`` frame): its cloud morphs from where it was. */
  setEmbedding(frame: Frame): void {
    const [o] = parse(frame);
    if (!o) return;
    this.embedList.set(o.module, o);
    const cloud = this.clouds.get(o.module);
    if (cloud && cloud.to.length === o.arrays.positions.length) {
      const attr = cloud.points.geometry.getAttribute("position") as THREE.BufferAttribute;
      cloud.from = Float32Array.from(attr.array as Float32Array);
      cloud.to = this.scaled(o.arrays.positions);
      cloud.t = 0;
      this.targets.set(cloud.points, o);
      this.paintCloud(o.module);
    } else this.placeEmbedding(o);
  }

  private scaled(positions: NumericArray): Float32Array {
    const out = new Float32Array(positions.length);
    for (let i = 0; i < out.length; i++) out[i] = finite(positions[i]) * (EMBED_SIZE / 2);
    return out;
  }

  private placeEmbedding(o: OverlayInfo): void {
    const old = this.clouds.get(o.module);
    if (old) {
      this.root.remove(old.points.parent!);
      this.targets.delete(old.points);
      old.points.geometry.dispose();
      (old.points.material as THREE.Material).dispose();
      this.clouds.delete(o.module);
    }
    const a = this.anchor(o.module);
    if (!a) return;
    const points = pointsMesh(o.arrays.positions, o.arrays.colors as Uint8Array, EMBED_SIZE * 0.999);
    const mat = points.material as THREE.PointsMaterial;
    mat.size = this.pointSize;
    mat.transparent = true;
    mat.opacity = this.pointOpacity;
    points.name = `embedding:${o.module}`;
    const to = Float32Array.from((points.geometry.getAttribute("position") as THREE.BufferAttribute).array as Float32Array);
    const group = new THREE.Group();
    group.add(points, frameBox(EMBED_SIZE, EMBED_SIZE, EMBED_SIZE));
    // beside its layer, on the -x side, floating at the block's height
    group.position.set(a.x - a.sx / 2 - EMBED_GAP - EMBED_SIZE / 2, EMBED_SIZE / 2 + 0.1, a.z);
    this.root.add(group);
    this.targets.set(points, o);
    this.clouds.set(o.module, { points, from: to, to, t: 1 });
    this.paintCloud(o.module);
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
      mat.size = size;
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
