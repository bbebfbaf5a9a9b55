// nnviz3d compare: what the overlaid frames say about themselves. The probe statistics shown are
// B − A; this keeps the quantity the view opens coloured by and, per probe kind and step of A,
// the step of B it was paired with (nearest recorded step within a tolerance), so the legend and
// the info panel can say which steps are compared.
import { type ColorScale, QUANTITIES, type Quantity } from "./colorBy";
import type { ProbeKind, ProbeState } from "./probeState";

export class CompareInfo {
  /** True once a frame said it holds differences (nnviz3d compare). */
  active = false;
  /** The colour quantity the comparison opens with (``weight_norm``...), or null. */
  color: string | null = null;
  /** The step tolerance of two runs' alignment; null for two models (no steps). */
  tolerance: number | null = null;
  /** ``kind:stepA`` → the step of B compared with it. */
  private partners = new Map<string, number>();

  /** Take a frame's ``compare`` header in. */
  note(header: Record<string, any>): void {
    this.active = true;
    if (typeof header.color === "string" && this.color === null) this.color = header.color;
    if (typeof header.tolerance === "number") this.tolerance = header.tolerance;
    const aligned = header.aligned;
    if (aligned && typeof aligned === "object") {
      for (const [kind, ab] of Object.entries(aligned as Record<string, { a: number; b: number }>)) {
        if (ab && typeof ab.a === "number" && typeof ab.b === "number" && this.partners.size < 1_000_000) {
          this.partners.set(`${kind}:${ab.a}`, ab.b);
        }
      }
    }
  }

  /** The step of B compared with ``kind`` at step ``stepA`` of A, or null (two models). */
  partnerStep(kind: ProbeKind, stepA: number): number | null {
    return this.partners.get(`${kind}:${stepA}`) ?? null;
  }

  /** "A step 48 · B step 47 (B's nearest recorded step, within ±1)" or "" for two models. */
  describe(kind: ProbeKind, stepA: number): string {
    const b = this.partnerStep(kind, stepA);
    if (b === null) return "";
    const how = b === stepA ? "same step" : `B's nearest recorded step, within ±${this.tolerance ?? "?"}`;
    return `A step ${stepA} · B step ${b} (${how})`;
  }
}

/** The colour scale as the legend shows it for a comparison: every heading says B − A, and the
 * note says which steps are compared and how values map to colours. */
export function compareScale(scale: ColorScale, probe: ProbeState, info: CompareInfo): ColorScale {
  const q: Quantity = QUANTITIES[scale.key];
  const data = q.kind ? probe.kinds.get(q.kind) : undefined;
  const steps = q.kind && data ? info.describe(q.kind, data.step) : "";
  return { ...scale, label: `B − A: ${scale.label}`, note: [steps, scale.note].filter(Boolean).join(" · ") || undefined };
}

/** The one comparison a page shows. */
export const compareInfo = new CompareInfo();
