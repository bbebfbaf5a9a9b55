// The "Input" panel: pick one probe input (and a saliency method) to see every layer's output.
import { displayName, el, fill, numEl } from "./dom";
import type { InputsInfo } from "./protocol.gen";
import type { OverlayInfo } from "./overlays";
import { $ } from "./ui";

const METHOD_LABELS: Record<string, string> = {
  none: "no saliency", gradient: "gradient", gradient_x_input: "gradient × input", grad_cam: "Grad-CAM",
};

export class InspectPanel {
  count = 0;
  labels: number[] = [];
  index: number | null = null;
  method = "none";
  private live = false;
  /** In a replay: what the recording can answer ("this replay has Grad-CAM for inputs 3, 5"). */
  private replay = "";
  private recorded = new Set<number>();
  /** In a replay: the units ("module|unit") with a recorded feature visualisation. */
  private features = new Set<string>();

  constructor(private send: (index: number | null, method: string) => void,
    private askLandscape: (steps: number) => void) {
    const box = $("inspect");
    fill(box, el("b", null, "Input"), " ",
      el("button", { "data-act": "prev", title: "Previous input" }, "◀"),
      el("input", { id: "inspect-index", type: "number", min: 0, value: 0, title: "Probe input index" }),
      el("button", { "data-act": "next", title: "Next input" }, "▶"), " ", el("span", { id: "inspect-of" }),
      el("select", { id: "inspect-method", title: "Saliency method" },
        Object.entries(METHOD_LABELS).map(([k, v]) => el("option", { value: k }, v))),
      el("button", { "data-act": "show", id: "inspect-show", title: "Show this input in every layer" }, "Show"),
      el("button", { "data-act": "hide", title: "Hide the activations" }, "Hide"),
      el("canvas", { id: "inspect-thumb", width: 48, height: 48 }), el("span", { id: "inspect-result" }),
      el("button", { "data-act": "landscape", id: "btn-landscape", hidden: true,
        title: "Loss surface around the current weights (Li et al. 2018), with the training path" }, "Landscape"),
      el("span", { id: "inspect-progress" }),
      el("div", { id: "inspect-replay", class: "inspect-replay", hidden: true }));
    box.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
      const act = (b as HTMLElement).dataset.act;
      const cur = Number(($("inspect-index") as HTMLInputElement).value) || 0;
      if (act === "prev") this.choose(Math.max(0, cur - 1), this.method);
      if (act === "next") this.choose(Math.min(this.count - 1, cur + 1), this.method);
      if (act === "show") this.choose(cur, this.method);
      if (act === "hide") { this.index = null; this.send(null, this.method); $("inspect-result").textContent = ""; }
      if (act === "landscape") { this.askLandscape(21); this.showProgress("landscape", 0, 441); }
      (b as HTMLElement).blur();
    }));
    ($("inspect-method") as HTMLSelectElement).addEventListener("change", (e) => {
      this.method = (e.target as HTMLSelectElement).value;
      if (this.index !== null) this.choose(this.index, this.method);
    });
    ($("inspect-index") as HTMLInputElement).addEventListener("change", (e) => {
      this.choose(Number((e.target as HTMLInputElement).value) || 0, this.method);
    });
    ($("inspect-index") as HTMLInputElement).addEventListener("input", () => this.updateShow());
  }

  setInputs(msg: InputsInfo): void {
    this.count = msg.count;
    this.labels = msg.labels;
    this.live = msg.live;
    $("inspect").hidden = msg.count === 0;
    ($("inspect-index") as HTMLInputElement).max = String(msg.count - 1);
    $("inspect-of").textContent = `of ${msg.count}`;
    this.replay = msg.replay ?? "";
    this.recorded = new Set(msg.recorded ?? []);
    this.features = new Set((msg.features ?? []).slice(0, 4096).map((f: unknown) =>
      Array.isArray(f) ? `${String(f[0])}|${Number(f[1])}` : ""));
    const land = $("btn-landscape") as HTMLButtonElement;
    land.hidden = !msg.landscape && !this.replay;
    land.disabled = !!this.replay && !msg.landscape;
    land.title = land.disabled ? `A new landscape is computed live only; ${this.replay}`
      : "Loss surface around the current weights (Li et al. 2018), with the training path";
    const note = $("inspect-replay");
    note.hidden = !this.replay;
    note.textContent = this.replay ? "recorded only" : "";
    note.title = this.replay ? `Answers come from the recording; ${this.replay}.` : "";
    this.updateShow();
  }

  /** What a click on a unit does: visualise it (live), show its recorded visualisation, or
   * nothing, with the reason (a replay without one: the model is not there to compute it). */
  unitAction(module: string, unit: number): { allowed: boolean; tip: string } {
    if (!this.replay) return { allowed: true, tip: "click: visualise this unit" };
    if (this.features.has(`${module}|${unit}`)) return { allowed: true, tip: "click: show its recorded visualisation" };
    return { allowed: false, tip: `a new feature visualisation is computed live only; ${this.replay}` };
  }

  /** In a replay, an input without a recorded answer cannot be shown: the button says why. */
  private updateShow(): void {
    const show = $("inspect-show") as HTMLButtonElement;
    const cur = Number(($("inspect-index") as HTMLInputElement).value) || 0;
    const missing = !!this.replay && !this.recorded.has(cur);
    show.disabled = missing;
    show.title = missing ? this.replayReason(cur) : "Show this input in every layer";
  }

  private replayReason(index: number): string {
    return `Input ${index}: computed live only; ${this.replay}`;
  }

  /** "landscape 120/441" while a long request runs; cleared when it is done. */
  showProgress(job: string, done: number, total: number): void {
    const el = $("inspect-progress");
    const name = job === "feature" ? "feature visualisation" : job;
    el.textContent = done >= total ? "" : `${name} ${total > 1 ? `${done}/${total}` : "…"}`;
  }

  showLandscape(o: OverlayInfo | null): void {
    this.showProgress("landscape", 1, 1);
    if (o) fill($("inspect-progress"), "landscape: centre loss ", numEl(Number(o.meta.center_loss)),
      `, ${(Number(o.meta.seconds_per_point) * 1000).toFixed(1)} ms per point`,
      this.replay && o.meta.step !== undefined ? ` · recorded at step ${displayName(o.meta.step, 20)}` : "");
  }

  choose(index: number, method: string): boolean {
    if (!this.count || index < 0 || index >= this.count) return false;
    this.index = index;
    this.method = method;
    ($("inspect-index") as HTMLInputElement).value = String(index);
    ($("inspect-method") as HTMLSelectElement).value = method;
    this.updateShow();
    if (this.replay && !this.recorded.has(index)) {
      $("inspect-result").textContent = this.replayReason(index);
      return false;
    }
    $("inspect-result").textContent = this.live ? "waiting for the next training step…"
      : this.replay ? "reading the recording…" : "computing…";
    this.send(index, method);
    return true;
  }

  /** After a reconnect the server has forgotten the request. */
  resend(): void {
    if (this.index !== null) this.send(this.index, this.method);
  }

  showResult(header: Record<string, any>, overlays: OverlayInfo[]): void {
    const parts: (Node | string)[] = [`#${Number(header.index)}`];
    if (header.label !== null && header.label !== undefined) parts.push(` · label ${displayName(header.label, 40)}`);
    if (header.prediction !== undefined) {
      const p = header.probabilities?.[header.prediction];
      parts.push(` · predicted ${displayName(header.prediction, 40)}`);
      if (typeof p === "number") {
        parts.push(" (", Number.isFinite(p) ? `${(p * 100).toFixed(0)}%` : numEl(p), ")");
      }
    }
    if (header.method !== "none") {
      const method = Object.prototype.hasOwnProperty.call(METHOD_LABELS, header.method) ? METHOD_LABELS[header.method] : displayName(header.method, 40);
      parts.push(` · ${method} for class ${displayName(header.target, 40)}`);
    }
    if (this.replay) parts.push(` · recorded at step ${displayName(header.step, 20)}`);
    fill($("inspect-result"), parts);
    const input = overlays.find((o) => o.name === "input");
    this.thumbnail(input);
  }

  /** The input's first channel as a small picture, in the colours of the scene. */
  private thumbnail(o: OverlayInfo | undefined): void {
    const c = $("inspect-thumb") as HTMLCanvasElement;
    const g = c.getContext("2d")!;
    g.clearRect(0, 0, c.width, c.height);
    if (!o || o.shape.length < 2) return;
    const [h, w] = o.kind === "slabs" ? [o.shape[1], o.shape[2]] : [o.shape[0], o.shape[1]];
    const img = g.createImageData(w, h);
    const col = o.arrays.colors;
    for (let i = 0; i < w * h; i++) {
      img.data.set([col[3 * i], col[3 * i + 1], col[3 * i + 2], 255], 4 * i);
    }
    const tmp = document.createElement("canvas");
    tmp.width = w; tmp.height = h;
    tmp.getContext("2d")!.putImageData(img, 0, 0);
    g.imageSmoothingEnabled = false;
    g.drawImage(tmp, 0, 0, c.width, c.height);
  }
}
