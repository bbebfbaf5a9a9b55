// Labels as SDF text (troika-three-text), readable at any zoom. A fixed pool of text meshes is
// assigned to the labels nearest the camera, so label draw calls stay bounded for any model.
import * as THREE from "three";
import { Text } from "troika-three-text";
import fontUrl from "@fontsource/roboto/files/roboto-latin-400-normal.woff?url";
import { displayName } from "./dom";
import type { SceneView } from "./sceneView";

export const LABEL_POOL = 40;
/** Characters of a label drawn in the scene (a 10,000-character name ends in "…"). */
const LABEL_CHARS = 120;

export class LabelPool {
  readonly root = new THREE.Group();
  private texts: Text[] = [];
  private assigned: number[] = [];
  private pinned = new Set<number>();
  onSync: () => void = () => {};

  constructor(private size = LABEL_POOL) {
    this.root.name = "labels";
    for (let i = 0; i < size; i++) {
      const t = new Text();
      t.font = fontUrl;
      t.anchorX = "center";
      t.anchorY = "bottom";
      t.color = 0xe8ecf4;
      t.outlineWidth = "6%";
      t.outlineColor = 0x0b0d12;
      t.visible = false;
      t.renderOrder = 10;
      (t.material as THREE.Material).depthTest = true;
      this.texts.push(t);
      this.assigned.push(-1);
      this.root.add(t);
    }
  }

  /** Always show these label indices (hovered or selected block). */
  pin(indices: number[]): void {
    this.pinned = new Set(indices.filter((i) => i >= 0));
  }

  /** Assign the pool to the labels nearest the camera that are in view; face the camera. */
  update(view: SceneView, camera: THREE.PerspectiveCamera): void {
    const n = view.labels.length;
    camera.updateMatrixWorld();
    const frustum = new THREE.Frustum().setFromProjectionMatrix(
      new THREE.Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse));
    const p = view.labelPositions;
    const v = new THREE.Vector3();
    const cand: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      v.set(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      if (!frustum.containsPoint(v) && !this.pinned.has(i)) continue;
      cand.push([this.pinned.has(i) ? -1 : v.distanceToSquared(camera.position), i]);
    }
    cand.sort((a, b) => a[0] - b[0]);
    const chosen = cand.slice(0, this.size).map((c) => c[1]);
    for (let k = 0; k < this.size; k++) {
      const t = this.texts[k];
      const i = k < chosen.length ? chosen[k] : -1;
      if (i < 0) { t.visible = false; this.assigned[k] = -1; continue; }
      if (this.assigned[k] !== i) {
        t.text = displayName(view.labels[i].text, LABEL_CHARS);
        this.assigned[k] = i;
        t.sync(() => this.onSync());
      }
      t.position.set(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      const dist = camera.position.distanceTo(t.position);
      t.fontSize = view.labelSizes[i] * THREE.MathUtils.clamp(dist / 25, 0.6, 5);
      t.quaternion.copy(camera.quaternion);
      t.visible = true;
    }
  }

  get visibleCount(): number {
    return this.texts.filter((t) => t.visible).length;
  }

  clear(): void {
    for (let k = 0; k < this.size; k++) { this.texts[k].visible = false; this.assigned[k] = -1; }
  }
}
