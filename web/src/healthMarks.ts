// Health alarms in the scene: each alarmed block glows red and carries a "!" badge above its
// corner. Two draw calls whatever the number of alarms (one instanced glow, one point set).
import * as THREE from "three";
import { type SceneView, scenePathOf } from "./sceneView";

function badgeTexture(): THREE.CanvasTexture {
  const c = document.createElement("canvas");
  c.width = c.height = 64;
  const g = c.getContext("2d")!;
  g.fillStyle = "#ff3b4e";
  g.beginPath(); g.arc(32, 32, 29, 0, Math.PI * 2); g.fill();
  g.lineWidth = 4; g.strokeStyle = "#ffffff"; g.stroke();
  g.fillStyle = "#ffffff";
  g.font = "bold 44px sans-serif"; g.textAlign = "center"; g.textBaseline = "middle";
  g.fillText("!", 32, 34);
  const tex = new THREE.CanvasTexture(c);
  tex.colorSpace = THREE.SRGBColorSpace;
  return tex;
}

export class HealthMarks {
  readonly root = new THREE.Group();
  modules: string[] = [];
  private glow: THREE.InstancedMesh | null = null;
  private badges: THREE.Points | null = null;
  private readonly texture = badgeTexture();

  constructor(private view: SceneView) { this.root.name = "health-marks"; }

  /** Mark these modules (dotted paths); blocks not in the scene are skipped. */
  set(modules: string[]): void {
    const key = [...new Set(modules)].sort();
    if (key.join("|") === this.modules.join("|")) return;
    this.modules = key;
    this.rebuild();
  }

  rebuild(): void {
    this.clear();
    const idx = this.modules.map((m) => this.view.pathIndex.get(scenePathOf(m)))
      .filter((p) => p?.kind === "block").map((p) => p!.index);
    if (!idx.length) return;
    const p = this.view.blockPositions, s = this.view.blockScales;
    this.glow = new THREE.InstancedMesh(new THREE.BoxGeometry(1, 1, 1), new THREE.MeshBasicMaterial({
      color: 0xff2a3d, transparent: true, opacity: 0.28, depthWrite: false, blending: THREE.AdditiveBlending,
    }), idx.length);
    this.glow.name = "health-glow";
    const m = new THREE.Matrix4();
    const at = new Float32Array(idx.length * 3);
    idx.forEach((i, k) => {
      m.makeScale(s[3 * i] + 0.12, s[3 * i + 1] + 0.12, s[3 * i + 2] + 0.12);
      m.setPosition(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      this.glow!.setMatrixAt(k, m);
      at.set([p[3 * i] + s[3 * i] / 2, p[3 * i + 1] + s[3 * i + 1] / 2 + 0.18, p[3 * i + 2] - s[3 * i + 2] / 2], 3 * k);
    });
    this.glow.instanceMatrix.needsUpdate = true;
    this.glow.computeBoundingSphere();
    const geo = new THREE.BufferGeometry();
    geo.setAttribute("position", new THREE.BufferAttribute(at, 3));
    this.badges = new THREE.Points(geo, new THREE.PointsMaterial({
      map: this.texture, size: 0.32, transparent: true, alphaTest: 0.2, depthTest: false,
    }));
    this.badges.name = "health-badges";
    this.badges.renderOrder = 5;
    this.root.add(this.glow, this.badges);
  }

  private clear(): void {
    for (const o of [this.glow, this.badges]) {
      if (!o) continue;
      this.root.remove(o);
      o.geometry.dispose();
      (o.material as THREE.Material).dispose();
    }
    this.glow = null;
    this.badges = null;
  }

  /** Blocks marked now (those of the alarmed modules present in the scene). */
  get count(): number {
    return this.glow?.count ?? 0;
  }
}
