// Orbit + fly navigation, framing, and the camera kept in the URL so a view can be shared.
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

/** Where the default view looks from, relative to what it frames: forward (+z) reads left to right. */
export const VIEW_FROM = new THREE.Vector3(-0.85, 0.6, -0.3).normalize();
/** For a model folded into rows: steeper, so that the rows do not hide each other. */
export const VIEW_FROM_FOLDED = new THREE.Vector3(-0.7, 0.95, -0.25).normalize();

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
  /** Where framing looks from (VIEW_FROM, or VIEW_FROM_FOLDED for a folded model). */
  viewFrom = VIEW_FROM.clone();

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

  /** True while the camera flies to a framing. */
  get animating(): boolean {
    return this.anim !== null;
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

  /** Fly (or jump) to a camera position looking at ``target``. */
  flyTo(position: THREE.Vector3, target: THREE.Vector3, animate = true): void {
    if (animate) {
      this.anim = { from: [this.camera.position.clone(), this.controls.target.clone()],
        to: [position.clone(), target.clone()], t0: performance.now(), ms: 600 };
    } else { // a jump also ends any flight under way, which would otherwise carry on past it
      this.anim = null;
      this.camera.position.copy(position);
      this.controls.target.copy(target);
      this.controls.update();
    }
    this.onChange();
  }

  /** Screen area not covered by the toolbar and panels (CSS px from the canvas edges). */
  safeArea: () => { top: number; bottom: number; left: number; right: number } = () => ({ top: 0, bottom: 0, left: 0, right: 0 });

  /** The camera position and target that show ``box`` as large as it fits in the safe area,
   * looking from VIEW_FROM (aspect-aware: the box's 8 corners are projected and the distance
   * and target solved so that their screen rectangle fills the free part of the canvas). */
  framing(box: THREE.Box3, fill = 0.92): { position: THREE.Vector3; target: THREE.Vector3; dist: number } {
    const cam = this.camera;
    const f = this.viewFrom.clone().negate();
    const r = new THREE.Vector3().crossVectors(f, new THREE.Vector3(0, 1, 0)).normalize();
    const u = new THREE.Vector3().crossVectors(r, f).normalize();
    const tanV = Math.tan(THREE.MathUtils.degToRad(cam.fov) / 2);
    const tanH = tanV * cam.aspect;
    const el = this.controls.domElement as HTMLElement | null;
    const W = el?.clientWidth || 1280, H = el?.clientHeight || 800;
    let safe = this.safeArea();
    // panels taking most of the canvas (a tiny window): frame in the whole canvas instead
    if (W - safe.left - safe.right < 0.3 * W || H - safe.top - safe.bottom < 0.3 * H) safe = { top: 0, bottom: 0, left: 0, right: 0 };
    // the free rectangle in normalised device coordinates
    const nx0 = -1 + 2 * safe.left / W, nx1 = 1 - 2 * safe.right / W;
    const ny0 = -1 + 2 * safe.bottom / H, ny1 = 1 - 2 * safe.top / H;
    const corners: THREE.Vector3[] = [];
    for (const x of [box.min.x, box.max.x]) for (const y of [box.min.y, box.max.y]) for (const z of [box.min.z, box.max.z]) corners.push(new THREE.Vector3(x, y, z));
    const target = box.getCenter(new THREE.Vector3());
    const extents = (d: number) => {
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const c of corners) {
        const q = c.clone().sub(target);
        const depth = Math.max(d + q.dot(f), 1e-3);
        const x = q.dot(r) / (depth * tanH), y = q.dot(u) / (depth * tanV);
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
      return { x0, x1, y0, y1 };
    };
    const radius = Math.max(box.getSize(new THREE.Vector3()).length() / 2, 0.5);
    let dist = radius * 3;
    for (let round = 0; round < 4; round++) {
      // the nearest distance at which the box's screen rectangle fits the free rectangle
      let lo = radius * 0.2, hi = radius * 50;
      for (let k = 0; k < 40; k++) {
        const mid = (lo + hi) / 2;
        const e = extents(mid);
        if (e.x1 - e.x0 <= fill * (nx1 - nx0) && e.y1 - e.y0 <= fill * (ny1 - ny0)) hi = mid; else lo = mid;
      }
      dist = hi;
      // then centre it in the free rectangle
      const e = extents(dist);
      const dx = (e.x0 + e.x1) / 2 - (nx0 + nx1) / 2, dy = (e.y0 + e.y1) / 2 - (ny0 + ny1) / 2;
      target.addScaledVector(r, dx * dist * tanH).addScaledVector(u, dy * dist * tanV);
    }
    return { position: target.clone().addScaledVector(f, -dist), target, dist };
  }

  /** Move the camera so ``box`` fills the free part of the view, looking from VIEW_FROM. */
  frame(box: THREE.Box3, animate = true): void {
    const { position: pos, target: center, dist } = this.framing(box);
    this.camera.near = Math.max(0.01, dist / 1000);
    this.camera.far = dist * 20 + 1000;
    this.camera.updateProjectionMatrix();
    if (animate) {
      this.anim = { from: [this.camera.position.clone(), this.controls.target.clone()], to: [pos, center],
        t0: performance.now(), ms: 450 };
    } else {
      this.anim = null;
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
