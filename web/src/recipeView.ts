// The scene recipe's view (nnviz3d/recipe.py): its settings applied once, its bookmarks in the
// Views menu, its tour loaded, and Save view, which writes the current view as a recipe.
import * as THREE from "three";
import { displayName, el, fill, safeFileName } from "./dom";
import type { Tour, TourStop } from "./tour";
import { $ } from "./ui";
import type { Viewer } from "./viewerContext";

/** The settings a recipe sets, and the tour it loads. */
export interface RecipeControls {
  setColorBy(key: string): void;
  setShowWeights(on: boolean): void;
  setFlow(on: boolean): void;
  readonly tour: Tour;
}

/** Three finite numbers (a recipe's viewpoint; NaN or Inf would leave the camera nowhere). */
export function isPoint(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x));
}

export class RecipeView {
  /** The scene recipe's view, or null. */
  recipe: Record<string, any> | null = null;
  private applied = false;

  constructor(private v: Viewer, private controls: RecipeControls) {
    ($("bookmarks") as HTMLSelectElement).addEventListener("change", (e) => {
      const sel = e.target as HTMLSelectElement;
      if (sel.value) this.goToBookmark(sel.value);
      sel.value = "";
      sel.blur();
    });
    $("btn-save-view").addEventListener("click", () => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([this.text()], { type: "application/toml" }));
      a.download = `${safeFileName(v.state.model)}.toml`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
  }

  /** The server's recipe message: apply its view (only the first one is applied). */
  set(view: Record<string, any> | null): void {
    this.recipe = view;
    this.apply();
  }

  private apply(): void {
    const { recipe, controls } = this;
    if (!recipe || this.applied) return;
    this.applied = true;
    if (recipe.title) document.title = `nnviz3d · ${displayName(recipe.title, 100)}`;
    if (typeof recipe.color_by === "string") controls.setColorBy(recipe.color_by);
    if (typeof recipe.weights === "boolean") controls.setShowWeights(recipe.weights);
    if (typeof recipe.flow === "boolean") controls.setFlow(recipe.flow);
    const marks = (recipe.bookmarks ?? []) as { name: string; caption?: string }[];
    const sel = $("bookmarks") as HTMLSelectElement;
    fill(sel, el("option", { value: "" }, "Views…"), marks.map((b) =>
      el("option", { value: String(b.name), title: b.caption ? displayName(b.caption, 1000) : null }, displayName(b.name, 40))));
    $("bookmarks-box").hidden = marks.length === 0;
    controls.tour.load((recipe.tour ?? []) as TourStop[]);
    if (this.v.state.ready && recipe.camera && !this.v.nav.loadFromUrl()) this.goToBookmark(recipe.camera, false);
  }

  /** Fly to a bookmark by name; false when the recipe has none of that name. */
  goToBookmark(name: string, animate = true): boolean {
    const b = (this.recipe?.bookmarks ?? []).find((x: { name: string }) => x.name === name);
    if (!b || !isPoint(b.position) || !isPoint(b.target)) return false; // a NaN camera shows nothing
    this.v.state.cameraUntouched = false;
    this.v.nav.flyTo(new THREE.Vector3(...(b.position as [number, number, number])),
      new THREE.Vector3(...(b.target as [number, number, number])), animate);
    if (b.caption) this.v.showToast(b.caption);
    this.v.requestRender();
    return true;
  }

  /** The current view as a recipe (TOML): model name, settings and the camera as a bookmark. */
  text(): string {
    const { recipe, v } = this;
    const vec = (a: THREE.Vector3) => `[${a.toArray().map((x) => Number(x.toFixed(3))).join(", ")}]`;
    const q = (s: string) => JSON.stringify(s);
    const lines = [
      `# nnviz3d scene recipe saved from the viewer; see nnviz3d/recipe.py for every key`,
      `title = ${q(recipe?.title || v.state.model)}`,
      `model = ${q(recipe?.model ?? "package.module:callable")}  # the SPEC or model file you viewed`,
      ``, `[view]`, `color_by = ${q(v.state.colorKey)}`, `weights = ${v.overlays.showWeights}`, `flow = ${v.flow.enabled}`,
      `camera = "saved"`, ``, `[[bookmarks]]`, `name = "saved"`,
      `position = ${vec(v.camera.position)}`, `target = ${vec(v.nav.controls.target)}`];
    for (const b of recipe?.bookmarks ?? []) {
      if (b.name === "saved") continue;
      lines.push("", "[[bookmarks]]", `name = ${q(b.name)}`, `position = [${b.position.join(", ")}]`,
        `target = [${b.target.join(", ")}]`);
      if (b.caption) lines.push(`caption = ${q(b.caption)}`);
    }
    return lines.join("\n") + "\n";
  }
}
