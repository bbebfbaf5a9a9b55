// nnviz3d viewer: connects to the server, draws the scene, and exposes window.nnviz3d.
import * as THREE from "three";
import { Connection } from "./connection";
import { LabelPool } from "./labels";
import { Navigation } from "./navigation";
import { PROTOCOL_VERSION } from "./protocol.gen";
import { type Pick, SceneView } from "./sceneView";
import { $, formatCount, hidePanel, renderLegend, setOverlay, setStatus, showBlockPanel, showGroupPanel } from "./ui";

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

function placeGrid(box: THREE.Box3): void {
  if (grid) { scene.remove(grid); grid.geometry.dispose(); (grid.material as THREE.Material).dispose(); }
  const size = box.getSize(new THREE.Vector3());
  const extent = Math.ceil(Math.max(size.x, size.z) + 8);
  grid = new THREE.GridHelper(extent, Math.min(extent, 400), 0x262b38, 0x1a1e28);
  const c = box.getCenter(new THREE.Vector3());
  grid.position.set(c.x, -0.01, c.z);
  scene.add(grid);
}

const camera = new THREE.PerspectiveCamera(50, 1, 0.05, 5000);
camera.position.set(8, 6, -8);
const nav = new Navigation(camera, canvas);
const view = new SceneView();
scene.add(view.root);
const labels = new LabelPool();
scene.add(labels.root);

let dirty = true;
let labelsDirty = true;
let ready = false;
let selected: string | null = null;
let sceneVersion = 0;
let lastError: string | null = null;
let model = "";
let hoveredBlock = -1;
let haveCamera = false;
const stats = { drawCalls: 0, triangles: 0 };

const requestRender = () => { dirty = true; labelsDirty = true; };
nav.onChange = requestRender;
labels.onSync = () => { dirty = true; };

const params = new URLSearchParams(location.search);
const announced = params.has("protocol") ? Number(params.get("protocol")) : PROTOCOL_VERSION;
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

const conn = new Connection(wsUrl, {
  welcome(msg) {
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
    placeGrid(view.bounds());
    fillSearch();
    if (!haveCamera) haveCamera = nav.loadFromUrl();
    if (!haveCamera) { nav.frame(view.bounds(), false); haveCamera = true; }
    if (selected && !view.pathIndex.has(selected)) { selected = null; hidePanel(); }
    if (selected) applySelection(view.pathIndex.get(selected)!, false);
    const total = view.meta.total_params ?? 0;
    setStatus(`${model} · ${view.blocks.length.toLocaleString("en")} blocks · ${formatCount(total)} params`);
    setOverlay(null);
    lastError = null;
    requestRender();
    renderNow();
    ready = true;
  },
  error(msg) {
    lastError = msg.message;
    if (msg.fatal) { ready = false; setOverlay("error", `${msg.message}`); }
    else showToast(msg.message);
  },
  status(state, retry) {
    if (state === "closed" && retry !== undefined) {
      ready = false;
      setOverlay("error", `Lost the connection to the nnviz3d server. Reconnecting in ${retry} s…`);
    } else if (state === "connecting" && !ready) {
      setOverlay("loading", "Connecting to the nnviz3d server…");
    }
  },
}, announced);

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

function pickAt(ev: PointerEvent): Pick | null {
  const r = canvas.getBoundingClientRect();
  pointer.set(((ev.clientX - r.left) / r.width) * 2 - 1, -((ev.clientY - r.top) / r.height) * 2 + 1);
  raycaster.setFromCamera(pointer, camera);
  return view.pick(raycaster);
}

canvas.addEventListener("pointermove", (ev) => {
  const pick = pickAt(ev);
  const idx = pick?.kind === "block" ? pick.index : -1;
  if (view.setHover(idx)) {
    hoveredBlock = idx;
    canvas.style.cursor = idx >= 0 ? "pointer" : "";
    const tip = $("tooltip");
    if (idx >= 0) {
      const b = view.blocks[idx];
      tip.textContent = `${b.module || "(model)"} · ${b.kind}`;
      tip.style.left = `${ev.clientX + 14}px`;
      tip.style.top = `${ev.clientY + 10}px`;
      tip.hidden = false;
    } else tip.hidden = true;
    requestRender();
  }
});
canvas.addEventListener("pointerdown", (ev) => { downAt = [ev.clientX, ev.clientY]; });
canvas.addEventListener("pointerup", (ev) => {
  if (!downAt || Math.hypot(ev.clientX - downAt[0], ev.clientY - downAt[1]) > 4) return;
  const pick = pickAt(ev);
  if (pick) applySelection(pick, false);
  else { selected = null; view.select(null); hidePanel(); requestRender(); }
});

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
    showBlockPanel(b, parentGroupOf(b.module), actions);
  } else {
    const g = view.groups[pick.index];
    selected = g.path;
    showGroupPanel(g, actions);
  }
  if (frame) frameSelection();
  requestRender();
}

function frameSelection(): void {
  const pick = selected ? view.pathIndex.get(selected) : undefined;
  nav.frame(pick ? view.boxOf(pick) : view.bounds());
}

function selectPath(path: string): boolean {
  const scenePath = path.startsWith("/") ? path : `/model${path ? "/" + path.replace(/\./g, "/") : ""}`;
  const pick = view.pathIndex.get(scenePath);
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
$("btn-reset").addEventListener("click", () => { selected = null; view.select(null); hidePanel(); nav.frame(view.bounds()); });
$("btn-legend").addEventListener("click", () => { const l = $("legend"); l.hidden = !l.hidden; });
$("btn-png").addEventListener("click", () => savePng());
window.addEventListener("keydown", (e) => {
  if ((e.target as HTMLElement).tagName === "INPUT") return;
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

let last = performance.now();
function loop(now: number): void {
  const dt = Math.min(0.1, (now - last) / 1000);
  last = now;
  if (nav.tick(dt)) requestRender();
  if (dirty) renderNow();
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

// ---- automation API -------------------------------------------------------------------
const api = {};
const getters: Record<string, () => unknown> = {
  ready: () => ready,
  protocolVersion: () => PROTOCOL_VERSION,
  nodeCount: () => view.blocks.length,
  groupCount: () => view.groups.length,
  drawCalls: () => stats.drawCalls,
  triangles: () => stats.triangles,
  selected: () => selected,
  step: () => null,
  sceneVersion: () => sceneVersion,
  error: () => lastError,
  labelCount: () => labels.visibleCount,
  model: () => model,
};
for (const [name, get] of Object.entries(getters)) Object.defineProperty(api, name, { get, enumerable: true });
Object.assign(api, {
  select: (path: string) => selectPath(path),
  expand: (path: string) => actions.expand(path),
  collapse: (path: string) => actions.collapse(path),
  paths: () => view.blocks.map((b) => b.path),
  render: () => renderNow(),
  camera: () => ({ position: camera.position.toArray(), target: nav.controls.target.toArray() }),
  /** Where a block's centre is on screen (CSS pixels), or null when it is not in the scene. */
  project: (path: string) => {
    const pick = view.pathIndex.get(path);
    if (!pick) return null;
    const c = view.boxOf(pick).getCenter(new THREE.Vector3()).project(camera);
    const r = canvas.getBoundingClientRect();
    return { x: r.left + ((c.x + 1) / 2) * r.width, y: r.top + ((1 - c.y) / 2) * r.height };
  },
});
Object.freeze(api);
Object.defineProperty(window, "nnviz3d", { value: api, writable: false, configurable: false });

conn.connect();
