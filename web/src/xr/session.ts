// VR mode: the Enter VR button, an immersive-vr session on a local-floor reference space, and the
// frame loop that runs while it presents. The model root (the group holding the whole scene) is
// placed on a table beside the viewer (xr/placement.ts) and is what moves (grab, teleport, smooth
// locomotion, tours); the headset's camera is the head. The info panel stands to the viewer's
// right, the loss chart behind the model, the wrist menu on the left hand: none where the head is. The loop reuses its vectors, raycaster and buffers: nothing is allocated
// per frame by this code (labels and menu texts are refreshed a few times a second, not per frame).
import * as THREE from "three";
import type { ArPlacer } from "./ar";
import type { Emulator } from "./emulator";
import { Fade } from "./fade";
import { Grab, wrapAngle } from "./grab";
import { Hand } from "./hands";
import { Locomotion } from "./locomotion";
import { type MenuButton, WristMenu } from "./menu";
import { InfoPanel, type PanelItem, readPanel } from "./infoPanel";
import { PointSizes } from "./pointSizes";
import { AR_CHART_HEIGHT } from "./arPlacement";
import { headingOf, placeChartBehind, placeOnTable, tableHeight, viewFrom } from "./placement";
import { Table } from "./table";
import { TextPanel } from "./textPanel";

export interface XrHooks {
  /** The viewer's per-frame work (probe data, overlay and flow animation, the tour). */
  advance(dt: number): void;
  /** Pick along a controller ray as a click does. Returns the text of an overlay hit (embedding
   * point, weight cell), "" when a block or group was selected (the info panel shows it), or
   * null when the ray hit nothing (the selection is cleared). */
  pick(ray: THREE.Raycaster): string | null;
  /** The model's bounding box, in model units. */
  modelBox(): THREE.Box3;
  /** Assign the labels for a camera given in model coordinates. */
  updateLabels(camera: THREE.PerspectiveCamera): void;
  /** The loss chart, in the model root: placed behind the model in VR, back beside it after. */
  chart: { mesh: THREE.Object3D; place(bounds: THREE.Box3): void; box(): THREE.Box3 | null };
  /** The desktop's floor grid (hidden in VR, where the model stands on a table), or null. */
  floor(): THREE.Object3D | null;
  /** The desktop info panel, mirrored in the headset. */
  infoPanel: HTMLElement;
  /** Lines added under it in the headset (the selected layer's health alarms), or "". */
  panelExtra(): string;
  /** The viewer's wrist-menu buttons (timeline, colours, expand/collapse, tour). */
  menuButtons: MenuButton[];
  /** Called when the session starts or ends. */
  onPresentingChange(presenting: boolean): void;
}

const LABEL_EVERY = 20; // frames between label re-assignments
const MENU_EVERY = 30; // frames between menu label refreshes
/** The info panel: this far from the head (m), this much to the right of the heading (rad), its
 * top edge this far above the eyes (m); turned further right in steps when the wrist menu is
 * where it would be. */
const PANEL_DISTANCE = 0.68, PANEL_ANGLE = 0.6, PANEL_TOP = 0.08, PANEL_STEP = 0.3;

/** A box as two corners, for tests. */
function corners(b: THREE.Box3 | null): { min: number[]; max: number[] } | null {
  return b && !b.isEmpty() ? { min: b.min.toArray(), max: b.max.toArray() } : null;
}

export class XrMode {
  supported = false;
  presenting = false;
  /** Frames rendered by the XR loop since the session started. */
  frames = 0;
  /** Draw calls of the last XR frame (both eyes). */
  drawCalls = 0;
  /** Why VR is unavailable, or "". */
  message = "";
  /** Whether AR (immersive-ar, passthrough) is available, and why not. */
  arSupported = false;
  arMessage = "";
  /** The session's mode and reference space while one runs. */
  mode: XRSessionMode | null = null;
  private space: XRReferenceSpaceType | null = null;
  /** AR's own part (xr/ar.ts), loaded once AR is known to be available, and while AR runs. */
  private arModule: Promise<typeof import("./ar")> | null = null;
  private ar: ArPlacer | null = null;
  private savedClearAlpha = 1;
  /** Controller-ray picks since the session started. */
  picks = 0;
  emulator: Emulator | null = null;
  readonly panel: InfoPanel;
  readonly caption: TextPanel;
  readonly menu: WristMenu;
  readonly grab: Grab;
  readonly locomotion: Locomotion;
  private readonly fade = new Fade();
  private readonly table = new Table();
  private readonly pointSizes: PointSizes;
  private readonly hands: Hand[];
  private session: XRSession | null = null;
  private readonly head = new THREE.Vector3(0, 1.6, 0);
  private readonly eye = new THREE.Vector3();
  private headYaw = Math.PI;
  private readonly raycaster = new THREE.Raycaster();
  private readonly localCamera = new THREE.PerspectiveCamera();
  private readonly inverse = new THREE.Matrix4();
  private readonly savedPosition = new THREE.Vector3();
  private readonly savedQuaternion = new THREE.Quaternion();
  private readonly panelBox = new THREE.Box3();
  private readonly menuBox = new THREE.Box3();
  private last = 0;
  private panelDirty = true;
  private panelWasShown = false;
  /** The model is placed again once the headset has reported where the head really is. */
  private placePending = false;
  private overlayText = "";
  private button: HTMLButtonElement | null = null;
  private arButton: HTMLButtonElement | null = null;

  constructor(private renderer: THREE.WebGLRenderer, private scene: THREE.Scene,
    private camera: THREE.PerspectiveCamera, readonly world: THREE.Object3D, private hooks: XrHooks) {
    this.hands = [new Hand(renderer, 0), new Hand(renderer, 1)];
    this.grab = new Grab(world);
    this.locomotion = new Locomotion(world);
    this.pointSizes = new PointSizes(world);
    this.panel = new InfoPanel("vr-info-panel");
    this.caption = new TextPanel("vr-caption", 0.9, 0.03);
    this.menu = new WristMenu([...hooks.menuButtons,
      { id: "recentre", x: -0.0625, y: -0.07, w: 0.115, h: 0.03, label: () => (this.ar ? "Re-place" : "Re-centre"),
        press: () => (this.ar ? this.ar.unplace() : this.recentre()) },
      { id: "exit", x: 0.0625, y: -0.07, w: 0.115, h: 0.03, label: () => (this.ar ? "Exit AR" : "Exit VR"),
        press: () => { void this.exit(); } },
    ]);
    new MutationObserver(() => { this.panelDirty = true; }).observe(hooks.infoPanel,
      { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ["hidden"] });
  }

  /** Check support (after installing the emulator when ?xr-emulate= asks) and add the button. */
  async init(toolbar: HTMLElement): Promise<void> {
    const query = new URLSearchParams(location.search), emulate = query.get("xr-emulate");
    let failed = "";
    if (emulate) {
      try {
        const { capFrameRate, installEmulator } = await import("./emulator");
        if (query.has("xr-fps")) capFrameRate(Number(query.get("xr-fps")));
        this.emulator = await installEmulator(emulate);
      } catch (err) {
        failed = `The headset emulator did not start: ${(err as Error).message}`;
      }
    }
    if (failed) {
      this.message = failed;
    } else if (!window.isSecureContext) {
      this.message = `VR needs a secure context: this page is ${location.protocol}//${location.host}; open it over https `
        + "(nnviz3d view SPEC --tls prints the address) or on localhost.";
    } else if (!navigator.xr) {
      this.message = "This browser has no WebXR: open the page in the headset's browser (Meta Quest Browser, Pico, "
        + "Vision Pro Safari) or in desktop Chrome or Edge with a headset connected.";
    } else {
      try {
        this.supported = await navigator.xr.isSessionSupported("immersive-vr");
      } catch (err) {
        this.message = `WebXR refused to say whether VR works here: ${(err as Error).message}`;
      }
      if (!this.supported && !this.message) {
        this.message = "WebXR is available but no VR headset is (immersive-vr is not supported): connect a headset "
          + "or open this page in the headset's browser.";
      }
    }
    this.button = this.addButton(toolbar, "immersive-vr");
    this.arMessage = failed || await arAvailability();
    this.arSupported = !this.arMessage;
    if (this.arSupported) this.arModule = import("./ar"); // only where AR can start
    this.arButton = this.addButton(toolbar, "immersive-ar");
  }

  private addButton(toolbar: HTMLElement, mode: "immersive-vr" | "immersive-ar"): HTMLButtonElement {
    const ar = mode === "immersive-ar", name = ar ? "AR" : "VR";
    const supported = ar ? this.arSupported : this.supported, why = () => (ar ? this.arMessage : this.message);
    const btn = document.createElement("button");
    btn.id = ar ? "btn-ar" : "btn-vr";
    btn.textContent = supported ? `Enter ${name}` : `${name} unavailable`;
    btn.title = !supported ? why() : ar ? "Put the network on a real table (headset with passthrough, or phone)"
      : "Walk through the network in a VR headset";
    if (!supported) btn.style.opacity = "0.6";
    btn.addEventListener("click", () => {
      if (this.presenting) void this.exit();
      else if (supported) this.enter(mode).catch((err) => this.note(`Could not start ${name}: ${(err as Error).message}`));
      else this.note(why());
    });
    toolbar.insertBefore(btn, document.getElementById("status"));
    return btn;
  }

  private note(text: string): void {
    this.message = text;
    let el = document.getElementById("vr-message");
    if (!el) {
      el = document.createElement("div");
      el.id = "vr-message";
      el.setAttribute("role", "alert");
      el.style.cssText = "position:fixed;top:48px;right:12px;max-width:420px;padding:10px 14px;z-index:20;"
        + "background:#2a1d22;color:#ffd9de;border:1px solid #6b3440;border-radius:6px;font:13px system-ui,sans-serif";
      document.body.append(el);
    }
    el.textContent = text;
    el.hidden = false;
    setTimeout(() => { el!.hidden = true; }, 9000);
  }

  async enter(mode: "immersive-vr" | "immersive-ar" = "immersive-vr"): Promise<void> {
    if (this.session) return;
    const ar = mode === "immersive-ar";
    const xr = navigator.xr;
    if (!xr || !(ar ? this.arSupported : this.supported)) {
      throw new Error((ar ? this.arMessage : this.message) || `${ar ? "AR" : "VR"} is not supported here`);
    }
    if (ar && this.emulator) await this.emulator.prepareAr();
    const session = await xr.requestSession(mode, ar
      ? { requiredFeatures: ["hit-test"], optionalFeatures: ["local-floor", "anchors"] }
      : { optionalFeatures: ["local-floor", "bounded-floor"] });
    // AR on a phone may offer no floor: the surface found by hit-test is what counts there
    const space: XRReferenceSpaceType = !ar ? "local-floor"
      : await session.requestReferenceSpace("local-floor").then(() => "local-floor" as const, () => "local" as const);
    // the desktop camera is the XR camera's target from now: keep its pose for the way back
    this.savedPosition.copy(this.camera.position);
    this.savedQuaternion.copy(this.camera.quaternion);
    this.presenting = true; // the desktop loop stops drawing
    this.renderer.xr.enabled = true;
    this.renderer.xr.setReferenceSpaceType(space);
    try {
      await this.renderer.xr.setSession(session);
      if (ar) this.ar = new (await this.arModule!).ArPlacer(session, this.world, () => this.hooks.modelBox());
    } catch (err) {
      this.renderer.xr.enabled = false;
      this.presenting = false;
      this.hooks.onPresentingChange(false);
      void session.end().catch(() => {});
      throw err;
    }
    this.session = session;
    this.mode = mode;
    this.space = space;
    session.addEventListener("end", () => this.ended());
    for (const h of this.hands) this.scene.add(h.ray);
    if (this.ar) this.startAr(this.ar);
    else this.world.add(this.table.root); // in AR the real table is the table
    this.scene.add(this.locomotion.root, this.fade.mesh, this.panel.root, this.caption.root);
    this.frames = 0;
    this.picks = 0;
    this.last = 0;
    this.head.set(0, 1.6, 0);
    this.headYaw = Math.PI; // local-floor starts facing -z
    if (!this.ar) this.recentre();
    this.placePending = !this.ar;
    this.panelDirty = true;
    this.panelWasShown = false;
    const button = this.ar ? this.arButton : this.button;
    if (button) button.textContent = this.ar ? "Exit AR" : "Exit VR";
    this.hooks.onPresentingChange(true);
    this.renderer.setAnimationLoop((time, frame) => this.frame(time, frame));
  }

  /** AR: passthrough shows where nothing is drawn (clear alpha 0, no floor grid, no table); the
   * model waits, hidden, for the trigger or a tap to place it where the reticle is. */
  private startAr(ar: ArPlacer): void {
    this.savedClearAlpha = this.renderer.getClearAlpha();
    this.renderer.setClearAlpha(0);
    this.world.visible = false;
    this.scene.add(ar.reticle);
    ar.start().catch((err) => this.note(`AR cannot find surfaces here: ${(err as Error).message}`));
  }

  async exit(): Promise<void> {
    await this.session?.end();
  }

  private ended(): void {
    this.renderer.setAnimationLoop(null);
    if (this.ar) {
      this.ar.dispose();
      this.ar = null;
      this.renderer.setClearAlpha(this.savedClearAlpha);
      this.world.visible = true;
    }
    this.session = null;
    this.mode = null;
    this.space = null;
    this.presenting = false;
    this.renderer.xr.enabled = false;
    for (const h of this.hands) this.scene.remove(h.ray);
    this.menu.root.removeFromParent();
    this.table.root.removeFromParent();
    this.pointSizes.restore();
    const floor = this.hooks.floor();
    if (floor) floor.visible = true;
    this.scene.remove(this.locomotion.root, this.fade.mesh, this.panel.root, this.caption.root);
    this.fade.reset();
    this.world.position.set(0, 0, 0);
    this.world.rotation.set(0, 0, 0);
    this.world.scale.setScalar(1);
    this.world.updateMatrixWorld(true);
    this.hooks.chart.place(this.hooks.modelBox()); // beside the model again, for the desktop
    this.camera.position.copy(this.savedPosition);
    this.camera.quaternion.copy(this.savedQuaternion);
    this.camera.updateMatrixWorld();
    if (this.button) this.button.textContent = "Enter VR";
    if (this.arButton) this.arButton.textContent = "Enter AR";
    this.hooks.onPresentingChange(false);
  }

  /** Put the model back on the table beside the viewer, at the table's scale. */
  recentre(): void {
    placeOnTable(this.world, this.hooks.modelBox(), this.head, this.headYaw);
    this.placeChart();
  }

  /** Fit the table and stand the loss chart behind the model (call when the model's box changed). */
  placeChart(): void {
    if (!this.presenting) return;
    const box = this.hooks.modelBox(), s = this.world.scale.x;
    this.table.fit(box, s);
    placeChartBehind(this.hooks.chart.mesh, box, s, this.ar ? AR_CHART_HEIGHT : undefined);
  }

  /** Show a viewpoint (model units) in VR: fade out, move the world so the viewpoint is at the
   * head looking the same way, fade in. The head is never moved. Returns the seconds it takes. */
  showViewpoint(position: number[], target: number[], caption: string): number {
    this.setCaption("");
    return this.fade.run(() => {
      const eye = new THREE.Vector3(position[0], position[1], position[2]);
      const at = new THREE.Vector3(target[0], target[1], target[2]);
      viewFrom(this.world, eye, at, this.head, this.headYaw);
      this.setCaption(caption);
    });
  }

  setCaption(text: string): void {
    this.caption.set(text);
    if (!text) return;
    const r = this.caption.root;
    r.position.set(this.head.x + Math.sin(this.headYaw) * 1.3, this.head.y - 0.45, this.head.z + Math.cos(this.headYaw) * 1.3);
    r.lookAt(this.head.x, this.head.y - 0.45, this.head.z);
  }

  /** The controllers, by hand (either may be missing). */
  private hand(which: XRHandedness): Hand | null {
    for (const h of this.hands) if (h.connected && h.handedness === which) return h;
    return null;
  }

  private frame(time: number, xrFrame?: XRFrame): void {
    // setAnimationLoop also restarts three's window loop, which calls here without an XRFrame:
    // only the session's frames run, or every frame is simulated and drawn twice
    if (!xrFrame) return;
    const dt = this.last ? Math.min(0.1, (time - this.last) / 1000) : 0;
    this.last = time;
    this.frames++;
    // three set the eye cameras' matrices from this frame's viewer pose before calling here (the
    // camera has no parent, so they are in the reference space); a frame with no pose keeps them
    const eyes = this.renderer.xr.getCamera().cameras;
    if (eyes.length) {
      this.head.setFromMatrixPosition(eyes[0].matrix);
      if (eyes.length === 2) this.head.add(this.eye.setFromMatrixPosition(eyes[1].matrix)).multiplyScalar(0.5);
      this.headYaw = headingOf(eyes[0].matrix);
      if (this.placePending) { this.placePending = false; this.recentre(); }
    }
    const ar = this.ar, space = ar ? this.renderer.xr.getReferenceSpace() : null;
    if (ar && space) ar.update(xrFrame, space);
    const placed = !ar || ar.placed; // before placing, the trigger places and nothing moves
    const left = this.hand("left"), right = this.hand("right");
    for (const h of this.hands) if (h.connected) h.refresh();
    if (left && this.menu.root.parent !== left.ray) left.ray.add(this.menu.root);
    if (placed) this.grab.update(left, right);
    // in AR the room is real: the viewer walks, the sticks do not move the model off its table
    if (!ar && !this.grab.active) this.locomotion.update(dt, left, right, this.head, this.headYaw);
    for (const h of this.hands) {
      if (!h.connected) continue;
      const i = h === left ? -1 : this.menu.hit(h.position, h.direction);
      if (h === right) this.menu.hover(i);
      h.setRayLength(i >= 0 ? this.menu.hitDistance : undefined);
      if (h.selectPressed) {
        h.selectPressed = false;
        if (i >= 0) this.menu.press(i, this.menu.u);
        else if (!placed) { if (ar!.place(this.head)) this.placeChart(); }
        // a phone has no wrist menu: a tap on nothing lifts the model to be placed again
        else if (this.select(h) === null && ar && h.mode === "screen") ar.unplace();
      }
    }
    const floor = this.hooks.floor(); // a new scene makes a new grid
    if (floor?.visible) floor.visible = false;
    this.fade.update(dt, this.head); // a tour's stop moves the world half-way through its fade
    this.hooks.advance(dt);
    ar?.follow(); // after everything that moves the world, or the anchor pulls it back next frame
    if (this.panelDirty) this.refreshPanel();
    if (this.frames % LABEL_EVERY === 1) { this.updateLabels(); this.pointSizes.update(); }
    if (this.frames % MENU_EVERY === 0) { this.menu.refresh(); this.keepPanelClear(); }
    this.renderer.render(this.scene, this.camera);
    this.drawCalls = this.renderer.info.render.calls;
  }

  /** Pick along a controller's ray; returns what ``hooks.pick`` did (null: nothing hit). */
  private select(h: Hand): string | null {
    this.picks++;
    this.raycaster.setFromXRController(h.ray);
    const hit = this.hooks.pick(this.raycaster);
    this.overlayText = hit ?? "";
    this.panelDirty = true;
    this.panelWasShown = false; // a new pick re-places the panel in front of the viewer
    return hit;
  }

  private refreshPanel(): void {
    this.panelDirty = false;
    const lines = (text: string, alarm: boolean): PanelItem[] =>
      text.split("\n").filter(Boolean).map((t) => ({ kind: "text", text: t, alarm }));
    const items = this.overlayText ? lines(this.overlayText, false)
      : [...readPanel(this.hooks.infoPanel), ...lines(this.hooks.panelExtra(), true)];
    this.panel.set(items);
    if (!items.length || this.panelWasShown) return;
    this.panelWasShown = true;
    this.placePanel();
  }

  /** Stand the info panel to the viewer's right, facing them, clear of the wrist menu. */
  private placePanel(): void {
    const r = this.panel.root, top = this.head.y + PANEL_TOP, menu = this.menu.box(this.menuBox);
    for (let k = 0; k < 4; k++) {
      const yaw = this.headYaw - PANEL_ANGLE - k * PANEL_STEP; // to the right: a smaller heading
      r.position.set(this.head.x + Math.sin(yaw) * PANEL_DISTANCE, top, this.head.z + Math.cos(yaw) * PANEL_DISTANCE);
      r.lookAt(this.head.x, top, this.head.z);
      const box = this.panel.box(this.panelBox);
      if (!menu || !box || !box.intersectsBox(menu)) return;
    }
  }

  /** The wrist menu moves with the hand: when it comes into the info panel, the panel steps aside. */
  private keepPanelClear(): void {
    const box = this.panel.box(this.panelBox), menu = this.menu.box(this.menuBox);
    if (box && menu && box.intersectsBox(menu)) this.placePanel();
  }

  /** Labels face and are chosen for the head, seen from inside the model root. */
  private updateLabels(): void {
    const xrCam = this.renderer.xr.getCamera();
    this.world.updateMatrixWorld();
    this.inverse.copy(this.world.matrixWorld).invert().multiply(xrCam.matrixWorld);
    this.inverse.decompose(this.localCamera.position, this.localCamera.quaternion, this.localCamera.scale);
    this.localCamera.projectionMatrix.copy(xrCam.projectionMatrix);
    this.localCamera.projectionMatrixInverse.copy(xrCam.projectionMatrixInverse);
    this.hooks.updateLabels(this.localCamera);
  }

  /** What tests and the status readout read. */
  state(): Record<string, unknown> {
    return {
      supported: this.supported, secure: window.isSecureContext, presenting: this.presenting,
      mode: this.mode, referenceSpace: this.space, arSupported: this.arSupported, arMessage: this.arMessage,
      ar: this.ar?.state() ?? null,
      frames: this.frames, drawCalls: this.drawCalls, message: this.message, emulated: !!this.emulator,
      picks: this.picks, grabs: this.grab.count, grabbing: this.grab.active, teleports: this.locomotion.teleports,
      aiming: this.locomotion.landingPoint, fade: this.fade.opacity, menu: this.menu.shownLabels,
      head: this.head.toArray(), caption: this.caption.content,
    };
  }

  /** Where things are in the reference space (metres), for tests: the head and its heading, the
   * table's height, and the boxes of the info panel, the caption, the loss chart and the wrist
   * menu (null when not shown). */
  layout(): Record<string, unknown> {
    return {
      head: this.head.toArray(), headYaw: this.headYaw, tableHeight: tableHeight(this.head),
      panel: corners(this.panel.box()), caption: corners(this.caption.box()),
      chart: corners(this.presenting ? this.hooks.chart.box() : null), menu: corners(this.menu.box()),
      panelCells: this.panel.root.visible ? this.panel.cells.map((c) => ({ ...c })) : [],
      panelHistograms: this.panel.root.visible ? this.panel.histograms : 0,
    };
  }

  /** The share of the canvas's last frame that is transparent (alpha 0: passthrough shows) and
   * opaque, from every 4th pixel of every 4th row; for tests. */
  alphaCoverage(): { transparent: number; opaque: number; samples: number } {
    const gl = this.renderer.getContext(), w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
    const px = new Uint8Array(w * h * 4), bound = gl.getParameter(gl.FRAMEBUFFER_BINDING);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    gl.bindFramebuffer(gl.FRAMEBUFFER, bound);
    let clear = 0, opaque = 0, n = 0;
    for (let y = 0; y < h; y += 4) {
      for (let x = 0; x < w; x += 4) {
        const a = px[(y * w + x) * 4 + 3];
        n++;
        if (a === 0) clear++;
        else if (a === 255) opaque++;
      }
    }
    return { transparent: clear / Math.max(n, 1), opaque: opaque / Math.max(n, 1), samples: n };
  }

  /** The model root's transform: position (m), heading (rad) and scale. */
  rootTransform(): { position: number[]; yaw: number; scale: number } {
    return { position: this.world.position.toArray(), yaw: wrapAngle(this.world.rotation.y), scale: this.world.scale.x };
  }
}

/** Why AR (immersive-ar) cannot start here, or "" when it can. */
async function arAvailability(): Promise<string> {
  const where = "open this page in the browser of a headset with passthrough (Meta Quest 3 or Pro, Vision Pro) "
    + "or in Chrome on an Android phone with ARCore";
  if (!window.isSecureContext) {
    return `AR needs a secure context: this page is ${location.protocol}//${location.host}; open it over https `
      + "(nnviz3d view SPEC --tls prints the address) or on localhost.";
  }
  if (!navigator.xr) return `This browser has no WebXR: ${where}.`;
  try {
    if (await navigator.xr.isSessionSupported("immersive-ar")) return "";
  } catch (err) {
    return `WebXR refused to say whether AR works here: ${(err as Error).message}`;
  }
  return `WebXR is available but AR is not (immersive-ar is not supported): ${where}.`;
}
