// The embedding clouds' points: shift + drag selects the inputs inside a screen box in every
// layer's cloud; a click on a point shows that input in the Input panel when a model is there to
// run it (a live run, or view() with a probe set), and in a replay highlights it in every cloud
// instead (the tooltip says which); two sliders set the points' size and opacity.
import { $ } from "./ui";
import type { Viewer } from "./viewerContext";

export class PointSelection {
  /** Where a box drag started (CSS px), or null. */
  private boxFrom: [number, number] | null = null;
  private readonly pointSize = $("point-size") as HTMLInputElement;
  private readonly pointOpacity = $("point-opacity") as HTMLInputElement;

  constructor(private v: Viewer) {
    v.overlays.clouds.clickPoint = (index) => this.clickPoint(index);
    v.overlays.clouds.clickHint = () => (this.canShowInput() ? "click: show this input"
      : "click: highlight this input in every cloud (a replay has no model to run it)");
    window.addEventListener("pointerdown", (ev) => {
      // capture phase, before the orbit controls: shift + drag draws a box instead of panning
      if (ev.target !== v.canvas || !ev.shiftKey || !v.overlays.clouds.embedList.size) return;
      this.boxFrom = [ev.clientX, ev.clientY];
      v.nav.controls.enabled = false;
    }, true);
    window.addEventListener("pointermove", (ev) => {
      const from = this.boxFrom;
      if (!from) return;
      const el = $("select-box");
      el.hidden = false;
      el.style.left = `${Math.min(from[0], ev.clientX)}px`;
      el.style.top = `${Math.min(from[1], ev.clientY)}px`;
      el.style.width = `${Math.abs(ev.clientX - from[0])}px`;
      el.style.height = `${Math.abs(ev.clientY - from[1])}px`;
    });
    window.addEventListener("pointerup", (ev) => {
      if (!this.boxFrom) return;
      const [x0, y0] = this.boxFrom;
      this.boxFrom = null;
      v.nav.controls.enabled = true;
      $("select-box").hidden = true;
      if (Math.hypot(ev.clientX - x0, ev.clientY - y0) < 4) { this.selectBox(null); return; }
      this.selectBox([x0, y0, ev.clientX, ev.clientY]);
    });
    for (const el of [this.pointSize, this.pointOpacity]) {
      el.addEventListener("input", () => this.setPointStyle(Number(this.pointSize.value), Number(this.pointOpacity.value)));
    }
  }

  /** The server can run the model on a probe input (it said how many there are). */
  private canShowInput(): boolean {
    return this.v.inspectPanel.count > 0;
  }

  /** A click on point ``index``: show the input, or (no model) highlight it in every cloud; a
   * second click on the one highlighted input clears the highlight. */
  clickPoint(index: number): void {
    const { inspectPanel, overlays } = this.v;
    if (this.canShowInput() && inspectPanel.choose(index, inspectPanel.method)) return;
    const sel = overlays.clouds.embedSelection;
    const again = sel !== null && sel.size === 1 && sel.has(index);
    overlays.clouds.selectInputs(again ? null : new Set([index]));
    this.v.showToast(again ? "highlight cleared" : `input ${index} highlighted in every layer's cloud (click it again to clear)`);
    this.v.requestRender();
  }

  setPointStyle(size: number, opacity: number): void {
    this.v.overlays.clouds.setPointStyle(size, opacity);
    this.pointSize.value = String(size);
    this.pointOpacity.value = String(opacity);
    this.v.requestRender();
  }

  /** Select the inputs whose points lie in a screen box (CSS px) in any cloud; null clears. */
  selectBox(box: number[] | null): number {
    const { canvas, overlays } = this.v;
    if (!box) { overlays.clouds.selectInputs(null); this.v.requestRender(); return 0; }
    const r = canvas.getBoundingClientRect();
    const ndc = (x: number, y: number) => [((x - r.left) / r.width) * 2 - 1, -((y - r.top) / r.height) * 2 + 1];
    const [ax, ay] = ndc(box[0], box[1]), [bx, by] = ndc(box[2], box[3]);
    const picked = overlays.clouds.inputsInBox(this.v.camera, ax, ay, bx, by);
    overlays.clouds.selectInputs(picked);
    this.v.showToast(picked.size ? `${picked.size} inputs selected in every layer's cloud (shift-click to clear)` : "no points in that box");
    this.v.requestRender();
    return picked.size;
  }
}
