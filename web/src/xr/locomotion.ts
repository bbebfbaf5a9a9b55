// Getting around in VR without walking: teleport (push the right thumbstick forward, aim the
// parabolic arc at the floor, release), smooth movement (left thumbstick) and snap turns (right
// thumbstick sideways). All of them move the model root the opposite way; the head stays put.
// Buffers and vectors are allocated once.
import * as THREE from "three";
import type { Hand } from "./hands";
import { turnAbout } from "./placement";

const ARC_POINTS = 48;
const ARC_SPEED = 7; // m/s along the controller's ray
const GRAVITY = 9.8;
const ARC_DT = 0.03; // s between arc samples
const MOVE_SPEED = 1.5; // m/s at full stick
const SNAP_ANGLE = Math.PI / 6;
const DEAD = 0.2, ENGAGE = 0.7, RELEASE = 0.3;

export class Locomotion {
  readonly root = new THREE.Group();
  private readonly arc: THREE.Line;
  private readonly arcPositions = new Float32Array(ARC_POINTS * 3);
  private readonly marker: THREE.Mesh;
  private aiming = false;
  private turned = false;
  private readonly landing = new THREE.Vector3();
  private landingValid = false;
  private readonly move = new THREE.Vector3();
  private readonly axis = new THREE.Vector3(0, 1, 0);
  /** Teleports done this session (for tests and the status readout). */
  teleports = 0;

  constructor(private world: THREE.Object3D) {
    this.root.name = "locomotion";
    const geo = new THREE.BufferGeometry();
    geo.setAttribute("position", new THREE.BufferAttribute(this.arcPositions, 3));
    geo.setDrawRange(0, 0);
    this.arc = new THREE.Line(geo, new THREE.LineBasicMaterial({ color: 0x7fe0ff }));
    this.arc.frustumCulled = false;
    this.arc.visible = false;
    this.marker = new THREE.Mesh(new THREE.RingGeometry(0.18, 0.25, 32).rotateX(-Math.PI / 2),
      new THREE.MeshBasicMaterial({ color: 0x7fe0ff, transparent: true, opacity: 0.8, side: THREE.DoubleSide }));
    this.marker.visible = false;
    this.root.add(this.arc, this.marker);
  }

  /** One frame: ``mover`` (left) moves smoothly, ``pointer`` (right) teleports and turns. */
  update(dt: number, mover: Hand | null, pointer: Hand | null, head: THREE.Vector3, headYaw: number): void {
    if (mover) {
      const x = mover.stickX(), y = mover.stickY();
      if (Math.abs(x) > DEAD || Math.abs(y) > DEAD) {
        // stick forward (y < 0) walks along the head's heading: the world moves back
        this.move.set(x, 0, y).applyAxisAngle(this.axis, headYaw + Math.PI).multiplyScalar(MOVE_SPEED * dt);
        this.world.position.sub(this.move);
      }
    }
    if (!pointer) return;
    const x = pointer.stickX(), y = pointer.stickY();
    if (!this.turned && Math.abs(x) > ENGAGE && Math.abs(y) < ENGAGE) {
      // turning the viewer right turns the world the other way about them
      turnAbout(this.world, head, x > 0 ? SNAP_ANGLE : -SNAP_ANGLE);
      this.turned = true;
    } else if (Math.abs(x) < RELEASE) this.turned = false;
    if (y < -ENGAGE) {
      this.aiming = true;
      this.trace(pointer);
    } else if (this.aiming && y > -RELEASE) {
      this.aiming = false;
      this.arc.visible = this.marker.visible = false;
      if (this.landingValid) this.teleportTo(this.landing, head);
    }
  }

  /** Move the world so the viewer stands at floor point ``to`` (reference space). */
  teleportTo(to: THREE.Vector3, head: THREE.Vector3): void {
    this.world.position.x += head.x - to.x;
    this.world.position.z += head.z - to.z;
    this.world.updateMatrixWorld(true);
    this.teleports++;
  }

  get landingPoint(): number[] | null {
    return this.landingValid && this.aiming ? [this.landing.x, this.landing.y, this.landing.z] : null;
  }

  /** The parabola from the controller until it meets the floor (y = 0). */
  private trace(hand: Hand): void {
    const o = hand.position, d = hand.direction, p = this.arcPositions;
    let n = 0;
    this.landingValid = false;
    let px = o.x, py = o.y, pz = o.z;
    for (let i = 0; i < ARC_POINTS; i++) {
      const t = i * ARC_DT;
      const x = o.x + d.x * ARC_SPEED * t, y = o.y + d.y * ARC_SPEED * t - 0.5 * GRAVITY * t * t, z = o.z + d.z * ARC_SPEED * t;
      if (y <= 0 && i > 0) {
        const u = py / (py - y); // where the segment crosses the floor
        this.landing.set(px + (x - px) * u, 0, pz + (z - pz) * u);
        p[3 * n] = this.landing.x; p[3 * n + 1] = 0; p[3 * n + 2] = this.landing.z;
        n++;
        this.landingValid = true;
        break;
      }
      p[3 * n] = x; p[3 * n + 1] = y; p[3 * n + 2] = z;
      n++;
      px = x; py = y; pz = z;
    }
    const geo = this.arc.geometry;
    geo.setDrawRange(0, n);
    (geo.getAttribute("position") as THREE.BufferAttribute).needsUpdate = true;
    this.arc.visible = true;
    this.marker.visible = this.landingValid;
    if (this.landingValid) this.marker.position.copy(this.landing);
  }
}
