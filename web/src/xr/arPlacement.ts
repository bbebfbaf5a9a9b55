// Where the model stands in AR: on a real surface found by hit-test, at a size that fits a table
// top. Like VR (placement.ts) the model root is what is placed and then grabbed, scaled and
// toured; rotation is about the vertical only, so the network stays upright.
import * as THREE from "three";
import { tableYaw } from "./placement";

/** The longest side of the model's footprint when placed, in metres: it fits a table top. */
export const AR_FOOTPRINT = 0.6;
/** The tallest the model is when placed, in metres. */
export const AR_TALLEST = 0.4;
/** The loss chart's height behind a placed model, in metres (VR's is 0.4 m behind a 1.6 m
 * model): about half the footprint's length, so it does not tower over the table. */
export const AR_CHART_HEIGHT = 0.25;
/** The least upward component of a surface's normal for the model to stand on it (cos 25 deg):
 * floors, tables and shelves, not walls. */
export const LEVEL = Math.cos((25 * Math.PI) / 180);

const _size = new THREE.Vector3();
const _r = new THREE.Vector3();
const _axis = new THREE.Vector3(0, 1, 0);

/** Scale and place ``root`` so the model (``box``, model units: forward +z, up +y) stands with its
 * base on the surface at ``point``, its footprint's centre there, its forward axis running from
 * the left to the right of a viewer at ``head`` (as on the VR table), its longest horizontal
 * side ``AR_FOOTPRINT`` at most. */
export function placeOnSurface(root: THREE.Object3D, box: THREE.Box3, point: THREE.Vector3, head: THREE.Vector3): void {
  box.getSize(_size);
  const s = Math.min(AR_FOOTPRINT / Math.max(_size.x, _size.z, 1e-3), AR_TALLEST / Math.max(_size.y, 1e-3));
  const dx = point.x - head.x, dz = point.z - head.z;
  const yaw = tableYaw(Math.hypot(dx, dz) > 1e-6 ? Math.atan2(dx, dz) : Math.PI);
  root.scale.setScalar(s);
  root.rotation.set(0, yaw, 0);
  _r.set((box.min.x + box.max.x) / 2, box.min.y, (box.min.z + box.max.z) / 2).multiplyScalar(s).applyAxisAngle(_axis, yaw);
  root.position.copy(point).sub(_r);
  root.updateMatrixWorld(true);
}

/** The model's footprint as placed (metres): its length and width (the sides of the turned
 * rectangle it covers), the height of its base and its centre. */
export function footprintOf(root: THREE.Object3D, box: THREE.Box3): { length: number; width: number; base: number; centre: number[] } {
  box.getSize(_size);
  const s = root.scale.x;
  _r.set((box.min.x + box.max.x) / 2, box.min.y, (box.min.z + box.max.z) / 2);
  root.updateMatrixWorld(true);
  _r.applyMatrix4(root.matrixWorld);
  return { length: Math.max(_size.x, _size.z) * s, width: Math.min(_size.x, _size.z) * s, base: _r.y, centre: _r.toArray() };
}
