// Where the model stands in VR. The model root (the group holding the scene) is the only thing
// moved: placed, grabbed, teleported past and toured; the headset's camera is the head and is
// never moved. Rotation is about the vertical only, so the network stays upright.
import * as THREE from "three";

/** The tallest the model is shown at first, in metres. */
export const COMFORT_HEIGHT = 1.3;
/** The longest (along its forward axis or across) the model is shown at first, in metres. */
export const COMFORT_LENGTH = 6;
/** Distance from the viewer to the model's input end, in metres. */
export const COMFORT_DISTANCE = 1.0;

const _r = new THREE.Vector3();
const _size = new THREE.Vector3();
const _axis = new THREE.Vector3(0, 1, 0);

/** Scale and place ``root`` so the model (``box``, in its own units) stands on the floor
 * (y = 0) in front of a viewer at ``head`` looking along heading ``headYaw`` (atan2(x, z)), its
 * input end nearest and the network running away from the viewer. */
export function placeOnFloor(root: THREE.Object3D, box: THREE.Box3, head: THREE.Vector3, headYaw: number): void {
  box.getSize(_size);
  const s = Math.min(COMFORT_HEIGHT / Math.max(_size.y, 1e-3), COMFORT_LENGTH / Math.max(_size.x, _size.z, 1e-3));
  // the model's +z (its forward direction) along the viewer's heading
  root.scale.setScalar(s);
  root.rotation.set(0, headYaw, 0);
  // the bottom of the input end's centre line goes to the floor, COMFORT_DISTANCE ahead
  _r.set((box.min.x + box.max.x) / 2, box.min.y, box.min.z).multiplyScalar(s).applyAxisAngle(_axis, headYaw);
  root.position.set(head.x + Math.sin(headYaw) * COMFORT_DISTANCE - _r.x, -_r.y,
    head.z + Math.cos(headYaw) * COMFORT_DISTANCE - _r.z);
  root.updateMatrixWorld(true);
}

/** Move ``root`` (keeping its scale) so the viewpoint ``eye`` (model units) is at ``head`` and
 * the horizontal direction from ``eye`` to ``target`` is the viewer's heading ``headYaw``. */
export function viewFrom(root: THREE.Object3D, eye: THREE.Vector3, target: THREE.Vector3,
  head: THREE.Vector3, headYaw: number): void {
  const dx = target.x - eye.x, dz = target.z - eye.z;
  const yaw = headYaw - (Math.hypot(dx, dz) > 1e-6 ? Math.atan2(dx, dz) : 0);
  root.rotation.set(0, yaw, 0);
  _r.copy(eye).multiplyScalar(root.scale.x).applyAxisAngle(_axis, yaw);
  root.position.copy(head).sub(_r);
  root.updateMatrixWorld(true);
}

/** Turn ``root`` by ``angle`` radians about the vertical line through ``pivot``. */
export function turnAbout(root: THREE.Object3D, pivot: THREE.Vector3, angle: number): void {
  _r.copy(root.position).sub(pivot);
  _r.y = 0;
  _r.applyAxisAngle(_axis, angle);
  root.position.x = pivot.x + _r.x;
  root.position.z = pivot.z + _r.z;
  root.rotation.y += angle;
  root.updateMatrixWorld(true);
}

/** Heading (atan2(x, z)) of the direction a matrix's -z axis points to. */
export function headingOf(m: THREE.Matrix4): number {
  const e = m.elements;
  return Math.atan2(-e[8], -e[10]);
}
