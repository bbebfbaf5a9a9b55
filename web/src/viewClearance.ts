// Keeping the model out from under the screen panels: after the default framing, the view is
// moved (the model slides up-left on screen and the camera backs off a little) until no block's
// projected outline touches the loss chart's panel or the toolbar.
import * as THREE from "three";

export interface Rect { left: number; top: number; right: number; bottom: number }

const STEPS = 30;

/** The last clearance: moves made, and boxes still under a panel after them (0 when clear). */
export const lastClearance = { moves: 0, under: 0 };
const corner = new THREE.Vector3();

/** The screen rectangle (CSS px, canvas at ``at``) of a box's projected corners. */
export function projectedRect(box: THREE.Box3, camera: THREE.Camera, at: DOMRect): Rect {
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (let k = 0; k < 8; k++) {
    corner.set(k & 1 ? box.max.x : box.min.x, k & 2 ? box.max.y : box.min.y, k & 4 ? box.max.z : box.min.z)
      .project(camera);
    const x = at.left + ((corner.x + 1) / 2) * at.width, y = at.top + ((1 - corner.y) / 2) * at.height;
    left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
  }
  return { left, top, right, bottom };
}

function overlaps(a: Rect, b: Rect): boolean {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/** How many of ``boxes`` (model coordinates) project onto ``rect``. */
export function boxesUnder(boxes: THREE.Box3[], camera: THREE.Camera, canvas: HTMLElement, rect: Rect): number {
  camera.updateMatrixWorld();
  const at = canvas.getBoundingClientRect();
  let n = 0;
  for (const b of boxes) if (overlaps(projectedRect(b, camera, at), rect)) n++;
  return n;
}

/** Move ``camera`` and ``target`` until no box lies under ``corner`` (a panel in the
 * bottom-right) nor ``top`` (the toolbar). Returns the number of moves made. */
export function clearPanels(boxes: THREE.Box3[], camera: THREE.PerspectiveCamera, target: THREE.Vector3,
  canvas: HTMLElement, corner: Rect | null, top: Rect | null): number {
  const forward = new THREE.Vector3(), right = new THREE.Vector3(), up = new THREE.Vector3();
  for (let i = 0; i < STEPS; i++) {
    const underCorner = corner ? boxesUnder(boxes, camera, canvas, corner) : 0;
    const underTop = top ? boxesUnder(boxes, camera, canvas, top) : 0;
    lastClearance.moves = i;
    lastClearance.under = underCorner + underTop;
    if (!underCorner && !underTop) return i;
    const dist = camera.position.distanceTo(target);
    forward.subVectors(target, camera.position).normalize();
    right.crossVectors(forward, camera.up).normalize();
    up.crossVectors(right, forward).normalize();
    const move = new THREE.Vector3();
    // the camera going right and down slides the scene left and up on the screen
    if (underCorner) move.addScaledVector(right, 0.03 * dist).addScaledVector(up, -0.012 * dist);
    if (underTop) move.addScaledVector(up, 0.015 * dist);
    camera.position.add(move);
    target.add(move);
    camera.position.sub(target).multiplyScalar(1.035).add(target); // and back off a little
    camera.lookAt(target);
  }
  lastClearance.moves = STEPS;
  return STEPS;
}
