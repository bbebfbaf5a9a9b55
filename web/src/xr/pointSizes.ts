// Point sprites (health badges, gradient-flow particles, embedding and scatter points) are sized
// in the model's units by their material, but three.js does not scale a point's size with its
// parents: in VR, where the model root is scaled down to a table, a 0.3-unit badge would be drawn
// 0.3 m wide over a model 1.6 m long. This keeps their sizes in step with the root's scale.
import type * as THREE from "three";

interface SizeMemo { nnvBaseSize?: number; nnvShownSize?: number }

export class PointSizes {
  private scale = 1;
  private readonly visit = (o: THREE.Object3D): void => {
    if (!(o as THREE.Points).isPoints) return;
    const m = (o as THREE.Points).material as THREE.PointsMaterial;
    if (!m.isPointsMaterial || !m.sizeAttenuation) return;
    const memo = m.userData as SizeMemo;
    if (memo.nnvShownSize !== m.size) memo.nnvBaseSize = m.size; // new, or resized by the viewer
    m.size = (memo.nnvBaseSize ?? m.size) * this.scale;
    memo.nnvShownSize = m.size;
  };

  constructor(private readonly root: THREE.Object3D) {}

  /** Scale the points under the root by its scale (call every few frames: overlays come and go). */
  update(): void {
    this.scale = this.root.scale.x;
    this.root.traverse(this.visit);
  }

  /** Give the points their own sizes back (the session ended). */
  restore(): void {
    this.scale = 1;
    this.root.traverse(this.visit);
  }
}
