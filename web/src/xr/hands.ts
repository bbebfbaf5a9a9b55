// The two tracked controllers: their target-ray spaces (three.js WebXR controllers), a pointer
// line each, what their buttons did since the last frame, and their thumbsticks. Events only set
// flags; the frame loop reads them, so nothing is picked with a stale controller matrix.
import * as THREE from "three";

const RAY_LENGTH = 4;

export class Hand {
  /** Target-ray space: origin at the controller, pointing down -z. */
  readonly ray: THREE.XRTargetRaySpace;
  readonly line: THREE.Line;
  handedness: XRHandedness = "none";
  /** "tracked-pointer" (a controller or a hand), "screen" (a phone's touch), "gaze"... */
  mode: XRTargetRayMode = "tracked-pointer";
  connected = false;
  private gamepad: Gamepad | null = null;
  /** The trigger was pressed since the frame loop last looked. */
  selectPressed = false;
  squeezing = false;
  /** World position and pointing direction, refreshed each frame by ``refresh``. */
  readonly position = new THREE.Vector3();
  readonly direction = new THREE.Vector3();
  /** Heading of the pointing direction about +y, radians (atan2(x, z)). */
  yaw = 0;

  constructor(renderer: THREE.WebGLRenderer, index: number) {
    this.ray = renderer.xr.getController(index);
    const geo = new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3(0, 0, -1)]);
    this.line = new THREE.Line(geo, new THREE.LineBasicMaterial({ color: 0x9fd0ff, transparent: true, opacity: 0.7 }));
    this.line.scale.z = RAY_LENGTH;
    this.line.name = "pointer";
    this.ray.add(this.line);
    this.ray.addEventListener("connected", (e) => {
      const src = (e as unknown as { data: XRInputSource }).data;
      this.handedness = src.handedness;
      this.mode = src.targetRayMode;
      this.gamepad = src.gamepad ?? null;
      this.connected = true;
    });
    this.ray.addEventListener("disconnected", () => { this.connected = false; this.gamepad = null; this.squeezing = false; });
    this.ray.addEventListener("selectstart", () => { this.selectPressed = true; });
    this.ray.addEventListener("squeezestart", () => { this.squeezing = true; });
    this.ray.addEventListener("squeezeend", () => { this.squeezing = false; });
  }

  refresh(): void {
    this.ray.updateMatrixWorld(true);
    this.position.setFromMatrixPosition(this.ray.matrixWorld);
    this.direction.set(0, 0, -1).transformDirection(this.ray.matrixWorld);
    this.yaw = Math.atan2(this.direction.x, this.direction.z);
  }

  /** Thumbstick x (right +) and y (back +), -1..1; 0 without a gamepad (xr-standard axes 2, 3). */
  stickX(): number { return this.axis(2); }
  stickY(): number { return this.axis(3); }

  private axis(i: number): number {
    const g = this.gamepad;
    return g && g.axes.length > i ? g.axes[i] : 0;
  }

  /** Shorten the pointer line to ``length`` metres (where it hits), or back to full length. */
  setRayLength(length = RAY_LENGTH): void {
    this.line.scale.z = length;
  }
}
