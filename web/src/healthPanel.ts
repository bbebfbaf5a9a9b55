// The health alarms panel: each alarm listed once (at its first step); a click flies to its module.
// Module names and messages come from the run: shown as text (dom.ts), never as markup.
import { displayName, el, fill, nameEl } from "./dom";
import { $ } from "./ui";

/** One health alarm of a probe frame's header. */
export interface Alarm { alarm: string; module: string; step: number; value: number; kind: string; message: string; }

export class HealthPanel {
  /** Every alarm seen, once per alarm and module (the first step it held). */
  readonly alarms = new Map<string, Alarm>();
  /** The alarms that hold at the shown step (from the newest frame). */
  current: Alarm[] = [];

  /** ``select`` is called with the module of a clicked alarm. */
  constructor(private select: (module: string) => void) {}

  /** Add a frame's alarms to the panel (those not seen before). */
  note(list: Alarm[] | undefined): void {
    let added = false;
    for (const a of list ?? []) {
      const key = `${a.alarm}|${a.module}`;
      if (!this.alarms.has(key)) { this.alarms.set(key, a); added = true; }
    }
    if (added) this.render();
  }

  /** Modules with an exploding-gradient or NaN/Inf alarm at the shown step. */
  explodingModules(): Set<string> {
    return new Set(this.current.filter((a) => a.alarm === "exploding" || a.alarm === "nan" || a.alarm === "inf").map((a) => a.module));
  }

  /** Modules with a vanishing-gradient alarm at the shown step. */
  vanishingModules(): Set<string> {
    return new Set(this.current.filter((a) => a.alarm === "vanishing").map((a) => String(a.module ?? "")));
  }

  private render(): void {
    const alarms = this.alarms;
    const box = $("health");
    box.hidden = alarms.size === 0;
    fill(box, el("h3", null, `Health · ${alarms.size} alarm${alarms.size === 1 ? "" : "s"}`),
      el("ul", null, [...alarms.values()].map((a, i) => {
        const kind = String(a.alarm);
        const li = el("li", { "data-i": i, "data-alarm": kind, "data-module": String(a.module ?? ""),
          title: displayName(a.message, 2000) },
        el("b", { class: kind === "nan" || kind === "inf" ? "nonfinite" : null }, displayName(kind, 20)), " ",
        nameEl(a.module || "(model)", 80), " ", el("span", null, `step ${Number(a.step)}`));
        li.addEventListener("click", () => this.select(String(a.module ?? "")));
        return li;
      })));
  }
}
