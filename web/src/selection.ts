// The selected block or group: its info panel, its detail overlays (asked of the server), and
// framing it.
import * as THREE from "three";
import { renderProbePanel } from "./probePanel";
import { type Pick, scenePathOf } from "./sceneView";
import { $, hidePanel, showBlockPanel, showGroupPanel } from "./ui";
import type { Viewer } from "./viewerContext";

export class SceneSelection {
  /** The selected scene path, or null. */
  selected: string | null = null;
  /** The selected block's module path (null for a group or nothing). */
  selectedModule: string | null = null;
  /** The module whose ridges and scatter were asked of the server (null: none). */
  detailWanted: string | null = null;
  /** What the info panel's buttons do. */
  readonly actions = {
    expand: (path: string) => this.v.conn.send({ type: "expand", path }),
    collapse: (path: string) => this.v.conn.send({ type: "collapse", path }),
    frame: () => this.frame(),
  };

  constructor(private v: Viewer) {}

  apply(pick: Pick, frame: boolean): void {
    const { view, state } = this.v;
    view.select(pick);
    if (pick.kind === "block") {
      const b = view.blocks[pick.index];
      this.selected = b.path;
      this.selectedModule = b.module;
      showBlockPanel(b, this.parentGroupOf(b.module), this.actions,
        state.compareNote ? (state.comparePairs[b.module] ?? b.module) : undefined);
      this.wantDetail(b.module);
    } else {
      const g = view.groups[pick.index];
      this.selected = g.path;
      this.selectedModule = null;
      showGroupPanel(g, this.actions);
      this.wantDetail(null);
    }
    this.refreshProbePanel();
    if (frame) this.frame();
    this.v.requestRender();
  }

  clear(): void {
    this.selected = null; this.selectedModule = null; this.v.view.select(null); hidePanel();
    this.wantDetail(null);
    this.v.requestRender();
  }

  /** Select a scene path or dotted module path and frame it; false when it is not in the scene. */
  selectPath(path: string): boolean {
    const pick = this.v.view.pathIndex.get(scenePathOf(path));
    if (!pick) return false;
    this.apply(pick, true);
    return true;
  }

  /** Fly to the selection, or to the whole scene without one. */
  frame(): void {
    const { view, state, nav } = this.v;
    const pick = this.selected ? view.pathIndex.get(this.selected) : undefined;
    state.cameraUntouched = false;
    nav.frame(pick ? this.contextBox(pick) : this.v.sceneBox());
  }

  /** What framing a block or group shows: it, its neighbours along the edges (those nearby),
   * and at least a few block sizes around it, so one box never fills the screen. */
  contextBox(pick: Pick): THREE.Box3 {
    const { view } = this.v;
    const box = view.boxOf(pick);
    const own = box.getSize(new THREE.Vector3());
    const centre = box.getCenter(new THREE.Vector3());
    const reach = Math.max(6, 2 * Math.max(own.x, own.z));
    const path = pick.kind === "block" ? view.blocks[pick.index].path : view.groups[pick.index].path;
    for (const e of view.edges) {
      const other = e.src === path ? e.dst : e.dst === path ? e.src : null;
      const o = other ? view.pathIndex.get(other) : undefined;
      if (!o) continue;
      const ob = view.boxOf(o);
      if (ob.getCenter(new THREE.Vector3()).distanceTo(centre) <= reach) box.union(ob);
    }
    const size = box.getSize(new THREE.Vector3());
    const min = Math.max(4, 3 * Math.max(own.x, own.y, own.z));
    box.expandByVector(new THREE.Vector3(Math.max(0, min - size.x) / 2, 0, Math.max(0, min - size.z) / 2));
    return box;
  }

  /** The innermost group around ``module``, or null. */
  parentGroupOf(module: string): string | null {
    let best: string | null = null;
    for (const g of this.v.view.groups) {
      if (module.startsWith(g.module + ".") && (!best || g.module.length > best.length)) best = g.module;
    }
    return best;
  }

  /** The info panel's probe statistics, when it is open. */
  refreshProbePanel(): void {
    const el = document.getElementById("info-probe");
    if (el && !$("info").hidden) renderProbePanel(el, this.selectedModule, this.v.probe);
  }

  /** Ask the server for the ridges and scatter of ``module`` (null: none). */
  private wantDetail(module: string | null): void {
    if (module === this.detailWanted) return;
    this.detailWanted = module;
    this.v.overlays.clearDetail();
    this.v.conn.send({ type: "detail", path: module ?? "" });
  }
}
