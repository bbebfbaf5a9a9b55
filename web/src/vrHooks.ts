// What VR mode (xr/session.ts) asks of the viewer: picking along a controller ray, the labels for
// the headset's camera, the info panel's extra lines and the wrist menu's buttons.
import type * as THREE from "three";
import { type ColorKey, QUANTITIES } from "./colorBy";
import { displayName } from "./dom";
import type { HealthPanel } from "./healthPanel";
import { type Pick, scenePathOf } from "./sceneView";
import type { SceneSelection } from "./selection";
import type { Tour } from "./tour";
import { $ } from "./ui";
import type { Viewer } from "./viewerContext";
import type { XrHooks } from "./xr/session";

/** The viewer's parts the VR hooks use besides the shared ones. */
export interface VrParts {
  selection: SceneSelection;
  health: HealthPanel;
  tour: Tour;
  /** The per-frame work shared with the desktop loop. */
  advance(dt: number): void;
  /** Restart the desktop loop (the session ended). */
  resumeDesktop(): void;
  visualise(module: string, unit: number): void;
  setColorBy(key: string): void;
  /** The floor grid under the model, or null. */
  floor(): THREE.Object3D | null;
}

const quantityKeys = Object.keys(QUANTITIES) as ColorKey[];

export function vrHooks(v: Viewer, parts: VrParts): XrHooks {
  const { view, overlays, marks, labels, probe, timeline, state } = v;
  const { selection, health, tour } = parts;

  /** The block whose health badge or glow a ray hits (HealthMarks draws the alarmed modules
   * present in the scene, in order), or null. */
  function pickBadge(ray: THREE.Raycaster): Pick | null {
    const threshold = ray.params.Points.threshold;
    ray.params.Points.threshold = 0.15; // model units: about the badge's size
    const hit = ray.intersectObject(marks.root, true)[0];
    ray.params.Points.threshold = threshold;
    const k = hit ? (hit.instanceId ?? hit.index ?? -1) : -1;
    if (k < 0) return null;
    const shown = marks.modules.map((m) => view.pathIndex.get(scenePathOf(m))).filter((p) => p?.kind === "block");
    return shown[k] ?? null;
  }

  /** What the VR menu's expand button does to the selection: open a collapsed block, else close
   * the group around it. */
  function expandTarget(): { act: "expand" | "collapse"; module: string } | null {
    const pick = selection.selected ? view.pathIndex.get(selection.selected) : undefined;
    if (!pick) return null;
    if (pick.kind === "group") return { act: "collapse", module: view.groups[pick.index].module };
    const b = view.blocks[pick.index];
    if (b.collapsed) return { act: "expand", module: b.module };
    const parent = selection.parentGroupOf(b.module);
    return parent ? { act: "collapse", module: parent } : null;
  }
  function expandLabel(): string {
    const t = expandTarget();
    return t ? `${t.act === "expand" ? "Expand" : "Collapse"} ${displayName(t.module.split(".").pop(), 24)}` : "select a layer";
  }
  function toggleExpand(): void {
    const t = expandTarget();
    if (t) selection.actions[t.act](t.module);
  }

  return {
    advance: parts.advance,
    pick(ray) {
      const badge = marks.count ? pickBadge(ray) : null;
      if (badge) { selection.apply(badge, false); return ""; }
      const hit = overlays.count() ? overlays.pick(ray) : null;
      const unit = hit ? overlays.unitOf(hit) : null;
      if (hit && hit.overlay.name === "embedding") { overlays.clouds.clickPoint(hit.index[0]); return hit.text; }
      if (unit) { parts.visualise(unit.module, unit.unit); return hit!.text; }
      const pick = view.pick(ray);
      if (pick) { selection.apply(pick, false); return ""; }
      if (hit) return hit.text;
      selection.clear();
      return null;
    },
    modelBox: () => view.bounds(),
    updateLabels(cam) {
      const sel = selection.selected ? view.pathIndex.get(selection.selected)?.index ?? -1 : -1;
      labels.pin(sel >= 0 ? [view.labels.findIndex((l) => l.for === view.blocks[sel]?.path)] : []);
      labels.update(view, cam);
    },
    chart: v.chart,
    floor: parts.floor,
    infoPanel: $("info"),
    panelExtra: () => health.current.filter((a) => a.module === selection.selectedModule).map((a) => `health alarm: ${displayName(a.message, 300)}`).join("\n"),
    menuButtons: [
      { id: "play", x: -0.095, y: 0.07, w: 0.05, h: 0.03, label: () => (timeline.playing ? "Pause" : "Play"),
        press: () => ($("tl-play") as HTMLButtonElement).click() },
      { id: "scrub", x: 0.03, y: 0.07, w: 0.18, h: 0.03,
        label: () => (probe.step === null ? "no steps" : `step ${probe.step}`),
        press: (u) => {
          const t = timeline.info;
          if (t && t.last_step >= t.first_step) timeline.seek(Math.round(t.first_step + u * (t.last_step - t.first_step)));
        } },
      { id: "colour", x: 0, y: 0.03, w: 0.24, h: 0.03, label: () => `Colour: ${QUANTITIES[state.colorKey].label}`,
        press: () => parts.setColorBy(quantityKeys[(quantityKeys.indexOf(state.colorKey) + 1) % quantityKeys.length]) },
      { id: "expand", x: -0.0625, y: -0.02, w: 0.115, h: 0.03, label: () => expandLabel(), press: () => toggleExpand() },
      { id: "tour", x: 0.0625, y: -0.02, w: 0.115, h: 0.03,
        label: () => (tour.stops.length ? (tour.playing ? "Next stop" : "Tour") : "no tour"),
        press: () => (tour.playing ? tour.next() : tour.play()) },
    ],
    onPresentingChange(presenting) {
      if (presenting) return;
      tour.stop();
      v.requestRender();
      parts.resumeDesktop();
    },
  };
}
