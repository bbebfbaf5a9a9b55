// nnviz3d viewer: connects to the server, draws the scene and the training data on it, and
// exposes window.nnviz3d.
import * as THREE from "three";
import { BlockColoring, type ColorKey, isColorKey, QUANTITIES, quantityValue } from "./colorBy";
import { Connection } from "./connection";
import { LabelPool } from "./labels";
import { LossChart } from "./lossChart";
import { isTyping, Navigation } from "./navigation";
import { renderProbePanel } from "./probePanel";
import { ProbeState } from "./probeState";
import { PROTOCOL_VERSION } from "./protocol.gen";
import { EXPLODING_RATIO, GradientFlow, VANISHING_RATIO } from "./gradientFlow";
import { downloadGltf } from "./gltfExport";
import { HealthMarks } from "./healthMarks";
import { InspectPanel } from "./inspectPanel";
import { type OverlayInfo, Overlays } from "./overlays";
import { type Pick, SceneView, scenePathOf } from "./sceneView";
import { TimelineBar } from "./timeline";
import { Tour, type TourStop } from "./tour";
import { XrMode } from "./xr/session";
import {
  $, formatCount, formatStat, hidePanel, renderColorScale, renderLegend, setOverlay, setStatus, showBlockPanel,
  showGroupPanel,
} from "./ui";

const canvas = $("scene") as HTMLCanvasElement;
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
renderer.setClearColor(0x10131a);
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
  world.add(grid);
}

const camera = new THREE.PerspectiveCamera(50, 1, 0.05, 5000);
camera.position.set(8, 6, -8);
const nav = new Navigation(camera, canvas);
const view = new SceneView();
world.add(view.root);
const labels = new LabelPool();
world.add(labels.root);
const overlays = new Overlays(view);
world.add(overlays.root);
const marks = new HealthMarks(view);
world.add(marks.root);
const flow = new GradientFlow();
world.add(flow.root);
let flowDirty = true;
const inspectPanel = new InspectPanel((index, method) => {
  if (index === null) { overlays.clearInspect(); requestRender(); return; }
  conn.send({ type: "inspect", index, method, target: -1 });
}, (steps) => conn.send({ type: "landscape", steps }));
const chart = new LossChart();
world.add(chart.mesh);
const probe = new ProbeState();
const coloring = new BlockColoring();
let colorKey: ColorKey = "kind";
let customColors = false;

let dirty = true;
let labelsDirty = true;
let ready = false;
let selected: string | null = null;
let sceneVersion = 0;
let lastError: string | null = null;
let model = "";
let hoveredBlock = -1;
let haveCamera = false;
/** The camera is still where the viewer framed it on load (not from the URL, not moved since). */
let cameraUntouched = false;
let followFallback = 0;
/** The connection was lost and has not delivered a scene since. */
let lostConnection = false;
/** The scene recipe's view (nnviz3d/recipe.py), or null. */
let recipe: Record<string, any> | null = null;
let recipeApplied = false;
/** Set when the probe frames are differences between two runs (nnviz3d compare). */
let compareNote = "";
/** Layers of A whose matched layer in B has another path (matched by structure). */
let comparePairs: Record<string, string> = {};
const stats = { drawCalls: 0, triangles: 0 };

const requestRender = () => { dirty = true; labelsDirty = true; };
nav.onChange = requestRender;
nav.controls.addEventListener("start", () => { cameraUntouched = false; });
labels.onSync = () => { dirty = true; };

const params = new URLSearchParams(location.search);
const announced = params.has("protocol") ? Number(params.get("protocol")) : PROTOCOL_VERSION;
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

const conn = new Connection(wsUrl, {
  welcome(msg) {
    probe.clear(); // the server sends what it has again; a restarted run may start over
    timeline.resend();
    if (detailWanted) conn.send({ type: "detail", path: detailWanted }); // a reconnect forgets it
    inspectPanel.resend();
    model = msg.model;
    document.title = `nnviz3d · ${msg.model}`;
    setStatus(`${msg.model} · ${msg.server}`);
  },
  sceneInfo(msg) {
    setOverlay("loading", `Receiving scene: ${(msg.bytes / 1e6).toFixed(2)} MB, ${msg.blocks.toLocaleString("en")} blocks…`);
  },
  scene(frame) {
    setOverlay("loading", "Building scene…");
    view.load(frame);
    sceneVersion = frame.header.version;
    renderLegend(view.meta);
    customColors = false;
    applyColors();
    chart.place(view.bounds());
    placeGrid(sceneBox());
    fillSearch();
    if (!haveCamera) haveCamera = nav.loadFromUrl();
    if (!haveCamera && recipe?.camera) haveCamera = goToBookmark(recipe.camera, false);
    if (!haveCamera) { nav.frame(sceneBox(), false); haveCamera = true; cameraUntouched = true; }
    if (selected && !view.pathIndex.has(selected)) { selected = null; selectedModule = null; hidePanel(); }
    const b = view.bounds();
    overlays.landscapeAt.set((b.min.x + b.max.x) / 2, 0, b.max.z + 3.5); // past the output
    overlays.relayout();
    marks.rebuild();
    flowDirty = true;
    if (selected) applySelection(view.pathIndex.get(selected)!, false);
    const total = view.meta.total_params ?? 0;
    setStatus(`${model} · ${view.blocks.length.toLocaleString("en")} blocks · ${formatCount(total)} params${compareNote ? ` · compare: ${compareNote}` : ""}`);
    setOverlay(null);
    lastError = null;
    requestRender();
    renderNow();
    ready = true;
    lostConnection = false;
  },
  probe(frame) {
    if (probe.live) chart.addLive(Number(frame.header.step), String(frame.header.split ?? "train"), frame.header.scalars);
    noteAlarms(frame.header.alarms);
    if (frame.header.compare && !compareNote) {
      compareNote = `${frame.header.compare.quantity} · A ${frame.header.compare.a} · B ${frame.header.compare.b}`;
      comparePairs = frame.header.compare.pairs ?? {};
      setStatus(`${model} · compare: ${compareNote}`);
    }
    // each frame lists every alarm that holds at its step: the newest one decides the marks
    if (frame.header.kinds && Object.keys(frame.header.kinds).length) {
      currentAlarms = (frame.header.alarms ?? []) as Alarm[];
      marks.set(currentAlarms.map((a) => a.module));
      requestRender();
    }
    probe.merge(frame);
    showChart();
  },
  scalars(frame) {
    chart.setHistory(frame);
    fillChartMetrics();
    showChart();
    requestRender();
  },
  inputs(msg) {
    inspectPanel.setInputs(msg);
  },
  recipe(msg) {
    recipe = msg.view;
    applyRecipe();
  },
  progress(msg) {
    inspectPanel.showProgress(msg.job, msg.done, msg.total);
  },
  overlays(frame) {
    if (frame.header.channel === "embedding") {
      overlays.setEmbedding(frame);
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
      overlays.setLandscape(frame);
      inspectPanel.showLandscape(overlays.landscapeInfo);
      requestRender();
      return;
    }
    if (frame.header.channel === "inspect") {
      overlays.setInspect(frame);
      inspectPanel.showResult(frame.header, overlays.inspectList);
      requestRender();
      return;
    }
    if (frame.header.channel === "weights") overlays.setWeights(frame);
    else if (frame.header.channel === "detail") {
      if (frame.header.module !== detailWanted) return; // an answer for an older selection
      overlays.setDetail(frame);
    }
    renderOverlayLegend();
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
    lastError = msg.message;
    if (msg.fatal) { ready = false; setOverlay("error", `${msg.message}`); }
    else showToast(msg.message);
  },
  status(state, retry) {
    if (state === "closed" && retry !== undefined) {
      ready = false;
      lostConnection = true;
      setOverlay("error", `Lost the connection to the nnviz3d server. Reconnecting in ${retry} s…`);
    } else if (state === "connecting" && !ready) {
      // after a loss the overlay keeps saying so while the retries go on
      if (lostConnection) setOverlay("error", "Lost the connection to the nnviz3d server. Reconnecting…");
      else setOverlay("loading", "Connecting to the nnviz3d server…");
    }
  },
}, announced);

// ---- health alarms: a panel listing each alarm once (first step), click flies there -------
interface Alarm { alarm: string; module: string; step: number; value: number; kind: string; message: string; }
const alarms = new Map<string, Alarm>();
/** The alarms that hold at the shown step (from the newest frame). */
let currentAlarms: Alarm[] = [];
function noteAlarms(list: Alarm[] | undefined): void {
  let added = false;
  for (const a of list ?? []) {
    const key = `${a.alarm}|${a.module}`;
    if (!alarms.has(key)) { alarms.set(key, a); added = true; }
  }
  if (added) renderHealth();
}
function renderHealth(): void {
  const el = $("health");
  el.hidden = alarms.size === 0;
  el.innerHTML = `<h3>Health · ${alarms.size} alarm${alarms.size === 1 ? "" : "s"}</h3><ul>${[...alarms.values()]
    .map((a, i) => `<li data-i="${i}" data-alarm="${a.alarm}" data-module="${a.module}" title="${a.message.replace(/"/g, "&quot;")}">`
      + `<b>${a.alarm}</b> ${a.module || "(model)"} <span>step ${a.step}</span></li>`).join("")}</ul>`;
  el.querySelectorAll("li").forEach((li) => li.addEventListener("click", () => {
    selectPath((li as HTMLElement).dataset.module ?? "");
  }));
}

// ---- training data: timeline, colours, loss chart ---------------------------------------
const timeline = new TimelineBar({
  seek(step) { probe.seek(step); conn.send({ type: "seek", step }); },
  follow() { probe.follow(); conn.send({ type: "follow" }); },
});

// Frames can arrive faster than the screen refreshes: what they change is applied once per frame.
let probeDirty = false;
probe.onChange = () => { probeDirty = true; };
function flushProbe(): void {
  if (!probeDirty) return;
  probeDirty = false;
  flowDirty = true;
  applyColors();
  refreshProbePanel();
  chart.setStep(probe.step);
  timeline.setShown(probe.step, probe.scalars.loss);
  if (probe.step !== null) { $("color-by-box").hidden = false; $("flow-box").hidden = false; }
  requestRender();
}

/** Colour the blocks by the chosen quantity (category colours for "kind"); NaN/Inf in red. */
function applyColors(): void {
  const { colors, scale } = coloring.compute(colorKey, view.blocks, view.categoryColors, probe,
    compareNote !== "");
  if (colors || customColors) view.setBlockColors(colors);
  customColors = colors !== null;
  let unhealthy = 0;
  for (const b of view.blocks) if (probe.isUnhealthy(b.module)) unhealthy++;
  renderColorScale(scale && compareNote ? { ...scale, label: `B − A: ${scale.label}` } : scale, unhealthy);
  requestRender();
}

function setColorBy(key: string): void {
  if (!isColorKey(key)) throw new Error(`unknown colour quantity ${JSON.stringify(key)}; one of ${Object.keys(QUANTITIES).join(", ")}`);
  colorKey = key;
  colorBySelect.value = key;
  applyColors();
}
const colorBySelect = $("color-by") as HTMLSelectElement;
colorBySelect.addEventListener("change", () => { setColorBy(colorBySelect.value); colorBySelect.blur(); });
$("tl-speed").addEventListener("change", (e) => (e.target as HTMLElement).blur());

let selectedModule: string | null = null;
function refreshProbePanel(): void {
  const el = document.getElementById("info-probe");
  if (el && !$("info").hidden) renderProbePanel(el, selectedModule, probe);
}

/** The chart's first appearance re-frames a camera nobody has moved, so the chart is in view. */
function showChart(): void {
  const wasVisible = chartShown;
  chartShown = chart.visible;
  if (chartShown === wasVisible) return;
  placeGrid(sceneBox());
  if (chartShown && cameraUntouched) nav.frame(sceneBox());
  requestRender();
}
let chartShown = false;

/** The model and, when shown, the loss chart. */
function sceneBox(): THREE.Box3 {
  const box = view.bounds();
  const c = chart.box();
  return c ? box.union(c) : box;
}

function showToast(text: string): void {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  setTimeout(() => { el.hidden = true; }, 5000);
}

// ---- picking and selection ------------------------------------------------------------
const raycaster = new THREE.Raycaster();
const pointer = new THREE.Vector2();
let downAt: [number, number] | null = null;

/** Aim the raycaster at a pointer position (CSS pixels). */
function aim(clientX: number, clientY: number): void {
  const r = canvas.getBoundingClientRect();
  pointer.set(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
  raycaster.setFromCamera(pointer, camera);
}

function pickAt(ev: PointerEvent): Pick | null {
  aim(ev.clientX, ev.clientY);
  return view.pick(raycaster);
}

/** The hovered input's picture, in the tooltip. */
function drawThumb(thumbs: ArrayLike<number>, index: number, count: number): void {
  const side = Math.round(Math.sqrt(thumbs.length / count));
  if (side * side * count !== thumbs.length) return;
  const c = document.createElement("canvas");
  c.width = c.height = side;
  const img = c.getContext("2d")!.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const g = thumbs[index * side * side + i];
    img.data.set([g, g, g, 255], 4 * i);
  }
  c.getContext("2d")!.putImageData(img, 0, 0);
  c.className = "thumb";
  $("tooltip").prepend(c);
}

function showTip(text: string, ev: { clientX: number; clientY: number }): void {
  const tip = $("tooltip");
  hoverText = text;
  tip.textContent = text;
  tip.style.left = `${ev.clientX + 14}px`;
  tip.style.top = `${ev.clientY + 10}px`;
  tip.hidden = false;
}

let hoverText = "";
/** The overlay whose legend is shown because the pointer is on it. */
let legendOverlay: OverlayInfo | null = null;
canvas.addEventListener("pointermove", (ev) => {
  aim(ev.clientX, ev.clientY);
  const hit = overlays.count() ? overlays.pick(raycaster) : null;
  if (hit !== null || legendOverlay !== null) {
    const o = hit?.overlay ?? null;
    if (o !== legendOverlay) { legendOverlay = o; renderOverlayLegend(o); }
  }
  if (hit) {
    if (view.setHover(-1)) { hoveredBlock = -1; requestRender(); }
    showTip(hit.text + (overlays.unitOf(hit) ? " · click: visualise this unit" : ""), ev);
    const thumbs = hit.overlay.name === "embedding" ? hit.overlay.arrays.thumbs : undefined;
    if (thumbs) drawThumb(thumbs, hit.index[0], hit.overlay.shape[0]);
    canvas.style.cursor = "crosshair";
    return;
  }
  if (hoverText && hoveredBlock < 0) { hoverText = ""; $("tooltip").hidden = true; canvas.style.cursor = ""; }
  const pick = pickAt(ev);
  const idx = pick?.kind === "block" ? pick.index : -1;
  if (view.setHover(idx)) {
    hoveredBlock = idx;
    canvas.style.cursor = idx >= 0 ? "pointer" : "";
    const tip = $("tooltip");
    if (idx >= 0) {
      const b = view.blocks[idx];
      const q = QUANTITIES[colorKey];
      const v = "col" in q ? quantityValue(q, probe, b.module) : NaN;
      showTip(`${b.module || "(model)"} · ${b.kind}${"col" in q ? ` · ${q.label} ${Number.isNaN(v) ? "–" : formatStat(v)}` : ""}`, ev);
    } else { tip.hidden = true; hoverText = ""; }
    requestRender();
  }
});
canvas.addEventListener("pointerdown", (ev) => { downAt = [ev.clientX, ev.clientY]; });

// ---- box selection of embedding points: shift + drag -----------------------------------
let boxFrom: [number, number] | null = null;
window.addEventListener("pointerdown", (ev) => {
  // capture phase, before the orbit controls: shift + drag draws a box instead of panning
  if (ev.target !== canvas || !ev.shiftKey || !overlays.embedList.size) return;
  boxFrom = [ev.clientX, ev.clientY];
  nav.controls.enabled = false;
}, true);
window.addEventListener("pointermove", (ev) => {
  if (!boxFrom) return;
  const el = $("select-box");
  el.hidden = false;
  el.style.left = `${Math.min(boxFrom[0], ev.clientX)}px`;
  el.style.top = `${Math.min(boxFrom[1], ev.clientY)}px`;
  el.style.width = `${Math.abs(ev.clientX - boxFrom[0])}px`;
  el.style.height = `${Math.abs(ev.clientY - boxFrom[1])}px`;
});
window.addEventListener("pointerup", (ev) => {
  if (!boxFrom) return;
  const [x0, y0] = boxFrom;
  boxFrom = null;
  nav.controls.enabled = true;
  $("select-box").hidden = true;
  if (Math.hypot(ev.clientX - x0, ev.clientY - y0) < 4) { selectBox(null); return; }
  selectBox([x0, y0, ev.clientX, ev.clientY]);
});

const pointSize = $("point-size") as HTMLInputElement, pointOpacity = $("point-opacity") as HTMLInputElement;
for (const el of [pointSize, pointOpacity]) {
  el.addEventListener("input", () => setPointStyle(Number(pointSize.value), Number(pointOpacity.value)));
}
function setPointStyle(size: number, opacity: number): void {
  overlays.setPointStyle(size, opacity);
  pointSize.value = String(size);
  pointOpacity.value = String(opacity);
  requestRender();
}

/** Select the inputs whose points lie in a screen box (CSS px) in any cloud; null clears. */
function selectBox(box: number[] | null): number {
  if (!box) { overlays.selectInputs(null); requestRender(); return 0; }
  const r = canvas.getBoundingClientRect();
  const ndc = (x: number, y: number) => [((x - r.left) / r.width) * 2 - 1, -((y - r.top) / r.height) * 2 + 1];
  const [ax, ay] = ndc(box[0], box[1]), [bx, by] = ndc(box[2], box[3]);
  const picked = overlays.inputsInBox(camera, ax, ay, bx, by);
  overlays.selectInputs(picked);
  showToast(picked.size ? `${picked.size} inputs selected in every layer's cloud (shift-click to clear)` : "no points in that box");
  requestRender();
  return picked.size;
}
canvas.addEventListener("pointerup", (ev) => {
  if (!downAt || Math.hypot(ev.clientX - downAt[0], ev.clientY - downAt[1]) > 4) return;
  const pick = pickAt(ev);
  const hit = overlays.count() ? overlays.pick(raycaster) : null;
  const unit = hit ? overlays.unitOf(hit) : null;
  if (hit && hit.overlay.name === "embedding") inspectPanel.choose(hit.index[0], inspectPanel.method);
  else if (unit) visualise(unit.module, unit.unit);
  else if (pick) applySelection(pick, false);
  else if (!hit) clearSelection();
});

/** Ask for the feature visualisation of one unit (computed on a copy of the model). */
function visualise(module: string, unit: number): void {
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
  chartMetric.innerHTML = names.map((n) => `<option value="${n.replace(/"/g, "&quot;")}"${n === chart.wanted ? " selected" : ""}>`
    + `${n.replace(/</g, "&lt;")}${chart.names.includes(n) ? "" : " (no data yet)"}</option>`).join("");
}

function clearSelection(): void {
  selected = null; selectedModule = null; view.select(null); hidePanel();
  wantDetail(null);
  requestRender();
}

/** Ask the server for the ridges and scatter of ``module`` (null: none). */
let detailWanted: string | null = null;
function wantDetail(module: string | null): void {
  if (module === detailWanted) return;
  detailWanted = module;
  overlays.clearDetail();
  conn.send({ type: "detail", path: module ?? "" });
}

function parentGroupOf(module: string): string | null {
  let best: string | null = null;
  for (const g of view.groups) {
    if (module.startsWith(g.module + ".") && (!best || g.module.length > best.length)) best = g.module;
  }
  return best;
}

const actions = {
  expand: (path: string) => conn.send({ type: "expand", path }),
  collapse: (path: string) => conn.send({ type: "collapse", path }),
  frame: () => frameSelection(),
};

function applySelection(pick: Pick, frame: boolean): void {
  view.select(pick);
  if (pick.kind === "block") {
    const b = view.blocks[pick.index];
    selected = b.path;
    selectedModule = b.module;
    showBlockPanel(b, parentGroupOf(b.module), actions,
      compareNote ? (comparePairs[b.module] ?? b.module) : undefined);
    wantDetail(b.module);
  } else {
    const g = view.groups[pick.index];
    selected = g.path;
    selectedModule = null;
    showGroupPanel(g, actions);
    wantDetail(null);
  }
  refreshProbePanel();
  if (frame) frameSelection();
  requestRender();
}

function frameSelection(): void {
  const pick = selected ? view.pathIndex.get(selected) : undefined;
  cameraUntouched = false;
  nav.frame(pick ? view.boxOf(pick) : sceneBox());
}

function selectPath(path: string): boolean {
  const pick = view.pathIndex.get(scenePathOf(path));
  if (!pick) return false;
  applySelection(pick, true);
  return true;
}

// ---- search, toolbar ------------------------------------------------------------------
const search = $("search") as HTMLInputElement;
function fillSearch(): void {
  const list = $("paths");
  const names = [...view.blocks.map((b) => b.module), ...view.groups.map((g) => g.module)].filter(Boolean);
  list.innerHTML = names.map((n) => `<option value="${n}"></option>`).join("");
}
search.addEventListener("change", () => jump(search.value));
search.addEventListener("keydown", (e) => { if (e.key === "Enter") jump(search.value); });
function jump(q: string): void {
  q = q.trim();
  if (!q) return;
  if (selectPath(q)) return;
  const lower = q.toLowerCase();
  const hit = [...view.blocks.map((b) => b.module), ...view.groups.map((g) => g.module)]
    .find((m) => m.toLowerCase().includes(lower));
  if (hit !== undefined && selectPath(hit)) return;
  showToast(`No layer matches “${q}”`);
}

$("btn-frame").addEventListener("click", () => frameSelection());
$("btn-reset").addEventListener("click", () => { clearSelection(); nav.frame(sceneBox()); });
const flowToggle = $("show-flow") as HTMLInputElement;
flowToggle.addEventListener("change", () => setFlow(flowToggle.checked));
function setFlow(on: boolean): void {
  flow.setEnabled(on);
  flowToggle.checked = on;
  const el = $("legend-flow");
  el.hidden = !on;
  el.innerHTML = `<span class="name">gradient flow</span><span class="dot" style="background:#4a78ff"></span>vanishing (&lt; ${VANISHING_RATIO}× the median layer)`
    + `<span class="dot" style="background:#e8f4ff"></span>normal<span class="dot big" style="background:#ff4a2a"></span>exploding (&gt; ${EXPLODING_RATIO}× or NaN/Inf)`
    + `<span class="note">particles run backwards from each layer; their number and speed grow with log gradient norm</span>`;
  flowDirty = true;
  requestRender();
}
/** Modules with an exploding-gradient or NaN/Inf alarm at the shown step. */
function explodingModules(): Set<string> {
  return new Set(currentAlarms.filter((a) => a.alarm === "exploding" || a.alarm === "nan" || a.alarm === "inf").map((a) => a.module));
}
const weightsToggle = $("show-weights") as HTMLInputElement;
weightsToggle.addEventListener("change", () => setShowWeights(weightsToggle.checked));
function setShowWeights(on: boolean): void {
  overlays.showWeights = on;
  weightsToggle.checked = on;
  renderOverlayLegend();
  requestRender();
}

/** The colour bar of the overlay under the pointer (its units, range and method), or else of
 * the weight maps: diverging, symmetric per tensor (the selected layer's range). */
function renderOverlayLegend(hovered: OverlayInfo | null = null): void {
  const el = $("legend-overlay");
  const list = overlays.weightList;
  const mine = hovered ?? (overlays.showWeights ? list.find((o) => o.module === selectedModule && o.name === "weight")
    ?? list.find((o) => o.kind === "grid") ?? list[0] : undefined);
  el.hidden = !mine;
  if (!mine) return;
  const lg = mine.legend;
  const stops = lg.stops.map((c, i) => `${c} ${((i / (lg.stops.length - 1)) * 100).toFixed(0)}%`).join(", ");
  const title = hovered ? `${mine.module || "(model)"} ${mine.name}` : "weights &amp; biases";
  const note = hovered ? `${lg.units}${mine.meta.method ? ` · ${mine.meta.method}` : ""}`
    : `${mine.module || "(model)"} · white = 0 · range symmetric per tensor · step ${overlays.weightStep ?? "–"} · hover a cell for its value`;
  const scale = lg.colormap === "categorical" && lg.classes
    ? lg.classes.map((c, i) => `<span class="sw" style="background:${lg.stops[i]}"></span>${c}`).join(" ")
    : `<span data-scale="lo">${formatStat(lg.lo)}</span><span class="bar" style="background:linear-gradient(to right, ${stops})"></span>`
      + `<span data-scale="hi">${formatStat(lg.hi)}</span>`;
  el.innerHTML = `<span class="name">${title}</span>${scale}<span class="note">${note.replace(/</g, "&lt;")}</span>`;
}
$("btn-legend").addEventListener("click", () => { const l = $("legend"); l.hidden = !l.hidden; });
$("btn-png").addEventListener("click", () => savePng());
$("btn-gltf").addEventListener("click", async () => {
  const before = $("status").textContent ?? "";
  setStatus("exporting glTF…");
  setStatus((await downloadGltf(probe.step, colorKey, model)) ?? before);
});
window.addEventListener("keydown", (e) => {
  if (isTyping(e.target)) return;
  if (e.key === "f") frameSelection();
  if (e.key === "r") $("btn-reset").click();
  if (e.key === "/") { e.preventDefault(); search.focus(); }
});

function savePng(): void {
  renderNow();
  canvas.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `nnviz3d-${model || "scene"}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
}

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
    const pins = [hoveredBlock, selected ? view.pathIndex.get(selected)?.index ?? -1 : -1]
      .filter((i) => i >= 0).map((i) => view.labels.findIndex((l) => l.for === view.blocks[i]?.path));
    labels.pin(pins);
    labels.update(view, camera);
    labelsDirty = false;
  }
  renderer.render(scene, camera);
  stats.drawCalls = renderer.info.render.calls;
  stats.triangles = renderer.info.render.triangles;
  dirty = false;
}

/** Per-frame work shared by the desktop loop and the VR loop (xr/session.ts). */
function advance(dt: number): void {
  flushProbe();
  if (overlays.tick(dt)) dirty = true;
  if (flow.enabled) {
    if (flowDirty) { flow.update(view, probe, explodingModules()); flowDirty = false; }
    if (flow.tick(dt)) dirty = true; // particles move: draw every frame while the flow is on
  }
  if (tour.tick(dt)) dirty = true;
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

// ---- scene recipes: view settings, bookmarks, save the current view --------------------
function applyRecipe(): void {
  if (!recipe || recipeApplied) return;
  recipeApplied = true;
  if (recipe.title) document.title = `nnviz3d · ${recipe.title}`;
  if (typeof recipe.color_by === "string") setColorBy(recipe.color_by);
  if (typeof recipe.weights === "boolean") setShowWeights(recipe.weights);
  if (typeof recipe.flow === "boolean") setFlow(recipe.flow);
  const marks = (recipe.bookmarks ?? []) as { name: string; caption?: string }[];
  const sel = $("bookmarks") as HTMLSelectElement;
  sel.innerHTML = `<option value="">Views…</option>` + marks.map((b) =>
    `<option value="${b.name.replace(/"/g, "&quot;")}" title="${(b.caption ?? "").replace(/"/g, "&quot;")}">${b.name.replace(/</g, "&lt;")}</option>`).join("");
  $("bookmarks-box").hidden = marks.length === 0;
  tour.load((recipe.tour ?? []) as TourStop[]);
  if (ready && recipe.camera && !nav.loadFromUrl()) goToBookmark(recipe.camera, false);
}

function goToBookmark(name: string, animate = true): boolean {
  const b = (recipe?.bookmarks ?? []).find((x: { name: string }) => x.name === name);
  if (!b) return false;
  cameraUntouched = false;
  nav.flyTo(new THREE.Vector3(...(b.position as [number, number, number])),
    new THREE.Vector3(...(b.target as [number, number, number])), animate);
  if (b.caption) showToast(b.caption);
  requestRender();
  return true;
}
($("bookmarks") as HTMLSelectElement).addEventListener("change", (e) => {
  const sel = e.target as HTMLSelectElement;
  if (sel.value) goToBookmark(sel.value);
  sel.value = "";
  sel.blur();
});

/** The current view as a recipe (TOML): model name, settings and the camera as a bookmark. */
function recipeText(): string {
  const v = (a: THREE.Vector3) => `[${a.toArray().map((x) => Number(x.toFixed(3))).join(", ")}]`;
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    `# nnviz3d scene recipe saved from the viewer; see nnviz3d/recipe.py for every key`,
    `title = ${q(recipe?.title || model)}`,
    `model = ${q(recipe?.model ?? "package.module:callable")}  # the SPEC or model file you viewed`,
    ``, `[view]`, `color_by = ${q(colorKey)}`, `weights = ${overlays.showWeights}`, `flow = ${flow.enabled}`,
    `camera = "saved"`, ``, `[[bookmarks]]`, `name = "saved"`,
    `position = ${v(camera.position)}`, `target = ${v(nav.controls.target)}`];
  for (const b of recipe?.bookmarks ?? []) {
    if (b.name === "saved") continue;
    lines.push("", "[[bookmarks]]", `name = ${q(b.name)}`, `position = [${b.position.join(", ")}]`,
      `target = [${b.target.join(", ")}]`);
    if (b.caption) lines.push(`caption = ${q(b.caption)}`);
  }
  return lines.join("\n") + "\n";
}
$("btn-save-view").addEventListener("click", () => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([recipeText()], { type: "application/toml" }));
  a.download = `${(model || "scene").replace(/[^A-Za-z0-9_.-]/g, "_")}.toml`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

// ---- VR (xr/) and tours (tour.ts) -------------------------------------------------------
const tour: Tour = new Tour((stop): number => {
  if (stop.step !== undefined && timeline.info) timeline.seek(stop.step);
  if (xr.presenting) return xr.showViewpoint(stop.position, stop.target, stop.caption);
  cameraUntouched = false;
  nav.flyTo(new THREE.Vector3(...stop.position), new THREE.Vector3(...stop.target));
  requestRender();
  return 0.6; // Navigation's flight
});
const quantityKeys = Object.keys(QUANTITIES) as ColorKey[];
const xr = new XrMode(renderer, scene, camera, world, {
  advance,
  pick(ray) {
    const badge = marks.count ? pickBadge(ray) : null;
    if (badge) { applySelection(badge, false); return ""; }
    const hit = overlays.count() ? overlays.pick(ray) : null;
    const unit = hit ? overlays.unitOf(hit) : null;
    if (hit && hit.overlay.name === "embedding") { inspectPanel.choose(hit.index[0], inspectPanel.method); return hit.text; }
    if (unit) { visualise(unit.module, unit.unit); return hit!.text; }
    const pick = view.pick(ray);
    if (pick) { applySelection(pick, false); return ""; }
    if (hit) return hit.text;
    clearSelection();
    return null;
  },
  modelBox: () => view.bounds(),
  updateLabels(cam) {
    const sel = selected ? view.pathIndex.get(selected)?.index ?? -1 : -1;
    labels.pin(sel >= 0 ? [view.labels.findIndex((l) => l.for === view.blocks[sel]?.path)] : []);
    labels.update(view, cam);
  },
  infoPanel: $("info"),
  panelExtra: () => currentAlarms.filter((a) => a.module === selectedModule).map((a) => `health alarm: ${a.message}`).join("\n"),
  menuButtons: [
    { id: "play", x: -0.095, y: 0.07, w: 0.05, h: 0.03, label: () => (timeline.playing ? "Pause" : "Play"),
      press: () => ($("tl-play") as HTMLButtonElement).click() },
    { id: "scrub", x: 0.03, y: 0.07, w: 0.18, h: 0.03,
      label: () => (probe.step === null ? "no steps" : `step ${probe.step}`),
      press: (u) => {
        const t = timeline.info;
        if (t && t.last_step >= t.first_step) timeline.seek(Math.round(t.first_step + u * (t.last_step - t.first_step)));
      } },
    { id: "colour", x: 0, y: 0.03, w: 0.24, h: 0.03, label: () => `Colour: ${QUANTITIES[colorKey].label}`,
      press: () => setColorBy(quantityKeys[(quantityKeys.indexOf(colorKey) + 1) % quantityKeys.length]) },
    { id: "expand", x: -0.0625, y: -0.02, w: 0.115, h: 0.03, label: () => expandLabel(), press: () => toggleExpand() },
    { id: "tour", x: 0.0625, y: -0.02, w: 0.115, h: 0.03,
      label: () => (tour.stops.length ? (tour.playing ? "Next stop" : "Tour") : "no tour"),
      press: () => (tour.playing ? tour.next() : tour.play()) },
  ],
  onPresentingChange(presenting) {
    if (presenting) return;
    tour.stop();
    requestRender();
    last = performance.now();
    requestAnimationFrame(loop);
  },
});
void xr.init($("toolbar"));

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
  const pick = selected ? view.pathIndex.get(selected) : undefined;
  if (!pick) return null;
  if (pick.kind === "group") return { act: "collapse", module: view.groups[pick.index].module };
  const b = view.blocks[pick.index];
  if (b.collapsed) return { act: "expand", module: b.module };
  const parent = parentGroupOf(b.module);
  return parent ? { act: "collapse", module: parent } : null;
}
function expandLabel(): string {
  const t = expandTarget();
  return t ? `${t.act === "expand" ? "Expand" : "Collapse"} ${t.module.split(".").pop()}` : "select a layer";
}
function toggleExpand(): void {
  const t = expandTarget();
  if (t) actions[t.act](t.module);
}

// ---- automation API -------------------------------------------------------------------
function toScreen(p: THREE.Vector3): { x: number; y: number } {
  const c = p.clone().project(camera);
  const r = canvas.getBoundingClientRect();
  return { x: r.left + ((c.x + 1) / 2) * r.width, y: r.top + ((1 - c.y) / 2) * r.height };
}

const api = {};
const getters: Record<string, () => unknown> = {
  ready: () => ready,
  protocolVersion: () => PROTOCOL_VERSION,
  nodeCount: () => view.blocks.length,
  groupCount: () => view.groups.length,
  drawCalls: () => stats.drawCalls,
  triangles: () => stats.triangles,
  selected: () => selected,
  /** The training step shown, or null without probe data. */
  step: () => probe.step,
  /** True while following the newest step. */
  live: () => timeline.live,
  /** The last timeline message, or null. */
  timeline: () => (timeline.info ? { ...timeline.info } : null),
  colorBy: () => colorKey,
  /** Module paths with probe data at the shown step. */
  probeModules: () => probe.modules(),
  sceneVersion: () => sceneVersion,
  error: () => lastError,
  labelCount: () => labels.visibleCount,
  model: () => model,
  alarms: () => [...alarms.values()].map((a) => ({ ...a })),
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
  compare: () => compareNote,
  /** The scene recipe's view settings, or null. */
  recipe: () => (recipe ? JSON.parse(JSON.stringify(recipe)) : null),
  /** Inputs selected by a box in the embedding clouds (sorted), or null. */
  embeddingSelection: () => (overlays.embedSelection ? [...overlays.embedSelection].sort((a, b) => a - b) : null),
  /** Embeddings shown: [{layer, method, step, count, knn}]. */
  embeddings: () => [...overlays.embedList.values()].map((o) => ({ layer: o.module, method: o.meta.method,
    step: o.meta.step, count: o.meta.count, knn: o.meta.knn, classes: o.legend.classes ?? [] })),
  /** The chart's metric names and the one drawn. */
  chart: () => ({ names: [...chart.names], shown: chart.shown, wanted: chart.wanted }),
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
};
function summary(o: { kind: string; module: string; name: string; shape: number[]; meta: Record<string, any>; legend: { lo: number; hi: number } }) {
  return { kind: o.kind, module: o.module, name: o.name, shape: [...o.shape], meta: { ...o.meta }, lo: o.legend.lo, hi: o.legend.hi };
}
for (const [name, get] of Object.entries(getters)) Object.defineProperty(api, name, { get, enumerable: true });
Object.assign(api, {
  select: (path: string) => selectPath(path),
  expand: (path: string) => actions.expand(path),
  collapse: (path: string) => actions.collapse(path),
  paths: () => view.blocks.map((b) => b.path),
  setColorBy: (key: string) => setColorBy(key),
  seek: (step: number) => timeline.seek(step),
  follow: () => timeline.follow(),
  /** The linear [r, g, b] set for a block (scene path, or dotted module path); null when absent. */
  blockColor: (path: string) => {
    flushProbe();
    const pick = view.pathIndex.get(scenePathOf(path));
    return pick?.kind === "block" ? view.blockColor(pick.index) : null;
  },
  render: () => renderNow(),
  /** Where a scene point [x, y, z] is on screen (CSS px). */
  screen: (point: number[]) => toScreen(new THREE.Vector3(point[0], point[1], point[2])),
  showWeights: (on: boolean) => setShowWeights(on),
  visualise: (module: string, unit: number) => visualise(module, unit),
  goToBookmark: (name: string) => goToBookmark(name),
  /** The current view as recipe TOML (what Save view downloads). */
  recipeText: () => recipeText(),
  /** Box-select embedding points between two screen corners (CSS px); returns the count. */
  selectBox: (x0: number, y0: number, x1: number, y1: number) => selectBox([x0, y0, x1, y1]),
  /** The colour [r, g, b] (linear) point ``index`` of a layer's cloud is drawn with. */
  pointColor: (layer: string, index: number) => overlays.pointColor(layer, index),
  setPointStyle: (size: number, opacity: number) => setPointStyle(size, opacity),
  /** Whether the tooltip shows an input's picture. */
  tooltipThumb: () => !!document.querySelector("#tooltip canvas.thumb"),
  track: (module: string, unit: number) => track(module, unit),
  requestLandscape: (steps = 21) => conn.send({ type: "landscape", steps }),
  landscapePoint: (row: number, col: number) => overlays.landscapePoint(row, col)?.toArray() ?? null,
  /** Where point ``index`` of a layer's embedding is now (scene coordinates). */
  embeddingPoint: (layer: string, index: number) => overlays.embeddingPoint(layer, index)?.toArray() ?? null,
  showFlow: (on: boolean) => { setFlow(on); if (on) { flow.update(view, probe, explodingModules()); flowDirty = false; } },
  /** Show probe input ``index`` in every layer, with a saliency method ("none", "gradient"...). */
  inspect: (index: number, method = "none") => inspectPanel.choose(index, method),
  inspectPosition: (module: string, name = "activation") => overlays.inspectPosition(module, name)?.toArray() ?? null,
  /** The layer of B matched with layer ``module`` of A (nnviz3d compare), else null. */
  comparePartner: (module: string) => (compareNote ? (comparePairs[module] ?? module) : null),
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
    cameraUntouched = false;
    nav.controls.target.set(target[0], target[1], target[2]);
    camera.position.set(target[0] + offset[0], target[1] + offset[1], target[2] + offset[2]);
    camera.lookAt(nav.controls.target);
    nav.controls.update();
    requestRender();
    renderNow();
  },
  cellPosition: (module: string, row: number, col: number, name = "weight") =>
    overlays.cellPosition(module, name, row, col)?.toArray() ?? null,
  camera: () => ({ position: camera.position.toArray(), target: nav.controls.target.toArray() }),
  /** Where a block's centre is on screen (CSS pixels), or null when it is not in the scene. */
  project: (path: string) => {
    const pick = view.pathIndex.get(path);
    return pick ? toScreen(view.boxOf(pick).getCenter(new THREE.Vector3())) : null;
  },
});
Object.assign(api, {
  enterVR: () => xr.enter(),
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
  /** Where a VR menu button's centre is (reference space), or null. */
  xrMenuPoint: (id: string) => xr.menu.buttonPoint(id),
  playTour: (from = 0) => tour.play(from),
  nextTourStop: () => tour.next(),
  stopTour: () => tour.stop(),
});
Object.freeze(api);
Object.defineProperty(window, "nnviz3d", { value: api, writable: false, configurable: false });

conn.connect();
