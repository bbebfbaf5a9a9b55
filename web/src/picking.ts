// Picking with the mouse: hovering a block or an overlay shows its tooltip (and an overlay's
// legend); a click selects a block or group, shows an embedding point's input, or visualises a unit.
import * as THREE from "three";
import { isInvalid, QUANTITIES, quantityValue } from "./colorBy";
import type { OverlayInfo } from "./overlays";
import type { Pick } from "./sceneView";
import type { SceneSelection } from "./selection";
import { displayName } from "./dom";
import { $, formatStat } from "./ui";
import type { Viewer } from "./viewerContext";

export interface PickActions {
  /** Ask for the feature visualisation of one unit. */
  visualise(module: string, unit: number): void;
  /** What a click on that unit would do, in words, and whether it can (a replay cannot
   * compute a new visualisation). */
  unitAction(module: string, unit: number): { allowed: boolean; tip: string };
  /** Show the legend of the overlay under the pointer (null: the weight maps' legend). */
  showLegend(hovered: OverlayInfo | null): void;
}

/** Another view that takes the pointer before the blocks (the connection matrix:
 * topologyViews.ts): ``hover`` gives a tooltip or null, ``click`` true when it took the click. */
export interface PointerView {
  hover(raycaster: THREE.Raycaster): string | null;
  click(raycaster: THREE.Raycaster): boolean;
}

export class Picking {
  /** A view picked before the blocks, or null. */
  extra: PointerView | null = null;
  /** The block under the pointer, or -1 (its label stays pinned). */
  hoveredBlock = -1;
  private readonly raycaster = new THREE.Raycaster();
  private readonly pointer = new THREE.Vector2();
  private downAt: [number, number] | null = null;
  private hoverText = "";
  /** The overlay whose legend is shown because the pointer is on it. */
  private legendOverlay: OverlayInfo | null = null;

  constructor(private v: Viewer, private selection: SceneSelection, private actions: PickActions) {
    const canvas = v.canvas;
    canvas.addEventListener("pointermove", (ev) => this.hover(ev));
    canvas.addEventListener("pointerdown", (ev) => { this.downAt = [ev.clientX, ev.clientY]; });
    canvas.addEventListener("pointerup", (ev) => this.click(ev));
  }

  /** Aim the raycaster at a pointer position (CSS pixels). */
  private aim(clientX: number, clientY: number): void {
    const r = this.v.canvas.getBoundingClientRect();
    this.pointer.set(((clientX - r.left) / r.width) * 2 - 1, -((clientY - r.top) / r.height) * 2 + 1);
    this.raycaster.setFromCamera(this.pointer, this.v.camera);
  }

  private pickAt(ev: PointerEvent): Pick | null {
    this.aim(ev.clientX, ev.clientY);
    return this.v.view.pick(this.raycaster);
  }

  private hover(ev: PointerEvent): void {
    const { canvas, view, overlays, probe } = this.v;
    this.aim(ev.clientX, ev.clientY);
    const hit = overlays.count() ? overlays.pick(this.raycaster) : null;
    if (hit !== null || this.legendOverlay !== null) {
      const o = hit?.overlay ?? null;
      if (o !== this.legendOverlay) { this.legendOverlay = o; this.actions.showLegend(o); }
    }
    if (hit) {
      if (view.setHover(-1)) { this.hoveredBlock = -1; this.v.requestRender(); }
      const unit = overlays.unitOf(hit);
      this.showTip(hit.text + (unit ? ` · ${this.actions.unitAction(unit.module, unit.unit).tip}` : ""), ev);
      const thumbs = hit.overlay.name === "embedding" ? hit.overlay.arrays.thumbs : undefined;
      if (thumbs) drawThumb(thumbs, hit.index[0], hit.overlay.shape[0]);
      canvas.style.cursor = "crosshair";
      return;
    }
    const extraTip = this.extra ? this.extra.hover(this.raycaster) : null;
    if (extraTip !== null) {
      if (view.setHover(-1)) { this.hoveredBlock = -1; this.v.requestRender(); }
      this.showTip(extraTip, ev);
      canvas.style.cursor = "pointer";
      return;
    }
    if (this.hoverText && this.hoveredBlock < 0) { this.hoverText = ""; $("tooltip").hidden = true; canvas.style.cursor = ""; }
    const pick = this.pickAt(ev);
    const idx = pick?.kind === "block" ? pick.index : -1;
    if (view.setHover(idx)) {
      this.hoveredBlock = idx;
      canvas.style.cursor = idx >= 0 ? "pointer" : "";
      const tip = $("tooltip");
      if (idx >= 0) {
        const b = view.blocks[idx];
        const q = QUANTITIES[this.v.state.colorKey];
        const v = "col" in q ? quantityValue(q, probe, b.module) : NaN;
        const bad = "col" in q && isInvalid(q, probe, b.module);
        const value = "col" in q ? ` · ${q.label} ${Number.isNaN(v) && !bad ? "–" : formatStat(v)}${bad ? " (NaN/Inf)" : ""}` : "";
        this.showTip(`${displayName(b.module || "(model)")} · ${displayName(b.kind, 60)}${value}`, ev);
      } else { tip.hidden = true; this.hoverText = ""; }
      this.v.requestRender();
    }
  }

  private click(ev: PointerEvent): void {
    const { overlays } = this.v;
    const downAt = this.downAt;
    if (!downAt || Math.hypot(ev.clientX - downAt[0], ev.clientY - downAt[1]) > 4) return;
    const pick = this.pickAt(ev);
    const hit = overlays.count() ? overlays.pick(this.raycaster) : null;
    const unit = hit ? overlays.unitOf(hit) : null;
    if (hit && hit.overlay.name === "embedding") overlays.clouds.clickPoint(hit.index[0]);
    else if (unit) this.actions.visualise(unit.module, unit.unit);
    else if (!hit && this.extra?.click(this.raycaster)) return;
    else if (pick) this.selection.apply(pick, false);
    else if (!hit) this.selection.clear();
  }

  private showTip(text: string, ev: { clientX: number; clientY: number }): void {
    const tip = $("tooltip");
    this.hoverText = text;
    tip.textContent = text;
    tip.style.left = `${ev.clientX + 14}px`;
    tip.style.top = `${ev.clientY + 10}px`;
    tip.hidden = false;
  }
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
