// The table the model stands on in VR: a dark slab under the model's footprint with a light rim,
// in the model root (it moves, turns and scales with the model). It stands in for the desktop's
// floor grid, which in VR would be a floor at table height reaching past the viewer.
import * as THREE from "three";

/** Margin around the model's footprint and the slab's thickness, in metres. */
const MARGIN = 0.05, THICK = 0.025;

export class Table {
  readonly root = new THREE.Group();
  private readonly slab: THREE.Mesh;
  private readonly rim: THREE.LineSegments;

  constructor() {
    this.root.name = "vr-table";
    this.slab = new THREE.Mesh(new THREE.BoxGeometry(1, 1, 1),
      new THREE.MeshStandardMaterial({ color: 0x1c2230, roughness: 0.9, metalness: 0 }));
    this.rim = new THREE.LineSegments(new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1)),
      new THREE.LineBasicMaterial({ color: 0x3b4b70 }));
    this.root.add(this.slab, this.rim);
  }

  /** Fit the slab under ``box`` (model units) for a model root scaled by ``scale``. */
  fit(box: THREE.Box3, scale: number): void {
    const m = MARGIN / scale, t = THICK / scale;
    for (const o of [this.slab, this.rim]) {
      o.scale.set(box.max.x - box.min.x + 2 * m, t, box.max.z - box.min.z + 2 * m);
      o.position.set((box.min.x + box.max.x) / 2, box.min.y - t / 2 - 0.002 / scale, (box.min.z + box.max.z) / 2);
    }
    this.root.updateMatrixWorld(true);
  }
}
