// window.nnviz3d: the automation API the browser tests (and scripts) read the viewer through.
// Its properties are either getters (read as values) or functions; Playwright's
// page.evaluate("nnviz3d.x") calls a function-valued property, so each keeps its kind.
import * as THREE from "three";
import { formatStat } from "./dom";
import type { CkaPanel } from "./ckaPanel";
import type { HealthPanel } from "./healthPanel";
import type { PointSelection } from "./pointSelection";
import { PROTOCOL_VERSION } from "./protocol.gen";
import type { RecipeView } from "./recipeView";
import { capture, type CaptureOptions, labelsSettled } from "./renderMode";
import { scenePathOf } from "./sceneView";
import type { SceneSelection } from "./selection";
import type { Toolbar } from "./toolbar";
import type { TopologyViews } from "./topologyViews";
import type { Tour } from "./tour";
import { $, colorScaleEntries } from "./ui";
import { lastClearance, projectedRect } from "./viewClearance";
import type { Viewer } from "./viewerContext";
import type { XrMode } from "./xr/session";

/** The viewer's parts the API reads and drives besides the shared ones. */
export interface ApiParts {
  cka: CkaPanel;
  selection: SceneSelection;
  health: HealthPanel;
  recipes: RecipeView;
  points: PointSelection;
  toolbar: Toolbar;
  topology: TopologyViews;
  xr: XrMode;
  tour: Tour;
  /** Draw calls and triangles of the last desktop frame, frames drawn, multisampling. */
  stats: { drawCalls: number; triangles: number; frames: number; antialias: boolean; glyphSize: number };
  /** Apply the probe frames received since the last frame. */
  flushProbe(): void;
  setColorBy(key: string): void;
  visualise(module: string, unit: number): void;
  track(module: string, unit: number): void;
  /** Draw the scene now (render mode draws only for a capture). */
  draw(): void;
}

function summary(o: { kind: string; module: string; name: string; shape: number[]; meta: Record<string, any>; legend: { lo: number; hi: number } }) {
  return { kind: o.kind, module: o.module, name: o.name, shape: [...o.shape], meta: { ...o.meta }, lo: o.legend.lo, hi: o.legend.hi };
}

/** Define window.nnviz3d (frozen, not writable). */
export function exposeApi(v: Viewer, parts: ApiParts): void {
  const { canvas, camera, nav, world, view, labels, overlays, marks, flow, chart, probe, inspectPanel, timeline,
    conn, state } = v;
  const { selection, health, recipes, points, toolbar, xr, tour, stats } = parts;

  function toScreen(p: THREE.Vector3): { x: number; y: number } {
    const c = p.clone().project(camera);
    const r = canvas.getBoundingClientRect();
    return { x: r.left + ((c.x + 1) / 2) * r.width, y: r.top + ((1 - c.y) / 2) * r.height };
  }

  /** Screen rectangles (CSS px) of the blocks (and group boxes) in front of the camera that
   * reach the canvas. */
  function projectedBlocks(groups = false): { x0: number; y0: number; x1: number; y1: number }[] {
    const out = projectedBoxes(view.blockPositions, view.blockScales);
    return groups ? out.concat(projectedBoxes(view.groupPositions, view.groupScales)) : out;
  }

  function coverage(groups: boolean): number {
    const r = canvas.getBoundingClientRect();
    const cell = 4, cw = Math.ceil(r.width / cell), ch = Math.ceil(r.height / cell);
    const grid = new Uint8Array(cw * ch);
    for (const b of projectedBlocks(groups)) {
      const x0 = Math.max(0, Math.floor((b.x0 - r.left) / cell)), x1 = Math.min(cw, Math.ceil((b.x1 - r.left) / cell));
      const y0 = Math.max(0, Math.floor((b.y0 - r.top) / cell)), y1 = Math.min(ch, Math.ceil((b.y1 - r.top) / cell));
      for (let y = y0; y < y1; y++) grid.fill(1, y * cw + x0, y * cw + Math.max(x0, x1));
    }
    let on = 0;
    for (const v of grid) on += v;
    return on / Math.max(1, grid.length);
  }

  /** Screen rectangles of the boxes (centres ``p``, extents ``s``) wholly in front of the
   * camera that reach the canvas (projectedRect: viewClearance.ts). */
  function projectedBoxes(p: Float32Array, s: Float32Array): { x0: number; y0: number; x1: number; y1: number }[] {
    camera.updateMatrixWorld();
    const r = canvas.getBoundingClientRect();
    const out = [];
    const box = new THREE.Box3(), c = new THREE.Vector3(), size = new THREE.Vector3();
    for (let i = 0; i < p.length / 3; i++) {
      box.setFromCenterAndSize(c.fromArray(p, 3 * i), size.fromArray(s, 3 * i));
      if (behindCamera(box)) continue;
      const q = projectedRect(box, camera, r);
      if (q.right < r.left || q.left > r.right || q.bottom < r.top || q.top > r.bottom) continue;
      out.push({ x0: q.left, y0: q.top, x1: q.right, y1: q.bottom });
    }
    return out;
  }

  /** True when a corner of ``box`` is not in front of the camera's near plane. */
  function behindCamera(box: THREE.Box3): boolean {
    const fwd = camera.getWorldDirection(new THREE.Vector3()), v = new THREE.Vector3();
    for (let k = 0; k < 8; k++) {
      v.set(k & 1 ? box.max.x : box.min.x, k & 2 ? box.max.y : box.min.y, k & 4 ? box.max.z : box.min.z);
      if (v.sub(camera.position).dot(fwd) <= camera.near) return true;
    }
    return false;
  }

  const api = {};
  const getters: Record<string, () => unknown> = {
    ready: () => state.ready,
    protocolVersion: () => PROTOCOL_VERSION,
    nodeCount: () => view.blocks.length,
    groupCount: () => view.groups.length,
    drawCalls: () => stats.drawCalls,
    triangles: () => stats.triangles,
    /** Frames drawn since the page loaded: the loop draws only when something changed. */
    frames: () => stats.frames,
    /** Multisampled: false on a software rasteriser outside render mode (gpuInfo.ts). */
    antialias: () => stats.antialias,
    /** Label glyphs' distance-field size in px: 32 on a software rasteriser outside render mode. */
    glyphSize: () => stats.glyphSize,
    selected: () => selection.selected,
    /** The training step shown, or null without probe data. */
    step: () => probe.step,
    /** True while following the newest step. */
    live: () => timeline.live,
    /** The last timeline message, or null. */
    timeline: () => (timeline.info ? { ...timeline.info } : null),
    colorBy: () => state.colorKey,
    /** Module paths with probe data at the shown step. */
    probeModules: () => probe.modules(),
    sceneVersion: () => state.sceneVersion,
    error: () => state.lastError,
    labelCount: () => labels.visibleCount,
    /** Each drawn label: its text, the scene path it names, its screen rectangle (CSS px) and
     * its text height in px. */
    labels: () => labels.rects.map((r) => ({ ...r })),
    /** Blocks whose projected box is at least partly on the canvas. */
    visibleBlocks: () => projectedBlocks().length,
    /** Fraction of the canvas covered by the model's drawn boxes (blocks, and the outlined
     * boxes of open groups and stacks): their union, rasterised at 4 px. */
    coverage: () => coverage(true),
    /** The same for the blocks alone. */
    blockCoverage: () => coverage(false),
    /** True while the camera flies to a framing. */
    flying: () => nav.animating,
    /** The page's toolbar rectangle (CSS px). */
    toolbarRect: () => { const b = $("toolbar").getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; },
    model: () => state.model,
    alarms: () => [...health.alarms.values()].map((a) => ({ ...a })),
    /** Overlays shown: weight maps and bias bars (channel weights), ridges/scatter (detail). */
    overlays: () => [...overlays.weightList.map((o) => ({ channel: "weights", ...summary(o) })),
      ...overlays.detailList.map((o) => ({ channel: "detail", ...summary(o) })),
      ...overlays.inspectList.map((o) => ({ channel: "inspect", ...summary(o) }))],
    overlayStep: () => overlays.weightStep,
    /** Modules whose blocks glow with a health badge at the shown step. */
    badges: () => [...marks.modules],
    /** The input shown layer by layer: {index, label, prediction, method, target...} or null. */
    inspection: () => (overlays.inspectInfo ? { ...overlays.inspectInfo } : null),
    inputCount: () => inspectPanel.count,
    /** "B - A · A path · B path" when showing two runs overlaid (nnviz3d compare), else "". */
    compare: () => state.compareNote,
    /** The scene recipe's view settings, or null. */
    recipe: () => (recipes.recipe ? JSON.parse(JSON.stringify(recipes.recipe)) : null),
    /** Inputs selected by a box in the embedding clouds (sorted), or null. */
    embeddingSelection: () => (overlays.clouds.embedSelection ? [...overlays.clouds.embedSelection].sort((a, b) => a - b) : null),
    /** Embeddings shown: [{layer, method, step, count, knn}]. */
    /** The layer-similarity panel (ckaPanel.ts): step, layers, hover, pair, refusals. */
    cka: () => parts.cka.state(),
    embeddings: () => [...overlays.clouds.embedList.values()].map((o) => ({ layer: o.module, method: o.meta.method,
      step: o.meta.step, count: o.meta.count, knn: o.meta.knn, classes: o.legend.classes ?? [] })),
    /** The chart's metric names, the one drawn, its newest train value as text ("NaN" for a
     * diverged run) with its step, how many of its values are NaN or infinite, the history
     * rows it holds and the increments it appended. */
    chart: () => ({ names: [...chart.names], shown: chart.shown, wanted: chart.wanted,
      latest: chart.latest ? { step: chart.latest.step, value: formatStat(chart.latest.value) } : null,
      nonfinite: chart.nonfinite, rows: chart.rows, appended: chart.appended }),
    /** The chart as placed: "screen" (a desktop panel) or "world" (VR), its rectangle on the
     * page (CSS px) or null while hidden, its box and yaw in the scene (world mode) or null, and
     * its title, axis labels and tick numbers. */
    chartView: () => {
      const r = chart.rect();
      return { orientation: chart.orientation, shown: chart.visible,
        rect: r ? { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height } : null,
        world: chart.box() ? { min: chart.box()!.min.toArray(), max: chart.box()!.max.toArray(),
          yaw: chart.mesh.rotation.y } : null,
        ...chart.text, xTicks: [...chart.text.xTicks], yTicks: [...chart.text.yTicks] };
    },
    /** The last default framing's clearance of the panels: {moves, under}. */
    clearance: () => ({ ...lastClearance }),
    /** The embedding clouds: [{layer, title, size, min, max}] (boxes in model coordinates). */
    clouds: () => overlays.clouds.boxes(),
    /** The class legend of the clouds: [{label, color}] as shown, or null while hidden. */
    classLegend: () => {
      const box = document.getElementById("legend-classes");
      if (!box || box.hidden) return null;
      return [...box.querySelectorAll<HTMLElement>(".cls")].map((e) => ({ label: e.textContent ?? "",
        color: getComputedStyle(e.querySelector(".sw")!).backgroundColor }));
    },
    /** The colour scale's legend entries (min, max, all, nodata, invalid, empty), or null. */
    colorScale: () => colorScaleEntries(),
    /** Every block's box in model coordinates: [{path, min, max}]. */
    blockBoxes: () => view.blocks.map((b, index) => {
      const box = view.boxOf({ kind: "block", index });
      return { path: b.path, min: box.min.toArray(), max: box.max.toArray() };
    }),
    /** Feature visualisations shown: [{module, unit, ratio, activation, random_activation}]. */
    features: () => overlays.featureList.map((o) => ({ module: o.module, unit: o.meta.unit, ratio: o.meta.ratio,
      activation: o.meta.activation, random_activation: o.meta.random_activation, shape: [...o.shape] })),
    /** The loss landscape shown: its grid, centre loss, range and trajectory length; or null. */
    landscape: () => {
      const o = overlays.landscapeInfo;
      return o ? { shape: [...o.shape], center_loss: o.meta.center_loss, min: o.meta.min, cap: o.meta.cap,
        directions: o.meta.directions, path: o.arrays.path ? o.arrays.path.length / 2 : 0,
        seconds_per_point: o.meta.seconds_per_point } : null;
    },
    badgeCount: () => marks.count,
    /** Gradient flow: on/off, particles per class, and each layer's class. */
    flow: () => ({ enabled: flow.enabled, counts: { ...flow.counts }, classes: Object.fromEntries(flow.classes),
      first: flow.firstPosition("normal") }),
    detailModule: () => overlays.detailModule,
    /** Every overlay shown, placed: {channel, module, name, kind, title, drawn (title texts
     * drawn in its box), box: [min, max]}. */
    overlayTitles: () => overlays.titles(),
    /** Activation stacks: {fanned, front: {module: channel in front}, channels: {module: C}}. */
    slabs: () => overlays.slabState(),
    /** The loss landscape's box [min, max], or null. */
    landscapeBox: () => (overlays.landscapeBox ? [overlays.landscapeBox.min.toArray(), overlays.landscapeBox.max.toArray()] : null),
    overlaysHidden: () => overlays.hidden,
    tooltip: () => ($("tooltip").hidden ? null : $("tooltip").textContent),
    /** VR: {supported, secure, presenting, mode, referenceSpace, frames, drawCalls, message, picks, grabs...}. */
    xr: () => xr.state(),
    /** The text of the info panel shown in the headset ("" when closed). */
    vrPanel: () => (xr.panel.root.visible ? xr.panel.content : ""),
    /** The model root's transform (moved and scaled in VR): {position, yaw, scale}. */
    modelRoot: () => xr.rootTransform(),
    /** The tour: {playing, index, count, caption, visited}. */
    tour: () => tour.state(),
    // -- view ages, the timeline's tick rows, the vanishing style (issue 17) ------------------
    /** How old each view is at the shown step: {shown, text (the line under the timeline),
     * ages: [{kind, name, step (null: none yet), age}]}. */
    viewAges: () => {
      parts.flushProbe();
      timeline.refresh();
      return { shown: probe.step, text: $("tl-ages").hidden ? "" : ($("tl-ages").textContent ?? ""),
        ages: timeline.ages.map((a) => ({ ...a })) };
    },
    /** The timeline's tick rows: {kind: {steps, stride, count, last}} as read, and the rows'
     * canvas rectangle (CSS px) or null while hidden. */
    stepMarks: () => {
      const c = document.getElementById("tl-marks");
      const r = c && !$("timeline").hidden ? c.getBoundingClientRect() : null;
      return { kinds: Object.fromEntries([...timeline.marks].map(([k, m]) => [k, { ...m, steps: [...m.steps] }])),
        rect: r ? { x: r.left, y: r.top, w: r.width, h: r.height } : null };
    },
    /** Rectangles (CSS px) of the timeline's parts: the age line, the tick rows, the bar. */
    timelineRects: () => Object.fromEntries(["timeline", "tl-ages", "tl-marks", "tl-step"].map((id) => {
      const e = document.getElementById(id);
      const r = e && !e.hidden && e.offsetParent !== null ? e.getBoundingClientRect() : null;
      return [id, r ? { x: r.left, y: r.top, w: r.width, h: r.height } : null];
    })),
    /** How the vanishing layers are drawn: {layers, particles, dashed (segments), labels
     * (modules labelled), labelText, color, visible}. */
    flowVanishing: () => flow.vanishingStyle(),
    /** The alarms that hold at the shown step (the newest probe frame's). */
    currentAlarms: () => health.current.map((a) => ({ alarm: a.alarm, module: a.module, step: a.step, kind: a.kind })),
    /** Every block's linear [r, g, b] by scene path. */
    blockColors: () => {
      parts.flushProbe();
      return Object.fromEntries(view.blocks.map((b, i) => [b.path, view.blockColor(i)]));
    },
  };
  for (const [name, get] of Object.entries(getters)) Object.defineProperty(api, name, { get, enumerable: true });
  Object.assign(api, {
    select: (path: string) => selection.selectPath(path),
    /** Pick CKA cell (row, column) as a click would (selects the pair's blocks); its value. */
    ckaPick: (i: number, j: number) => parts.cka.pick(i, j),
    ckaValue: (i: number, j: number) => parts.cka.value(i, j),
    expand: (path: string) => selection.actions.expand(path),
    collapse: (path: string) => selection.actions.collapse(path),
    paths: () => view.blocks.map((b) => b.path),
    setColorBy: (key: string) => parts.setColorBy(key),
    seek: (step: number) => timeline.seek(step),
    follow: () => timeline.follow(),
    /** The linear [r, g, b] set for a block (scene path, or dotted module path); null when absent. */
    blockColor: (path: string) => {
      parts.flushProbe();
      const pick = view.pathIndex.get(scenePathOf(path));
      return pick?.kind === "block" ? view.blockColor(pick.index) : null;
    },
    /** The linear [r, g, b] a block is drawn in now (hover, selection and matrix lighting included). */
    shownColor: (path: string) => {
      parts.flushProbe();
      const pick = view.pathIndex.get(scenePathOf(path));
      return pick?.kind === "block" ? view.shownColor(pick.index) : null;
    },
    render: () => v.renderNow(),
    /** Render now and return the canvas as a data URL, with a caption and the chart drawn on
     * it (renderMode.ts; nnviz3d render). */
    capture: (opts: CaptureOptions = {}) => { v.renderNow(); parts.draw(); return capture(canvas, opts); },
    /** True when the camera is still and every label is laid out (ready to capture). */
    settled: () => !nav.animating && labelsSettled(labels.root),
    /** The screen rectangle (CSS px) of a block or group's projected box, by module or scene
     * path: {x, y, w, h}; null when it is not in the scene. */
    rectOf: (path: string) => {
      const pick = view.pathIndex.get(scenePathOf(path));
      if (!pick) return null;
      camera.updateMatrixWorld();
      const q = projectedRect(view.boxOf(pick), camera, canvas.getBoundingClientRect());
      return { x: q.left, y: q.top, w: q.right - q.left, h: q.bottom - q.top };
    },
    /** Where a scene point [x, y, z] is on screen (CSS px). */
    screen: (point: number[]) => toScreen(new THREE.Vector3(point[0], point[1], point[2])),
    showWeights: (on: boolean) => toolbar.setShowWeights(on),
    /** Bring the next (delta 1) or previous channel of a stack (a module, or all when null) to the front. */
    flipSlabs: (module: string | null = null, delta = 1) => { const f = overlays.flipSlabs(module, delta); v.requestRender(); v.renderNow(); return f; },
    /** Fan the activation stacks out (true) or stack them (false). */
    fanSlabs: (on: boolean) => { overlays.fanSlabs(on); v.requestRender(); v.renderNow(); },
    /** Whether a box [min, max] lies wholly inside the camera's view (after the current flight). */
    inView: (box: number[][]) => {
      camera.updateMatrixWorld();
      const f = new THREE.Frustum().setFromProjectionMatrix(
        new THREE.Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse));
      const [a, b] = box;
      return [0, 1, 2, 3, 4, 5, 6, 7].every((k) => f.containsPoint(new THREE.Vector3(
        k & 1 ? b[0] : a[0], k & 2 ? b[1] : a[1], k & 4 ? b[2] : a[2])));
    },
    /** Where a box [min, max] is on screen: its projected corners' bounds (CSS px). */
    screenBox: (box: number[][]) => {
      const [a, b] = box;
      const pts = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => toScreen(new THREE.Vector3(
        k & 1 ? b[0] : a[0], k & 2 ? b[1] : a[1], k & 4 ? b[2] : a[2])));
      return { left: Math.min(...pts.map((p) => p.x)), right: Math.max(...pts.map((p) => p.x)),
        top: Math.min(...pts.map((p) => p.y)), bottom: Math.max(...pts.map((p) => p.y)) };
    },
    /** The direction a weight map faces [x, y, z]. */
    cellNormal: (module: string, name = "weight") => overlays.cellNormal(module, name)?.toArray() ?? null,
    visualise: (module: string, unit: number) => parts.visualise(module, unit),
    goToBookmark: (name: string) => recipes.goToBookmark(name),
    /** The current view as recipe TOML (what Save view downloads). */
    recipeText: () => recipes.text(),
    /** Box-select embedding points between two screen corners (CSS px); returns the count. */
    selectBox: (x0: number, y0: number, x1: number, y1: number) => points.selectBox([x0, y0, x1, y1]),
    /** The colour [r, g, b] (linear) point ``index`` of a layer's cloud is drawn with. */
    pointColor: (layer: string, index: number) => overlays.clouds.pointColor(layer, index),
    setPointStyle: (size: number, opacity: number) => points.setPointStyle(size, opacity),
    /** Whether the tooltip shows an input's picture. */
    tooltipThumb: () => !!document.querySelector("#tooltip canvas.thumb"),
    track: (module: string, unit: number) => parts.track(module, unit),
    requestLandscape: (steps = 21) => conn.send({ type: "landscape", steps }),
    landscapePoint: (row: number, col: number) => overlays.landscapePoint(row, col)?.toArray() ?? null,
    /** Where point ``index`` of a layer's embedding is now (scene coordinates). */
    embeddingPoint: (layer: string, index: number) => overlays.clouds.embeddingPoint(layer, index)?.toArray() ?? null,
    showFlow: (on: boolean) => {
      toolbar.setFlow(on);
      if (on) { flow.update(view, probe, health.explodingModules(), health.vanishingModules()); state.flowDirty = false; }
    },
    /** Show probe input ``index`` in every layer, with a saliency method ("none", "gradient"...). */
    inspect: (index: number, method = "none") => inspectPanel.choose(index, method),
    unitAction: (module: string, unit: number) => inspectPanel.unitAction(module, unit),
    inspectPosition: (module: string, name = "activation") => overlays.inspectPosition(module, name)?.toArray() ?? null,
    /** The layer of B matched with layer ``module`` of A (nnviz3d compare), else null. */
    comparePartner: (module: string) => (state.compareNote ? (state.comparePairs[module] ?? module) : null),
    /** One weight cell: its value, what it stands for, and where it is on screen (CSS px). */
    weightCell: (module: string, row: number, col: number, name = "weight") => {
      const o = overlays.weightList.find((x) => x.module === module && x.name === name);
      const p = overlays.cellPosition(module, name, row, col);
      if (!o || !p) return null;
      const hit = overlays.describe(o, [row, col]);
      const k = 3 * (row * o.shape[1] + col);
      return { value: hit.value, text: hit.text, rgb: Array.from(o.arrays.colors.subarray(k, k + 3)),
        lo: o.legend.lo, hi: o.legend.hi, ...toScreen(p) };
    },
    /** Point the camera at a scene position [x, y, z] from a given offset (for tests, tours). */
    lookAt: (target: number[], offset: number[]) => {
      state.cameraUntouched = false;
      const t = new THREE.Vector3().fromArray(target);
      nav.flyTo(new THREE.Vector3().fromArray(offset).add(t), t, false); // a jump: ends any flight
      v.requestRender();
      v.renderNow();
    },
    cellPosition: (module: string, row: number, col: number, name = "weight") =>
      overlays.cellPosition(module, name, row, col)?.toArray() ?? null,
    camera: () => ({ position: camera.position.toArray(), target: nav.controls.target.toArray() }),
    /** Where a block's centre is on screen (CSS pixels), or null when it is not in the scene. */
    project: (path: string) => {
      const pick = view.pathIndex.get(scenePathOf(path));
      return pick ? toScreen(view.boxOf(pick).getCenter(new THREE.Vector3())) : null;
    },
  });
  Object.assign(api, {
    enterVR: () => xr.enter(),
    enterAR: () => xr.enter("immersive-ar"),
    /** AR: the share of the drawn frame's pixels that are transparent (alpha 0) and opaque. */
    xrAlpha: () => xr.alphaCoverage(),
    exitVR: () => xr.exit(),
    /** The emulated headset (?xr-emulate=quest3): aim(hand, from, to), press(hand, button, v), stick(hand, x, y). */
    xrEmulator: () => xr.emulator,
    /** Where a block's centre (a path) or a model-space point [x, y, z] is in the VR reference
     * space (metres), or null. */
    xrPoint: (at: string | number[]) => {
      const pick = typeof at === "string" ? view.pathIndex.get(scenePathOf(at)) : undefined;
      if (typeof at === "string" && !pick) return null;
      const p = pick ? view.boxOf(pick).getCenter(new THREE.Vector3()) : new THREE.Vector3().fromArray(at as number[]);
      world.updateMatrixWorld(true);
      return p.applyMatrix4(world.matrixWorld).toArray();
    },
    /** Where things are in VR (reference space, metres): the head and its heading, the table's
     * height, the first and last blocks' centres (graph order), the same in the head's frame
     * (heading only: x right, y up, -z ahead), the model's box, and the boxes of the info panel, caption,
     * loss chart and wrist menu (null when not shown), with the panel's table cells. */
    xrLayout: () => {
      world.updateMatrixWorld(true);
      const out: Record<string, unknown> = xr.layout();
      const head = new THREE.Vector3().fromArray(out.head as number[]);
      const toHead = (p: THREE.Vector3) => p.clone().sub(head).applyAxisAngle(new THREE.Vector3(0, 1, 0), Math.PI - (out.headYaw as number)).toArray();
      const n = view.blocks.length;
      const ends = n ? [0, n - 1].map((i) => view.boxOf({ kind: "block", index: i }).getCenter(new THREE.Vector3()).applyMatrix4(world.matrixWorld)) : [];
      const box = view.bounds().applyMatrix4(world.matrixWorld);
      return { ...out, first: ends[0]?.toArray() ?? null, last: ends[1]?.toArray() ?? null,
        firstInHead: ends[0] ? toHead(ends[0]) : null, lastInHead: ends[1] ? toHead(ends[1]) : null,
        model: { min: box.min.toArray(), max: box.max.toArray() } };
    },
    /** Where a VR menu button's centre is (reference space), or null. */
    xrMenuPoint: (id: string) => xr.menu.buttonPoint(id),
    playTour: (from = 0) => tour.play(from),
    /** The matrix and layout views (topologyViews.ts): shown or not, cells, layout, progress, screen rect. */
    topology: () => parts.topology.state(),
    setMatrix: (on: boolean) => parts.topology.setMatrix(on),
    setMatrixColor: (mode: "size" | "kind") => parts.topology.setMatrixColor(mode),
    setLayout: (mode: "layers" | "spectral", animate = true) => parts.topology.setLayout(mode, animate),
    /** The matrix's cells: [{src, dst, kind, point}] (module paths, screen point of the cell). */
    matrixCells: () => parts.topology.matrix.cells.map((c, k) => ({ src: view.blocks[c.src].module,
      dst: view.blocks[c.dst].module, kind: view.edges[c.edge]?.kind, point: toScreen(parts.topology.matrix.cellPoint(k)) })),
    /** Screen point of row ``r``'s name in the matrix. */
    matrixRow: (r: number) => toScreen(parts.topology.matrix.rowPoint(r)),
    nextTourStop: () => tour.next(),
    stopTour: () => tour.stop(),
  });
  Object.freeze(api);
  Object.defineProperty(window, "nnviz3d", { value: api, writable: false, configurable: false });
}
