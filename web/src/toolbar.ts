// The toolbar: layer search, frame and reset, the gradient flow and weight map toggles, the legend,
// PNG and glTF export, and the keyboard shortcuts (f frames, r resets, / searches).
import { displayName, el, fill, safeFileName } from "./dom";
import { downloadGltf } from "./gltfExport";
import { EXPLODING_RATIO, VANISHING_RATIO } from "./gradientFlow";
import { isTyping } from "./navigation";
import { scenePathOf } from "./sceneView";
import type { SceneSelection } from "./selection";
import { $, setStatus } from "./ui";
import type { Viewer } from "./viewerContext";

export class Toolbar {
  private readonly search = $("search") as HTMLInputElement;
  private readonly flowToggle = $("show-flow") as HTMLInputElement;
  private readonly weightsToggle = $("show-weights") as HTMLInputElement;

  /** ``showLegend`` redraws the overlay legend (the weight maps' one). */
  constructor(private v: Viewer, private selection: SceneSelection, private showLegend: () => void) {
    const search = this.search;
    search.addEventListener("change", () => this.jump(search.value));
    search.addEventListener("keydown", (e) => { if (e.key === "Enter") this.jump(search.value); });
    $("btn-frame").addEventListener("click", () => selection.frame());
    $("btn-reset").addEventListener("click", () => { selection.clear(); v.nav.frame(v.sceneBox()); });
    this.flowToggle.addEventListener("change", () => this.setFlow(this.flowToggle.checked));
    this.weightsToggle.addEventListener("change", () => this.setShowWeights(this.weightsToggle.checked));
    $("btn-legend").addEventListener("click", () => { const l = $("legend"); l.hidden = !l.hidden; });
    $("btn-png").addEventListener("click", () => this.savePng());
    $("btn-gltf").addEventListener("click", async () => {
      const before = $("status").textContent ?? "";
      setStatus("exporting glTF…");
      setStatus((await downloadGltf(v.probe.step, v.state.colorKey, v.state.model)) ?? before);
    });
    window.addEventListener("keydown", (e) => {
      if (isTyping(e.target)) return;
      if (e.key === "f") selection.frame();
      if (e.key === "r") $("btn-reset").click();
      if (e.key === "/") { e.preventDefault(); search.focus(); }
    });
  }

  /** A layer searched for that the server is opening (selected when its scene arrives). */
  private pending: string | null = null;

  /** Offer every module path in the search box (also those inside closed groups and stacks);
   * select a layer searched for before this scene came. */
  fillSearch(): void {
    const names = this.allModules();
    // the value is the path itself (an attribute, never markup); the label is clamped
    fill($("paths"), names.slice(0, 5000).map((n) => el("option", { value: n, label: displayName(n) })));
    const want = this.pending;
    this.pending = null;
    if (want !== null && !this.selection.selectPath(want)) this.v.showToast(`${displayName(want, 80)} is not shown`);
  }

  private allModules(): string[] {
    const { view } = this.v;
    const shown = [...view.blocks.map((b) => b.module), ...view.groups.map((g) => g.module)].filter(Boolean);
    const all = Array.isArray(view.meta.modules) ? (view.meta.modules as unknown[]).filter((m): m is string => typeof m === "string") : [];
    return [...new Set([...shown, ...all])];
  }

  /** Find a layer by path or name (shown or not): select it, frame it and light it up; a layer
   * inside a closed group or a stack is opened first (the server sends the new scene). */
  jump(q: string): void {
    const { view } = this.v;
    q = q.trim();
    if (!q) return;
    if (this.selection.selectPath(q)) return;
    const lower = q.toLowerCase();
    const all = this.allModules();
    const hit = all.find((m) => m.toLowerCase() === lower)
      ?? all.find((m) => m.toLowerCase().split(".").pop() === lower)
      ?? all.find((m) => m.toLowerCase().includes(lower));
    if (hit === undefined) { this.v.showToast(`No layer matches “${displayName(q, 80)}”`); return; }
    if (this.selection.selectPath(hit)) return;
    // hidden: open its parent (the server also unstacks a stack it is in), then select it
    const parent = hit.includes(".") ? hit.slice(0, hit.lastIndexOf(".")) : hit;
    if (!view.pathIndex.has(scenePathOf(hit)) && parent) {
      this.pending = hit;
      this.v.conn.send({ type: "expand", path: parent });
      this.v.showToast(`Opening ${displayName(parent, 80)} to show ${displayName(hit, 80)}…`);
    }
  }

  setFlow(on: boolean): void {
    this.v.flow.setEnabled(on);
    this.flowToggle.checked = on;
    const box = $("legend-flow");
    box.hidden = !on;
    const dot = (color: string, big = false) => {
      const d = el("span", { class: big ? "dot big" : "dot" });
      d.style.background = color;
      return d;
    };
    fill(box, el("span", { class: "name" }, "gradient flow"), dot("#4a78ff"), `vanishing (< ${VANISHING_RATIO}× the median layer)`,
      dot("#e8f4ff"), "normal", dot("#ff4a2a", true), `exploding (> ${EXPLODING_RATIO}× or NaN/Inf)`,
      el("span", { class: "note" }, "particles run backwards from each layer; their number and speed grow with log gradient norm"));
    this.v.state.flowDirty = true;
    this.v.requestRender();
  }

  setShowWeights(on: boolean): void {
    this.v.overlays.showWeights = on;
    this.weightsToggle.checked = on;
    this.showLegend();
    this.v.requestRender();
  }

  private savePng(): void {
    const { canvas, state } = this.v;
    this.v.renderNow();
    canvas.toBlob((blob) => {
      if (!blob) return;
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `nnviz3d-${safeFileName(state.model)}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    }, "image/png");
  }
}
