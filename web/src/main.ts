// nnviz3d viewer: connects to the server, draws the scene and the training data on it, and
// exposes window.nnviz3d. This file is the composition root: it makes the renderer, the scene and
// its parts, routes the server's messages to them and runs the render loop; each panel, tool and
// the automation API live in their own modules, handed a Viewer (viewerContext.ts).
import * as THREE from "three";
import { exposeApi } from "./api";
import { displayName, el, fill } from "./dom";
import { renderClassLegend } from "./classLegend";
import { ckaView } from "./ckaPanel";
import { BlockColoring, isColorKey, QUANTITIES } from "./colorBy";
import { compareInfo, compareScale } from "./compareInfo";
import { Connection } from "./connection";
import { configureDrawing } from "./gpuInfo";
import { GradientFlow } from "./gradientFlow";
import { type Alarm, HealthPanel } from "./healthPanel";
import { HealthMarks } from "./healthMarks";
import { InspectPanel } from "./inspectPanel";
import { LabelPool } from "./labels";
import { comparedPair, LossChart } from "./lossChart";
import { Navigation, VIEW_FROM, VIEW_FROM_FOLDED } from "./navigation";
import { type OverlayInfo, Overlays } from "./overlays";
import { renderOverlayLegend } from "./overlayLegend";
import { Picking } from "./picking";
import { enterRenderMode, renderOptions } from "./renderMode";
import { PointSelection } from "./pointSelection";
import { ProbeState, viewAges } from "./probeState";
import { PROTOCOL_VERSION } from "./protocol.gen";
import { isPoint, RecipeView } from "./recipeView";
import { SceneView } from "./sceneView";
import { SceneSelection } from "./selection";
import { TimelineBar } from "./timeline";
import { Toolbar } from "./toolbar";
import { TopologyViews } from "./topologyViews";
import { Tour } from "./tour";
import { clearPanels } from "./viewClearance";
import { $, formatCount, hidePanel, renderColorScale, renderLegend, setOverlay, setStatus } from "./ui";
import type { Viewer, ViewerState } from "./viewerContext";
import { vrHooks } from "./vrHooks";
import { XrMode } from "./xr/session";

const canvas = $("scene") as HTMLCanvasElement;
// ?render=1 (nnviz3d render): the scene alone, on a chosen or transparent background (renderMode.ts)
const rendering = renderOptions(new URLSearchParams(location.search));
enterRenderMode(rendering);
// alpha: AR clears to transparent so passthrough shows (xr/session.ts), as does a transparent
// render; the desktop clears opaque. No multisampling and smaller glyph fields on a software
// rasteriser (gpuInfo.ts).
const { antialias, glyphSize } = configureDrawing(rendering.on, location.search);
const renderer = new THREE.WebGLRenderer({ canvas, antialias, preserveDrawingBuffer: true, alpha: true });
renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
renderer.setClearColor(rendering.background ?? 0x10131a, rendering.transparent ? 0 : 1);
const scene = new THREE.Scene();
scene.add(new THREE.HemisphereLight(0xdfe8ff, 0x30303a, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(5, 10, -4);
scene.add(sun);
let grid: THREE.GridHelper | null = null;
/** The model root: everything drawn in model units. Identity on the desktop; in VR it is what
 * moves and scales (xr/session.ts), the head never does. */
const world = new THREE.Group();
world.name = "model-root";
scene.add(world);

function placeGrid(box: THREE.Box3): void {
  if (grid) { world.remove(grid); grid.geometry.dispose(); (grid.material as THREE.Material).dispose(); }
  const size = box.getSize(new THREE.Vector3());
  const extent = Math.ceil(Math.max(size.x, size.z) + 8);
  grid = new THREE.GridHelper(extent, Math.min(extent, 400), 0x262b38, 0x1a1e28);
  const c = box.getCenter(new THREE.Vector3());
  grid.position.set(c.x, -0.01, c.z);
  grid.visible = !rendering.transparent; // a picture for a slide: the model alone
  world.add(grid);
}

const camera = new THREE.PerspectiveCamera(50, 1, 0.05, 5000);
camera.position.set(8, 6, -8);
const nav = new Navigation(camera, canvas);
// panels under the toolbar start below it however many rows it wraps into
new ResizeObserver(() => {
  document.documentElement.style.setProperty("--bar-bottom", `${Math.ceil($("toolbar").getBoundingClientRect().bottom)}px`);
}).observe($("toolbar"));
// the camera frames the model in the part of the canvas no toolbar or panel covers
nav.safeArea = () => {
  const c = canvas.getBoundingClientRect();
  const visible = (id: string) => { const e = document.getElementById(id); return e && !e.hidden ? e.getBoundingClientRect() : null; };
  const bar = visible("toolbar");
  let bottom = 0;
  for (const child of Array.from($("dock").children) as HTMLElement[]) {
    const r = child.hidden ? null : child.getBoundingClientRect();
    // what docks at the bottom (the health panel, a dock child, is fixed at the top left)
    if (r && r.height > 0 && r.top > c.top + c.height / 2) bottom = Math.max(bottom, c.bottom - r.top);
  }
  const help = visible("help");
  if (help) bottom = Math.max(bottom, c.bottom - help.top);
  const info = visible("info"), cka = visible("cka");
  return { top: bar ? Math.max(0, bar.bottom - c.top) + 8 : 0, bottom: bottom + 8,
    left: cka ? Math.max(0, cka.right - c.left) + 8 : 8, right: info ? Math.max(0, c.right - info.left) + 8 : 8 };
};
const view = new SceneView();
world.add(view.root);
const labels = new LabelPool();
world.add(labels.root);
const overlays = new Overlays(view);
overlays.onChange = () => requestRender();
world.add(overlays.root);
overlays.clouds.obstacles = obstacles;
const marks = new HealthMarks(view);
world.add(marks.root);
const flow = new GradientFlow();
world.add(flow.root);
const inspectPanel = new InspectPanel((index, method) => {
  if (index === null) { overlays.clearInspect(); requestRender(); return; }
  conn.send({ type: "inspect", index, method, target: -1 });
}, (steps) => conn.send({ type: "landscape", steps }));
const chart = new LossChart();
world.add(chart.mesh);
const probe = new ProbeState();
const coloring = new BlockColoring();
let customColors = false;

const state: ViewerState = {
  ready: false, model: "", sceneVersion: 0, lastError: null, colorKey: "kind", cameraUntouched: false,
  compareNote: "", comparePairs: {}, flowDirty: true,
};
let dirty = true;
let labelsDirty = true;
let haveCamera = false;
let followFallback = 0;
/** The connection was lost and has not delivered a scene since. */
let lostConnection = false;
const stats = { drawCalls: 0, triangles: 0, frames: 0, antialias, glyphSize };

const requestRender = () => { dirty = true; labelsDirty = true; };
nav.onChange = requestRender;
nav.controls.addEventListener("start", () => { state.cameraUntouched = false; });
labels.onSync = () => { dirty = true; };

const params = new URLSearchParams(location.search);
const announced = params.has("protocol") ? Number(params.get("protocol")) : PROTOCOL_VERSION;
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

const conn = new Connection(wsUrl, {
  welcome(msg) {
    probe.clear(); // the server sends what it has again; a restarted run may start over
    timeline.resend();
    if (selection.detailWanted) conn.send({ type: "detail", path: selection.detailWanted }); // a reconnect forgets it
    inspectPanel.resend();
    state.model = msg.model;
    document.title = `nnviz3d · ${displayName(msg.model, 100)}`;
    setStatus(`${msg.model} · ${msg.server}`);
  },
  sceneInfo(msg) {
    setOverlay("loading", `Receiving scene: ${(msg.bytes / 1e6).toFixed(2)} MB, ${msg.blocks.toLocaleString("en")} blocks…`);
  },
  scene(frame) {
    setOverlay("loading", "Building scene…");
    view.load(frame);
    topology.sceneLoaded(); // the matrix and the spectral layout follow (topologyViews.ts)
    nav.viewFrom.copy(Number(view.meta.layout?.rows ?? 1) > 1 ? VIEW_FROM_FOLDED : VIEW_FROM);
    state.sceneVersion = frame.header.version;
    renderLegend(view.meta);
    customColors = false;
    applyColors();
    chart.place(view.bounds());
    xr.placeChart(); // behind the model instead, in VR
    placeGrid(sceneBox());
    toolbar.fillSearch();
    if (!haveCamera) haveCamera = nav.loadFromUrl();
    if (!haveCamera && recipes.recipe?.camera) haveCamera = recipes.goToBookmark(recipes.recipe.camera, false);
    if (!haveCamera) { frameDefault(false); haveCamera = true; state.cameraUntouched = true; }
    if (selection.selected && !view.pathIndex.has(selection.selected)) {
      selection.selected = null; selection.selectedModule = null; hidePanel();
    }
    overlays.relayout();
    marks.rebuild();
    state.flowDirty = true;
    if (selection.selected) selection.apply(view.pathIndex.get(selection.selected)!, false);
    const total = view.meta.total_params ?? 0;
    setStatus(`${state.model} · ${view.blocks.length.toLocaleString("en")} blocks · ${formatCount(total)} params${state.compareNote ? ` · compare: ${state.compareNote}` : ""}`);
    setOverlay(null);
    state.lastError = null;
    requestRender();
    renderNow();
    state.ready = true;
    lostConnection = false;
  },
  probe(frame) {
    const step = Number(frame.header.step), split = String(frame.header.split ?? "train");
    chart.noteScalars(step, split, frame.header.scalars);
    if (probe.live) chart.addLive(step, split, frame.header.scalars);
    health.note(frame.header.alarms);
    if (frame.header.compare) {
      compareInfo.note(frame.header.compare);
      if (!state.compareNote) {
        state.compareNote = `${frame.header.compare.quantity} · A ${frame.header.compare.a} · B ${frame.header.compare.b}`;
        state.comparePairs = frame.header.compare.pairs ?? {};
        setStatus(`${state.model} · compare: ${state.compareNote}`);
        // a comparison opens coloured by the difference, unless a quantity was chosen already
        if (state.colorKey === "kind" && isColorKey(compareInfo.color)) setColorBy(compareInfo.color);
      }
    }
    // each frame lists every alarm that holds at its step: the newest one decides the marks
    const alarms = (frame.header.alarms ?? []) as Alarm[];
    if (frame.header.kinds && Object.keys(frame.header.kinds).length) {
      health.current = alarms;
      marks.set(health.current.map((a) => a.module));
      requestRender();
    } else if (alarms.length) {
      // a step without probes whose every-step gradient norms raised alarms: they join the
      // marks at once (the next probed frame restates what holds)
      const known = new Set(health.current.map((a) => `${a.alarm}|${a.module}`));
      health.current = [...health.current, ...alarms.filter((a) => !known.has(`${a.alarm}|${a.module}`))];
      marks.set(health.current.map((a) => a.module));
      requestRender();
    }
    probe.merge(frame);
    showChart();
  },
  scalars(frame) {
    if (typeof frame.header.from === "number") chart.appendHistory(frame);
    else chart.setHistory(frame);
    fillChartMetrics();
    showChart();
    requestRender();
  },
  inputs(msg) {
    inspectPanel.setInputs(msg);
  },
  recipe(msg) {
    recipes.set(msg.view);
  },
  progress(msg) {
    inspectPanel.showProgress(msg.job, msg.done, msg.total);
  },
  overlays(frame) {
    if (frame.header.channel === "cka") { // the first matrix: the model is framed beside the panel
      const first = cka.root.hidden;
      if (cka.set(frame) && first && state.cameraUntouched) frameDefault();
      return;
    }
    if (frame.header.channel === "embedding") {
      const placed = overlays.clouds.setEmbedding(frame);
      renderClassLegend([...overlays.clouds.embedList.values()]);
      if (placed && state.cameraUntouched) { placeGrid(sceneBox()); frameDefault(); } // a new cloud is in view
      $("points-box").hidden = false;
      requestRender();
      return;
    }
    if (frame.header.channel === "feature") {
      overlays.addFeature(frame);
      inspectPanel.showProgress("feature", 1, 1);
      requestRender();
      return;
    }
    if (frame.header.channel === "landscape") {
      const first = !overlays.landscapeBox;
      overlays.setLandscape(frame);
      inspectPanel.showLandscape(overlays.landscapeInfo);
      placeGrid(sceneBox());
      if (first && state.cameraUntouched) nav.frame(sceneBox()); // it stands beside the model: show both
      requestRender();
      return;
    }
    if (frame.header.channel === "inspect") {
      overlays.setInspect(frame);
      inspectPanel.showResult(frame.header, overlays.inspectList);
      requestRender();
      return;
    }
    if (frame.header.channel === "weights") { overlays.setWeights(frame); timeline.refresh(); }
    else if (frame.header.channel === "detail") {
      if (frame.header.module !== selection.detailWanted) return; // an answer for an older selection
      const fresh = overlays.detailModule !== frame.header.module;
      overlays.setDetail(frame);
      if (fresh) showDetail();
    }
    showOverlayLegend();
    $("weights-box").hidden = overlays.weightList.length === 0;
    requestRender();
  },
  timeline(msg) {
    timeline.update(msg);
    $("color-by-box").hidden = msg.frames === 0 && probe.step === null;
    // a server that does not push the newest frames on connect is asked for them once
    if (msg.frames > 0 && probe.step === null && probe.live && !followFallback) {
      followFallback = window.setTimeout(() => {
        if (probe.step === null && probe.live) conn.send({ type: "follow" });
      }, 1000);
    }
  },
  error(msg) {
    state.lastError = msg.message;
    if (msg.fatal) { state.ready = false; setOverlay("error", `${msg.message}`); }
    else showToast(msg.message);
  },
  status(status, retry) {
    if (status === "closed" && retry !== undefined) {
      state.ready = false;
      lostConnection = true;
      setOverlay("error", `Lost the connection to the nnviz3d server. Reconnecting in ${retry} s…`);
    } else if (status === "connecting" && !state.ready) {
      // after a loss the overlay keeps saying so while the retries go on
      if (lostConnection) setOverlay("error", "Lost the connection to the nnviz3d server. Reconnecting…");
      else setOverlay("loading", "Connecting to the nnviz3d server…");
    }
  },
}, announced);

const timeline = new TimelineBar({
  seek(step) { probe.seek(step); conn.send({ type: "seek", step }); },
  follow() { probe.follow(); conn.send({ type: "follow" }); },
  ages: () => viewAges(probe, overlays.weightList.length ? overlays.weightStep : null),
});

// ---- what every module is handed (viewerContext.ts); the selection and the health panel ----
const viewer: Viewer = {
  canvas, camera, nav, world, view, labels, overlays, marks, flow, chart, probe, inspectPanel, timeline, conn, state,
  requestRender, renderNow, showToast, sceneBox,
};
const selection = new SceneSelection(viewer);
const health = new HealthPanel((module) => selection.selectPath(module));
const cka = ckaView(viewer, (path) => selection.selectPath(path));

// ---- training data: colours, loss chart -------------------------------------------------
// Frames can arrive faster than the screen refreshes: what they change is applied once per frame.
let probeDirty = false;
probe.onChange = () => { probeDirty = true; };
function flushProbe(): void {
  if (!probeDirty) return;
  probeDirty = false;
  state.flowDirty = true;
  applyColors();
  selection.refreshProbePanel();
  chart.setStep(probe.step);
  timeline.setShown(probe.step, probe.scalars.loss);
  if (probe.step !== null) { $("color-by-box").hidden = false; $("flow-box").hidden = false; }
  requestRender();
}

/** Colour the blocks by the chosen quantity (category colours for "kind"); NaN/Inf in red. */
function applyColors(): void {
  const { colors, scale } = coloring.compute(state.colorKey, view.blocks, view.categoryColors, probe,
    state.compareNote !== "");
  if (colors || customColors) view.setBlockColors(colors);
  customColors = colors !== null;
  let unhealthy = scale?.unhealthy ?? 0;
  if (!scale) for (const b of view.blocks) if (probe.isUnhealthy(b.module)) unhealthy++;
  renderColorScale(scale && state.compareNote ? compareScale(scale, probe, compareInfo) : scale, unhealthy);
  requestRender();
}

function setColorBy(key: string): void {
  if (!isColorKey(key)) throw new Error(`unknown colour quantity ${JSON.stringify(key)}; one of ${Object.keys(QUANTITIES).join(", ")}`);
  state.colorKey = key;
  colorBySelect.value = key;
  applyColors();
}
const colorBySelect = $("color-by") as HTMLSelectElement;
colorBySelect.addEventListener("change", () => { setColorBy(colorBySelect.value); colorBySelect.blur(); });
$("tl-speed").addEventListener("change", (e) => (e.target as HTMLElement).blur());

/** The chart's first appearance re-frames a camera nobody has moved, so no block lies under it. */
function showChart(): void {
  const wasVisible = chartShown;
  chartShown = chart.visible;
  if (chartShown === wasVisible) return;
  placeGrid(sceneBox());
  if (state.cameraUntouched) frameDefault(); // the panel now takes a corner: keep the model clear of it
  requestRender();
}
let chartShown = false;

/** The model, the embedding clouds, the loss landscape and, when it stands in the scene
 * (VR), the loss chart. */
function sceneBox(): THREE.Box3 {
  const box = view.bounds();
  const c = chart.box(), e = overlays.clouds.bounds();
  if (e) box.union(e);
  if (overlays.landscapeBox) box.union(overlays.landscapeBox);
  const m = topology.box();
  if (m) box.union(m);
  return c ? box.union(c) : box;
}

function blockBoxes(): THREE.Box3[] {
  return view.blocks.map((_, index) => view.boxOf({ kind: "block", index }));
}

/** What the embedding clouds keep clear of: the blocks, and the group boxes but one holding
 * them all. */
function obstacles(): THREE.Box3[] {
  const blocks = blockBoxes(), all = view.bounds();
  const groups = view.groups.map((_, index) => view.boxOf({ kind: "group", index }))
    .filter((g) => !g.containsBox(all));
  return [...blocks, ...groups];
}

/** The default view: the scene framed, then moved so no block or cloud lies under the chart's
 * panel or the toolbar (viewClearance.ts). */
function frameDefault(animate = true): void {
  const from = [camera.position.clone(), nav.controls.target.clone()];
  resize();
  nav.frame(sceneBox(), false);
  const boxes = blockBoxes();
  for (const c of overlays.clouds.boxes()) boxes.push(new THREE.Box3().setFromArray([...c.min, ...c.max]));
  clearPanels(boxes, camera, nav.controls.target, canvas, chart.rect(), $("toolbar").getBoundingClientRect());
  nav.controls.update();
  if (!animate) return;
  const to = [camera.position.clone(), nav.controls.target.clone()];
  camera.position.copy(from[0]);
  nav.controls.target.copy(from[1]);
  nav.flyTo(to[0], to[1]);
}


/** A new layer's ridges and scatter stand above it: frame the layer with them when they are
 * not all in view (or the camera is on its way to frame the layer alone). */
function showDetail(): void {
  const box = overlays.detailBox();
  const pick = selection.selected ? view.pathIndex.get(selection.selected) : undefined;
  if (!box || !pick) return;
  camera.updateMatrixWorld();
  const frustum = new THREE.Frustum().setFromProjectionMatrix(
    new THREE.Matrix4().multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse));
  const corners = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => new THREE.Vector3(
    k & 1 ? box.max.x : box.min.x, k & 2 ? box.max.y : box.min.y, k & 4 ? box.max.z : box.min.z));
  // a selection that framed its layer is still flying there: frame the panels with it
  const flying = nav.animating;
  if (!flying && corners.every((c) => frustum.containsPoint(c))) return;
  const both = box.union(view.boxOf(pick));
  nav.frame(both.expandByVector(both.getSize(new THREE.Vector3()).multiplyScalar(0.15))); // framing is snug

}

// Activation stacks: [ and ] bring the previous/next channel of the selected layer's stack (or
// of every stack) to the front; a backslash fans all stacks out or stacks them again.
window.addEventListener("keydown", (e) => {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement) return;
  if (e.key !== "[" && e.key !== "]" && e.key !== "\\") return;
  if (!overlays.inspectList.length) return;
  const module = selection.selectedModule && overlays.slabState().channels[selection.selectedModule] ? selection.selectedModule : null;
  if (e.key === "\\") overlays.fanSlabs(!overlays.fanned);
  else overlays.flipSlabs(module, e.key === "]" ? 1 : -1);
  requestRender();
});

function showToast(text: string): void {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  setTimeout(() => { el.hidden = true; }, 5000);
}

/** The overlay legend for the overlay under the pointer, or the weight maps' (overlayLegend.ts). */
function showOverlayLegend(hovered: OverlayInfo | null = null): void {
  renderOverlayLegend(overlays, selection.selectedModule, hovered);
}

/** Ask for the feature visualisation of one unit (computed on a copy of the model). */
function visualise(module: string, unit: number): void {
  const can = inspectPanel.unitAction(module, unit);
  if (!can.allowed) { $("inspect-result").textContent = `${displayName(module, 60)} unit ${unit}: ${can.tip}`; return; }
  conn.send({ type: "visualise", module, unit });
  inspectPanel.showProgress("feature", 0, 1);
  track(module, unit);
}

/** Record a unit's mean activation from now on and draw it in the chart. */
function track(module: string, unit: number): void {
  conn.send({ type: "track", module, unit });
  setChartMetric(`act ${module}[${unit}]`);
}

const chartMetric = $("chart-metric") as HTMLSelectElement;
chartMetric.addEventListener("change", () => { setChartMetric(chartMetric.value); chartMetric.blur(); });
function setChartMetric(name: string): void {
  chart.setMetric(name);
  fillChartMetrics();
  requestRender();
}
function fillChartMetrics(): void {
  const names = [...new Set([...chart.names, chart.wanted])];
  $("chart-box").hidden = names.length < 2;
  fill(chartMetric, names.map((n) => el("option", { value: n, selected: n === chart.wanted },
    `${displayName(n, 40)}${chart.names.includes(n) ? "" : comparedPair(chart.names, n) ? " (A and B)" : " (no data yet)"}`)));
  chartMetric.value = chart.wanted;
}

// ---- pointer picking, embedding point selection, toolbar (their own modules) ----------
const picking = new Picking(viewer, selection, { visualise, showLegend: showOverlayLegend,
  unitAction: (module, unit) => inspectPanel.unitAction(module, unit) });
const points = new PointSelection(viewer);
const toolbar = new Toolbar(viewer, selection, () => showOverlayLegend());
const topology = new TopologyViews(viewer, selection, () => {
  placeGrid(sceneBox());
  if (state.cameraUntouched) frameDefault();
});
picking.extra = topology;

// ---- render loop (on demand: nothing is drawn while nothing changes) -------------------
function resize(): void {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.floor(w * renderer.getPixelRatio()) || canvas.height !== Math.floor(h * renderer.getPixelRatio())) {
    renderer.setSize(w, h, false);
    camera.aspect = w / Math.max(h, 1);
    camera.updateProjectionMatrix();
    requestRender();
  }
}
window.addEventListener("resize", resize);

function renderNow(): void {
  flushProbe();
  resize();
  if (labelsDirty) {
    const selected = selection.selected;
    const pins = [picking.hoveredBlock, selected ? view.pathIndex.get(selected)?.index ?? -1 : -1]
      .filter((i) => i >= 0).map((i) => view.labels.findIndex((l) => l.for === view.blocks[i]?.path));
    labels.pin(pins);
    labels.update(view, camera, canvas);
    labelsDirty = false;
  }
  if (rendering.on) { dirty = false; return; } // render mode draws only for a capture (draw below)
  draw();
}

function draw(): void {
  renderer.render(scene, camera);
  stats.drawCalls = renderer.info.render.calls;
  stats.triangles = renderer.info.render.triangles;
  stats.frames++;
  dirty = false;
}

/** Per-frame work shared by the desktop loop and the VR loop (xr/session.ts). */
function advance(dt: number): void {
  flushProbe();
  // the chart is a screen panel on the desktop; in VR a plane in the scene that faces the headset
  chart.setMode(xr.presenting ? "world" : "screen");
  // in VR the session stands it behind the model, facing the user (xr/session.ts placeChart)
  if (overlays.clouds.tick(dt)) dirty = true;
  if (flow.enabled) {
    if (state.flowDirty) { flow.update(view, probe, health.explodingModules(), health.vanishingModules()); state.flowDirty = false; }
    if (flow.tick(dt)) dirty = true; // particles move: draw every frame while the flow is on
  }
  if (tour.tick(dt)) dirty = true;
  if (topology.tick(dt)) dirty = true;
}

let last = performance.now();
function loop(now: number): void {
  if (xr.presenting) return; // in VR the session's own loop runs; it restarts this one at the end
  const dt = Math.min(0.1, (now - last) / 1000);
  last = now;
  if (nav.tick(dt)) requestRender();
  advance(dt);
  if (dirty) renderNow();
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

// ---- scene recipes, VR (xr/) and tours (tour.ts) ----------------------------------------
const tour: Tour = new Tour((stop): number => {
  if (stop.step !== undefined && timeline.info) timeline.seek(stop.step);
  if (!isPoint(stop.position) || !isPoint(stop.target)) return 0; // no viewpoint: caption only
  if (xr.presenting) return xr.showViewpoint(stop.position, stop.target, stop.caption);
  state.cameraUntouched = false;
  nav.flyTo(new THREE.Vector3(...stop.position), new THREE.Vector3(...stop.target));
  requestRender();
  return 0.6; // Navigation's flight
});
const recipes = new RecipeView(viewer, {
  setColorBy, setShowWeights: (on) => toolbar.setShowWeights(on), setFlow: (on) => toolbar.setFlow(on), tour,
});
const xr = new XrMode(renderer, scene, camera, world, vrHooks(viewer, {
  selection, health, tour, advance, visualise, setColorBy, floor: () => grid,
  resumeDesktop() {
    last = performance.now();
    requestAnimationFrame(loop);
  },
}));
void xr.init($("toolbar"));

exposeApi(viewer, { cka, selection, health, recipes, points, toolbar, topology, xr, tour, stats, flushProbe, setColorBy, visualise, track, draw });

conn.connect();
