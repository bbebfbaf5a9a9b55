// Where overlays stand: beside their block, in space no block occupies. Every candidate spot is
// checked against the boxes of all blocks in the scene (whatever the layout's shape: one row,
// folded rows, "×N" groups) and against the overlays already placed; when no candidate is free,
// the last one rises until it is.
import * as THREE from "three";
import type { SceneView } from "./sceneView";

/** Air kept between an overlay and any block. */
const MARGIN = 0.04;
/** How far a blocked candidate rises per try, and the most tries. */
const RISE = 0.25, MAX_RISES = 400;

/** The box of every block in the scene (world = model units). */
export function blockBoxes(view: SceneView): THREE.Box3[] {
  const p = view.blockPositions, s = view.blockScales, out: THREE.Box3[] = [];
  for (let i = 0; i < p.length / 3; i++) {
    out.push(new THREE.Box3(
      new THREE.Vector3(p[3 * i] - s[3 * i] / 2, p[3 * i + 1] - s[3 * i + 1] / 2, p[3 * i + 2] - s[3 * i + 2] / 2),
      new THREE.Vector3(p[3 * i] + s[3 * i] / 2, p[3 * i + 1] + s[3 * i + 1] / 2, p[3 * i + 2] + s[3 * i + 2] / 2)));
  }
  return out;
}

export class Placer {
  private readonly taken: THREE.Box3[] = [];

  constructor(private readonly blocks: THREE.Box3[]) {}

  /** True when a box of ``size`` centred at ``at`` touches no block and no placed overlay. */
  free(at: THREE.Vector3, size: THREE.Vector3): boolean {
    const box = new THREE.Box3().setFromCenterAndSize(at, size).expandByScalar(MARGIN);
    return !this.blocks.some((b) => b.intersectsBox(box)) && !this.taken.some((b) => b.intersectsBox(box));
  }

  /** The first free candidate centre (or the last one, raised until free); the spot is taken. */
  place(size: THREE.Vector3, candidates: THREE.Vector3[]): THREE.Vector3 {
    let at = candidates.find((c) => this.free(c, size));
    if (!at) {
      at = candidates[candidates.length - 1].clone();
      for (let k = 0; k < MAX_RISES && !this.free(at, size); k++) at.y += RISE;
    }
    this.taken.push(new THREE.Box3().setFromCenterAndSize(at, size));
    return at.clone();
  }

  /** Mark a box as taken (an overlay placed by other rules). */
  take(box: THREE.Box3): void {
    this.taken.push(box.clone());
  }
}

/** Panels are built facing +z in their own frame (x right, y up) and turned to face -x, where
 * the framing camera stands (navigation.ts VIEW_FROM): local +x runs forward along world +z. */
export const FACE_VIEWER = -Math.PI / 2;

/** The world-space size of a panel of local size (w, h, d) turned by FACE_VIEWER. */
export function turnedSize(w: number, h: number, d: number): THREE.Vector3 {
  return new THREE.Vector3(d, h, w);
}
