// Where the model stands in VR. The model root (the group holding the scene) is the only thing
// moved: placed, grabbed, teleported past and toured; the headset's camera is the head and is
// never moved. Rotation is about the vertical only, so the network stays upright. At first the
// model lies on a table beside the viewer, running from their left to their right.
import * as THREE from "three";

/** The longest the model's forward axis (input to output, shown left to right) is at first, in
 * metres: a table's length. At arm's length, looked down at, it spans about 75 degrees of view
 * (the ends ~37 degrees either side of the gaze), inside a headset's ~100 degree field: the whole
 * network is seen at first sight, and a step to either side walks along it. Longer (2 m and
 * more) a long model's ends leave the field; shorter, its blocks and labels get too small. */
export const TABLE_LENGTH = 1.6;
/** The most the model reaches away from the viewer (its branches, or rows of a folded layout),
 * in metres: a table's depth, so its far side stays within reach. */
export const TABLE_DEPTH = 0.9;
/** The tallest the model is at first, in metres: its top stays below the eyes. */
export const TABLE_TALLEST = 0.55;
/** The height of the model's floor (its blocks stand on it), in metres: a table's. */
export const TABLE_HEIGHT = 0.85;
/** The least the table top is below the eyes (a seated viewer gets a lower table), in metres. */
const BELOW_EYES = 0.65;
/** From the head to the model's centre line (forward, horizontal), in metres: an arm's length,
 * so a block is in reach of the controller; with the table 0.75 m below the eyes the model is
 * then ~45 degrees below the horizon (nearer, it would fall out of the bottom of the view). */
export const ARM_LENGTH = 0.75;
/** The least distance from the head to the model's near side (forward), in metres. */
const NEAR_SIDE = 0.3;

const _r = new THREE.Vector3();
const _size = new THREE.Vector3();
const _axis = new THREE.Vector3(0, 1, 0);

/** Scale and place ``root`` so the model (``box``, in its own units: forward +z, branches along
 * x, up +y) stands on a table in front of a viewer at ``head`` looking along heading ``headYaw``
 * (atan2(x, z)): its forward axis runs from the viewer's left to their right (the input end
 * nearest the left hand), centred on the gaze an arm's length ahead, its floor at table height.
 * The model's +x then points away from the viewer. */
export function placeOnTable(root: THREE.Object3D, box: THREE.Box3, head: THREE.Vector3, headYaw: number): void {
  box.getSize(_size);
  const s = Math.min(TABLE_LENGTH / Math.max(_size.z, 1e-3), TABLE_DEPTH / Math.max(_size.x, 1e-3),
    TABLE_TALLEST / Math.max(_size.y, 1e-3));
  const yaw = tableYaw(headYaw);
  root.scale.setScalar(s);
  root.rotation.set(0, yaw, 0);
  // the footprint's centre goes ahead on the gaze; the model's floor (box.min.y) to the table
  const ahead = Math.max(ARM_LENGTH, NEAR_SIDE + (s * _size.x) / 2);
  _r.set((box.min.x + box.max.x) / 2, box.min.y, (box.min.z + box.max.z) / 2).multiplyScalar(s).applyAxisAngle(_axis, yaw);
  root.position.set(head.x + Math.sin(headYaw) * ahead - _r.x, tableHeight(head) - _r.y,
    head.z + Math.cos(headYaw) * ahead - _r.z);
  root.updateMatrixWorld(true);
}

/** The model root's heading that turns its +z to the right of a viewer facing ``headYaw``. */
export function tableYaw(headYaw: number): number {
  return headYaw - Math.PI / 2;
}

/** The table's height for a viewer whose eyes are at ``head``. */
export function tableHeight(head: THREE.Vector3): number {
  return Math.max(0, Math.min(TABLE_HEIGHT, head.y - BELOW_EYES));
}

/** The loss chart's height in VR, in metres (its width is twice that). */
export const CHART_HEIGHT = 0.4;

/** Stand the loss chart (a plane 2 wide and 1 high facing its +z, in the model root's units)
 * behind the model's input half, above the table and facing the viewer: a board behind the
 * table, never between the viewer and the model, and clear of the info panel on the right.
 * ``box``: the model's box; ``scale``: the model root's scale; ``height``: the chart's, metres. */
export function placeChartBehind(chart: THREE.Object3D, box: THREE.Box3, scale: number, height = CHART_HEIGHT): void {
  const h = height / scale, gap = 0.08 / scale;
  chart.scale.set(h, h, 1);
  chart.rotation.set(0, -Math.PI / 2, 0); // faces the model's -x: the viewer's side
  // its middle a quarter of the way along the model, or its left edge at the input end
  const z = Math.max(box.min.z + h, box.min.z + 0.25 * (box.max.z - box.min.z));
  // its bottom clear of the model and of what floats over a selected block (ridges, scatter)
  chart.position.set(box.max.x + gap, Math.max(box.max.y, box.min.y + 0.25 / scale) + gap + h / 2, z);
  chart.updateMatrixWorld(true);
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
