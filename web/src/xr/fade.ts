// Fading the view to black between tour stops (a jump cut in VR without the fade makes people
// sick): a small black sphere around the head, seen from inside, drawn over everything.
import * as THREE from "three";

const FADE_S = 0.35;

export class Fade {
  readonly mesh: THREE.Mesh;
  private readonly material: THREE.MeshBasicMaterial;
  private phase: "idle" | "out" | "in" = "idle";
  private t = 0;
  private onDark: (() => void) | null = null;

  constructor() {
    this.material = new THREE.MeshBasicMaterial({ color: 0x000000, transparent: true, opacity: 0,
      side: THREE.BackSide, depthTest: false, depthWrite: false });
    this.mesh = new THREE.Mesh(new THREE.SphereGeometry(0.25, 16, 12), this.material);
    this.mesh.name = "fade";
    this.mesh.renderOrder = 1000;
    this.mesh.frustumCulled = false;
    this.mesh.visible = false;
  }

  /** Fade out, call ``onDark`` while black, fade back in; returns the seconds it all takes. */
  run(onDark: () => void): number {
    this.onDark = onDark;
    this.phase = "out";
    this.t = 0;
    return 2 * FADE_S;
  }

  get opacity(): number { return this.material.opacity; }

  /** Advance; keep the sphere on the head. */
  update(dt: number, head: THREE.Vector3): void {
    this.mesh.position.copy(head);
    if (this.phase === "idle") return;
    this.t += dt;
    const u = Math.min(1, this.t / FADE_S);
    this.material.opacity = this.phase === "out" ? u : 1 - u;
    this.mesh.visible = this.material.opacity > 0;
    if (u < 1) return;
    if (this.phase === "out") {
      this.onDark?.();
      this.onDark = null;
      this.phase = "in";
      this.t = 0;
    } else this.phase = "idle";
  }

  /** Stop fading and clear the view at once. */
  reset(): void {
    this.phase = "idle";
    this.onDark = null;
    this.material.opacity = 0;
    this.mesh.visible = false;
  }
}
