// Test and demo aid: an emulated headset (iwer, the Immersive Web Emulation Runtime) installed in
// place of the browser's own WebXR. Loaded lazily, only when the page URL asks for it with
// ?xr-emulate=quest3, so the normal viewer never downloads it.
import type { XRDevice } from "iwer";

export interface Emulator {
  device: XRDevice;
  /** Put a controller at ``from`` (reference-space metres) pointing at ``to``. */
  aim(hand: "left" | "right", from: number[], to: number[]): void;
  /** Press (1) or release (0) a controller button: "trigger", "squeeze", "a-button"... */
  press(hand: "left" | "right", button: string, value: number): void;
  /** Tilt a controller's thumbstick (x right, y down; -1..1). */
  stick(hand: "left" | "right", x: number, y: number): void;
  /** For AR: a captured room (iwer's synthetic environment module, xr/arRoom.ts) that answers
   * hit-tests and is drawn behind the page as passthrough. Loaded on the first call. */
  prepareAr(): Promise<void>;
  /** The room's planes (reference space, metres): label, centre and the box of its outline. */
  planes(): { label: string; centre: number[]; min: number[]; max: number[] }[];
}

export async function installEmulator(name: string): Promise<Emulator> {
  const iwer = await import("iwer");
  const configs: Record<string, typeof iwer.metaQuest3> = {
    quest3: iwer.metaQuest3, quest2: iwer.metaQuest2, questpro: iwer.metaQuestPro,
  };
  const config = configs[name];
  if (!config) throw new Error(`xr-emulate: unknown headset ${JSON.stringify(name)}; one of ${Object.keys(configs).join(", ")}`);
  const device = new iwer.XRDevice(config);
  // Chromium has a native navigator.xr (without a headset): replace it
  device.installRuntime({ forceInstall: true });
  const controller = (hand: "left" | "right") => {
    const c = device.controllers[hand];
    if (!c) throw new Error(`the emulated ${name} has no ${hand} controller`);
    return c;
  };
  return {
    device,
    aim(hand, from, to) {
      const c = controller(hand);
      const dir = iwer.directionTo({ x: from[0], y: from[1], z: from[2] }, { x: to[0], y: to[1], z: to[2] });
      const q = iwer.lookRotation(dir);
      c.position.set(from[0], from[1], from[2]);
      c.quaternion.set(q.x, q.y, q.z, q.w);
    },
    press(hand, button, value) { controller(hand).updateButtonValue(button, value); },
    stick(hand, x, y) { controller(hand).updateAxes("thumbstick", x, y); },
    async prepareAr() {
      const { installRoom } = await import("./arRoom");
      await installRoom(device);
    },
    planes() {
      return device.sem ? [...device.sem.trackedPlanes].map((p) => {
        const { position: c, orientation: q } = p.transform;
        const m = new DOMMatrix().translate(c.x, c.y, c.z).multiply(quaternionMatrix(q));
        const pts = p.polygon.map((v) => m.transformPoint(v));
        const lo = (k: "x" | "y" | "z") => Math.min(...pts.map((v) => v[k]));
        const hi = (k: "x" | "y" | "z") => Math.max(...pts.map((v) => v[k]));
        return { label: String(p.semanticLabel), centre: [c.x, c.y, c.z],
          min: [lo("x"), lo("y"), lo("z")], max: [hi("x"), hi("y"), hi("z")] };
      }) : [];
    },
  };
}

/** The rotation matrix of a unit quaternion. */
function quaternionMatrix(q: DOMPointReadOnly): DOMMatrix {
  const { x, y, z, w } = q;
  return new DOMMatrix([
    1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w), 0,
    2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w), 0,
    2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y), 0,
    0, 0, 0, 1,
  ]);
}

/** Test aid (?xr-fps=N with ?xr-emulate=): the page's animation frames, and so the emulated
 * session's, at most ``fps`` a second. A software rasteriser then draws a stereo frame as often
 * as the tests need rather than as often as it can. Nothing is allocated per frame. */
export function capFrameRate(fps: number): void {
  if (!(fps > 0 && fps < 1000)) throw new Error(`xr-fps: ${fps} is not a frame rate (1-999)`);
  const raw = window.requestAnimationFrame.bind(window);
  const interval = 1000 / fps;
  let due = 0, nextId = 1, scheduled = false;
  // the callbacks for the next frame, and those of the frame being run (swapped, reused)
  let ids: number[] = [], cbs: (FrameRequestCallback | null)[] = [];
  let runIds: number[] = [], runCbs: (FrameRequestCallback | null)[] = [];
  const tick = (now: number): void => {
    if (now < due) { raw(tick); return; } // not yet: wait for a later display frame
    due = now + interval - 4; // display frames land a few ms either side of a multiple
    scheduled = false;
    const i0 = runIds, c0 = runCbs; // swap (a destructuring swap may allocate an array)
    runIds = ids; runCbs = cbs; ids = i0; cbs = c0;
    for (let i = 0; i < runCbs.length; i++) runCbs[i]?.(now);
    runIds.length = 0;
    runCbs.length = 0;
  };
  window.requestAnimationFrame = (cb: FrameRequestCallback): number => {
    ids.push(nextId);
    cbs.push(cb);
    if (!scheduled) { scheduled = true; raw(tick); }
    return nextId++;
  };
  window.cancelAnimationFrame = (id: number): void => {
    const i = ids.indexOf(id);
    if (i >= 0) cbs[i] = null;
    const j = runIds.indexOf(id);
    if (j >= 0) runCbs[j] = null;
  };
}
