// Grabbing the model: squeeze one controller to carry it (move it and turn it about the
// vertical), squeeze both to scale it about the midpoint between the hands. Allocation-free.
import * as THREE from "three";
import type { Hand } from "./hands";

const MIN_SCALE = 0.002, MAX_SCALE = 20;
const _offset = new THREE.Vector3();
const _axis = new THREE.Vector3(0, 1, 0);

export class Grab {
  private readonly hands: Hand[] = [];
  // the hands and the model when the grab began
  private readonly startPoint = new THREE.Vector3();
  private startHeading = 0;
  private startSpread = 1;
  private readonly startPos = new THREE.Vector3();
  private startYaw = 0;
  private startScale = 1;
  // the hands now
  private readonly point = new THREE.Vector3();
  private heading = 0;
  private spread = 1;
  /** Grabs begun this session (a change of hands starts a new one). */
  count = 0;

  constructor(private world: THREE.Object3D) {}

  /** How many hands hold the model. */
  get active(): number { return this.hands.length; }

  /** Follow the squeezing hands; call each frame after the hands refreshed. */
  update(a: Hand | null, b: Hand | null): void {
    const wantA = !!a?.squeezing, wantB = !!b?.squeezing;
    const n = (wantA ? 1 : 0) + (wantB ? 1 : 0);
    if (n !== this.hands.length || (n === 1 && this.hands[0] !== (wantA ? a : b))) {
      this.hands.length = 0;
      if (wantA) this.hands.push(a!);
      if (wantB) this.hands.push(b!);
      if (n) this.begin();
      return;
    }
    if (!n) return;
    this.measure();
    const ratio = n === 2
      ? THREE.MathUtils.clamp(this.startScale * this.spread / this.startSpread, MIN_SCALE, MAX_SCALE) / this.startScale
      : 1;
    const turn = wrapAngle(this.heading - this.startHeading);
    _offset.copy(this.startPos).sub(this.startPoint).multiplyScalar(ratio).applyAxisAngle(_axis, turn);
    this.world.position.copy(this.point).add(_offset);
    this.world.rotation.set(0, this.startYaw + turn, 0);
    this.world.scale.setScalar(this.startScale * ratio);
    this.world.updateMatrixWorld(true);
  }

  private begin(): void {
    this.measure();
    this.startPoint.copy(this.point);
    this.startHeading = this.heading;
    this.startSpread = this.spread;
    this.startPos.copy(this.world.position);
    this.startYaw = this.world.rotation.y;
    this.startScale = this.world.scale.x;
    this.count++;
  }

  /** The hands' point (the hand, or the midpoint), heading and spread. */
  private measure(): void {
    const [h0, h1] = this.hands;
    if (!h1) {
      this.point.copy(h0.position);
      this.heading = h0.yaw;
      return;
    }
    this.point.copy(h0.position).add(h1.position).multiplyScalar(0.5);
    this.heading = Math.atan2(h1.position.x - h0.position.x, h1.position.z - h0.position.z);
    this.spread = Math.max(h0.position.distanceTo(h1.position), 1e-4);
  }
}

/** An angle in (-pi, pi]. */
export function wrapAngle(a: number): number {
  return Math.atan2(Math.sin(a), Math.cos(a));
}
