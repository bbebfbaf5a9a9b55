// Orbit + fly navigation, framing, and the camera kept in the URL so a view can be shared.
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

/** Where the default view looks from, relative to what it frames: forward (+z) reads left to right. */
export const VIEW_FROM = new THREE.Vector3(-0.85, 0.6, -0.3).normalize();

/** True while the user types into a form field (keys are not shortcuts then). */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (el?.tagName === "INPUT") return !["range", "button", "checkbox"].includes((el as HTMLInputElement).type);
  return el?.tagName === "SELECT" || el?.tagName === "TEXTAREA";
}

export class Navigation {
  readonly controls: OrbitControls;
  private keys = new Set<string>();
  private anim: { from: [THREE.Vector3, THREE.Vector3]; to: [THREE.Vector3, THREE.Vector3]; t0: number; ms: number } | null = null;
  private urlTimer = 0;
  onChange: () => void = () => {};

  constructor(readonly camera: THREE.PerspectiveCamera, dom: HTMLElement) {
    this.controls = new OrbitControls(camera, dom);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener("change", () => { this.onChange(); this.saveToUrl(); });
    window.addEventListener("keydown", (e) => {
      if (isTyping(e.target)) return;
      this.keys.add(e.key.toLowerCase());
      if (this.flying()) this.onChange();
    });
    window.addEventListener("keyup", (e) => this.keys.delete(e.key.toLowerCase()));
    window.addEventListener("blur", () => this.keys.clear());
  }

  private flying(): boolean {
    return ["w", "a", "s", "d", "q", "e"].some((k) => this.keys.has(k));
  }

  /** Advance fly movement and camera animations; true when the view changed. */
  tick(dt: number): boolean {
    let changed = false;
    if (this.anim) {
      const u = Math.min(1, (performance.now() - this.anim.t0) / this.anim.ms);
      const s = u * u * (3 - 2 * u);
      this.camera.position.lerpVectors(this.anim.from[0], this.anim.to[0], s);
      this.controls.target.lerpVectors(this.anim.from[1], this.anim.to[1], s);
      if (u >= 1) this.anim = null;
      changed = true;
    }
    if (this.flying()) {
      const dist = this.camera.position.distanceTo(this.controls.target);
      const speed = Math.max(2, dist) * dt * (this.keys.has("shift") ? 3 : 1);
      const fwd = new THREE.Vector3();
      this.camera.getWorldDirection(fwd);
      const right = new THREE.Vector3().crossVectors(fwd, this.camera.up).normalize();
      const move = new THREE.Vector3();
      if (this.keys.has("w")) move.add(fwd);
      if (this.keys.has("s")) move.sub(fwd);
      if (this.keys.has("d")) move.add(right);
      if (this.keys.has("a")) move.sub(right);
      if (this.keys.has("e")) move.y += 1;
      if (this.keys.has("q")) move.y -= 1;
      move.multiplyScalar(speed);
      this.camera.position.add(move);
      this.controls.target.add(move);
      changed = true;
    }
    if (changed) { this.controls.update(); this.saveToUrl(); }
    return changed || this.flying();
  }

  /** Move the camera so ``box`` fills the view, looking from the front-right-above. */
  /** Fly (or jump) to a camera position looking at ``target``. */
  flyTo(position: THREE.Vector3, target: THREE.Vector3, animate = true): void {
    if (animate) {
      this.anim = { from: [this.camera.position.clone(), this.controls.target.clone()],
        to: [position.clone(), target.clone()], t0: performance.now(), ms: 600 };
    } else {
      this.camera.position.copy(position);
      this.controls.target.copy(target);
      this.controls.update();
    }
    this.onChange();
  }

  frame(box: THREE.Box3, animate = true): void {
    const center = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3());
    const radius = Math.max(size.length() / 2, 3); // a single block is framed with its neighbours
    const fov = THREE.MathUtils.degToRad(this.camera.fov);
    const dist = 0.8 * radius / Math.sin(Math.min(fov, fov * this.camera.aspect) / 2);
    const pos = center.clone().addScaledVector(VIEW_FROM, dist);
    center.y -= radius * 0.12; // leave room for the legend under the model
    this.camera.near = Math.max(0.01, dist / 1000);
    this.camera.far = dist * 20 + 1000;
    this.camera.updateProjectionMatrix();
    if (animate) {
      this.anim = { from: [this.camera.position.clone(), this.controls.target.clone()], to: [pos, center],
        t0: performance.now(), ms: 450 };
    } else {
      this.camera.position.copy(pos);
      this.controls.target.copy(center);
      this.controls.update();
    }
    this.onChange();
  }

  saveToUrl(): void {
    clearTimeout(this.urlTimer);
    this.urlTimer = window.setTimeout(() => {
      const p = this.camera.position, t = this.controls.target;
      const cam = [p.x, p.y, p.z, t.x, t.y, t.z].map((v) => v.toFixed(3)).join(",");
      const params = new URLSearchParams(location.hash.slice(1));
      params.set("cam", cam);
      const query = new URLSearchParams(location.search);
      query.delete("token"); // a shared #cam link never carries the access token (the cookie does)
      const search = query.toString() ? `?${query.toString()}` : "";
      history.replaceState(null, "", `${location.pathname}${search}#${params.toString()}`);
    }, 250);
  }

  /** Apply ``#cam=px,py,pz,tx,ty,tz`` from the URL; false when there is none. */
  loadFromUrl(): boolean {
    const cam = new URLSearchParams(location.hash.slice(1)).get("cam");
    const v = cam?.split(",").map(Number);
    if (!v || v.length !== 6 || v.some((x) => !Number.isFinite(x))) return false;
    this.camera.position.set(v[0], v[1], v[2]);
    this.controls.target.set(v[3], v[4], v[5]);
    this.camera.far = Math.max(this.camera.far, 5000);
    this.camera.updateProjectionMatrix();
    this.controls.update();
    return true;
  }
}
