// AR mode's own part (loaded only when an immersive-ar session starts): hit-test sources along
// the controllers' rays, the viewer's gaze (a phone's screen centre) and, where the browser
// offers it, under a finger on a phone's screen (transient input), a reticle on the level
// surface they meet, and placing the model there when the trigger is pressed or the screen
// tapped, held by an anchor where the device offers anchors. Everything else (grab, menu, info
// panel, tours) is VR mode's (session.ts). Reuses its vectors: nothing is allocated per frame
// here except by the XR API itself (hit-test results).
import * as THREE from "three";
import { footprintOf, LEVEL, placeOnSurface } from "./arPlacement";

const RING_INNER = 0.06, RING_OUTER = 0.08;
const NONE: XRHitTestResult[] = [];

const NO_TOUCH: XRTransientInputHitTestResult[] = [];

/** The screen touches' results this frame (none where the browser has no such method). */
function touchResults(frame: XRFrame, source: XRTransientInputHitTestSource): XRTransientInputHitTestResult[] {
  try {
    return typeof frame.getHitTestResultsForTransientInput === "function" ? frame.getHitTestResultsForTransientInput(source) : NO_TOUCH;
  } catch {
    return NO_TOUCH;
  }
}

/** Whether ``src`` is still one of the session's input sources. */
function connected(session: XRSession, src: XRInputSource): boolean {
  for (let i = 0; i < session.inputSources.length; i++) if (session.inputSources[i] === src) return true;
  return false;
}

/** A source's results this frame; none for a source that began after the frame did. */
function results(frame: XRFrame, source: XRHitTestSource): XRHitTestResult[] {
  try {
    return frame.getHitTestResults(source);
  } catch {
    return NONE;
  }
}

export class ArPlacer {
  readonly reticle: THREE.Group;
  /** Whether the model stands on a surface (else the reticle looks for one). */
  placed = false;
  /** Placements this session. */
  placements = 0;
  /** Where the reticle's hit came from: "touch" (a finger on a phone's screen), "controller",
   * "gaze" (the head's or the phone's forward ray), or null when it shows nothing. */
  source: "touch" | "controller" | "gaze" | null = null;
  /** Whether an anchor holds the model, and why not when the device refused one. */
  anchored = false;
  anchorError = "";
  private gaze: XRHitTestSource | null = null;
  /** A phone's screen touches (transient input), where the browser offers them. */
  private touch: XRTransientInputHitTestSource | null = null;
  /** One hit-test source per controller (its target-ray space). */
  private readonly rays: { src: XRInputSource; h: XRHitTestSource }[] = [];
  private lastHit: XRHitTestResult | null = null;
  private anchor: XRAnchor | null = null;
  private readonly anchorAt = new THREE.Vector3();
  private readonly offset = new THREE.Vector3();
  private readonly point = new THREE.Vector3();
  /** Where the model was last put down (metres). */
  private readonly placedAt = new THREE.Vector3();
  private readonly normal = new THREE.Vector3();
  private readonly m = new THREE.Matrix4();
  private ended = false;
  private readonly onSources = (e: XRInputSourcesChangeEvent) => {
    for (const src of e.removed) {
      const i = this.rays.findIndex((r) => r.src === src);
      if (i >= 0) this.rays.splice(i, 1)[0].h.cancel();
    }
    for (const src of e.added) this.watch(src);
  };

  constructor(private session: XRSession, private world: THREE.Object3D, private modelBox: () => THREE.Box3) {
    this.reticle = new THREE.Group();
    this.reticle.name = "ar-reticle";
    const ring = new THREE.Mesh(new THREE.RingGeometry(RING_INNER, RING_OUTER, 40).rotateX(-Math.PI / 2),
      new THREE.MeshBasicMaterial({ color: 0xeef6ff, transparent: true, opacity: 0.9, depthTest: false }));
    const dot = new THREE.Mesh(new THREE.CircleGeometry(0.012, 16).rotateX(-Math.PI / 2),
      new THREE.MeshBasicMaterial({ color: 0x7fc4ff, depthTest: false }));
    ring.renderOrder = dot.renderOrder = 40;
    this.reticle.add(ring, dot);
    this.reticle.matrixAutoUpdate = false;
    this.reticle.visible = false;
  }

  /** Ask for the hit-test sources: the gaze now, each controller's ray as it connects. */
  async start(): Promise<void> {
    this.session.addEventListener("inputsourceschange", this.onSources);
    for (const src of this.session.inputSources) this.watch(src);
    void this.session.requestHitTestSourceForTransientInput?.({ profile: "generic-touchscreen" })?.then((t) => {
      if (this.ended) t.cancel();
      else this.touch = t;
    }).catch(() => {});
    const viewer = await this.session.requestReferenceSpace("viewer");
    const source = await this.session.requestHitTestSource?.({ space: viewer });
    if (this.ended) source?.cancel();
    else this.gaze = source ?? null;
  }

  private watch(src: XRInputSource): void {
    if (src.targetRayMode !== "tracked-pointer" || this.rays.some((r) => r.src === src)) return;
    void this.session.requestHitTestSource?.({ space: src.targetRaySpace })?.then((h) => {
      if (this.ended || !connected(this.session, src)) h.cancel();
      else this.rays.push({ src, h });
    }).catch(() => {});
  }

  /** Per frame, before the controls: the reticle (until placed), the anchor's pull (after). */
  update(frame: XRFrame, space: XRReferenceSpace): void {
    if (this.placed) {
      if (this.anchor && frame.trackedAnchors?.has(this.anchor)) {
        const pose = frame.getPose(this.anchor.anchorSpace, space);
        if (pose) {
          const p = pose.transform.position;
          this.anchorAt.set(p.x, p.y, p.z);
          this.world.position.copy(this.anchorAt).add(this.offset);
          this.world.updateMatrixWorld(true);
        }
      }
      return;
    }
    this.lastHit = null;
    this.source = null;
    // a finger on the screen first, then a controller's ray (the right hand's before the
    // left), then the gaze
    let best: XRHitTestResult | null = null;
    const touches = this.touch ? touchResults(frame, this.touch) : NO_TOUCH;
    for (let i = 0; i < touches.length && !best; i++) {
      best = this.level(touches[i].results, space);
      if (best) this.source = "touch";
    }
    for (let i = 0; i < this.rays.length && this.source !== "touch"; i++) {
      const hit = this.level(results(frame, this.rays[i].h), space);
      if (hit && (!best || this.rays[i].src.handedness === "right")) { best = hit; this.source = "controller"; }
    }
    if (!best && this.gaze) {
      best = this.level(results(frame, this.gaze), space);
      if (best) this.source = "gaze";
    }
    this.lastHit = best;
    this.reticle.visible = !!best;
    if (best) {
      this.m.fromArray(best.getPose(space)!.transform.matrix);
      this.reticle.matrix.copy(this.m);
      this.point.setFromMatrixPosition(this.m);
    }
  }

  /** The nearest result on a level surface (its normal, the pose's +y, points up), or null. */
  private level(results: readonly XRHitTestResult[], space: XRReferenceSpace): XRHitTestResult | null {
    for (const r of results) {
      const pose = r.getPose(space);
      if (!pose) continue;
      this.m.fromArray(pose.transform.matrix);
      this.normal.set(0, 1, 0).transformDirection(this.m);
      if (this.normal.y >= LEVEL) return r;
    }
    return null;
  }

  /** Per frame, after the controls: the model's offset from its anchor (grabbing moves it). */
  follow(): void {
    if (this.placed && this.anchor) this.offset.copy(this.world.position).sub(this.anchorAt);
  }

  /** Stand the model on the surface under the reticle; false when the reticle shows none. */
  place(head: THREE.Vector3): boolean {
    if (this.placed || !this.lastHit) return false;
    placeOnSurface(this.world, this.modelBox(), this.point, head);
    this.world.visible = true;
    this.placed = true;
    this.placements++;
    this.reticle.visible = false;
    this.dropAnchor();
    this.anchorAt.copy(this.point);
    this.placedAt.copy(this.point);
    this.offset.copy(this.world.position).sub(this.anchorAt);
    const hit = this.lastHit;
    this.lastHit = null;
    hit.createAnchor?.()?.then((a) => {
      if (this.ended || !this.placed || this.anchor) { a.delete(); return; }
      this.anchor = a;
      this.anchored = true;
    }).catch((err: Error) => { this.anchorError = err.message; });
    return true;
  }

  /** Take the model off its surface: the reticle looks for a new one. */
  unplace(): void {
    this.placed = false;
    this.world.visible = false;
    this.dropAnchor();
  }

  private dropAnchor(): void {
    this.anchor?.delete();
    this.anchor = null;
    this.anchored = false;
  }

  /** The session ended: let the sources and the anchor go. */
  dispose(): void {
    this.ended = true;
    this.session.removeEventListener("inputsourceschange", this.onSources);
    this.gaze?.cancel();
    this.touch?.cancel();
    for (const r of this.rays) r.h.cancel();
    this.rays.length = 0;
    this.dropAnchor();
    this.reticle.removeFromParent();
  }

  /** What tests read: placed, the reticle, the model's pose and footprint (metres). */
  state(): Record<string, unknown> {
    const fp = this.placed ? footprintOf(this.world, this.modelBox()) : null;
    return {
      placed: this.placed, placements: this.placements, reticle: this.reticle.visible,
      reticlePoint: this.reticle.visible ? this.point.toArray() : null, source: this.source,
      anchored: this.anchored, anchorError: this.anchorError, footprint: fp,
      placedAt: this.placed ? this.placedAt.toArray() : null,
      pose: this.placed ? { position: this.world.position.toArray(), yaw: this.world.rotation.y, scale: this.world.scale.x } : null,
    };
  }
}
