// Readable text in the headset: an SDF text block (troika-three-text) on a dark backing board,
// for short texts such as a tour stop's caption (the info panel is xr/infoPanel.ts).
import * as THREE from "three";
import { Text } from "troika-three-text";
import fontUrl from "@fontsource/roboto/files/roboto-latin-400-normal.woff?url";

interface TroikaExtras { maxWidth: number; lineHeight: number; textRenderInfo?: { blockBounds: number[] } }

const PAD = 0.02;

export class TextPanel {
  readonly root = new THREE.Group();
  private readonly text: Text;
  private readonly board: THREE.Mesh;
  /** The text shown (what tests read). */
  content = "";

  constructor(name: string, width = 0.55, fontSize = 0.018, private onSync: () => void = () => {}) {
    this.root.name = name;
    this.text = new Text();
    Object.assign(this.text as unknown as TroikaExtras, { maxWidth: width, lineHeight: 1.3 });
    this.text.font = fontUrl;
    this.text.fontSize = fontSize;
    this.text.color = 0xe8ecf4;
    this.text.anchorX = "left";
    this.text.anchorY = "top";
    this.text.position.set(-width / 2, 0, 0.002);
    this.text.renderOrder = 21;
    this.board = new THREE.Mesh(new THREE.PlaneGeometry(1, 1),
      new THREE.MeshBasicMaterial({ color: 0x141925, transparent: true, opacity: 0.88, side: THREE.DoubleSide }));
    this.board.renderOrder = 20;
    this.board.position.z = -0.001;
    this.root.add(this.board, this.text);
    this.root.visible = false;
  }

  /** The board's box in the reference space (metres), or null while hidden. */
  box(): THREE.Box3 | null {
    if (!this.root.visible || !this.root.parent) return null;
    this.root.updateMatrixWorld(true);
    return new THREE.Box3().setFromObject(this.board);
  }

  set(text: string): void {
    this.root.visible = text.length > 0;
    if (text === this.content) return;
    this.content = text;
    this.text.text = text;
    this.text.sync(() => { this.fit(); this.onSync(); });
  }

  /** Fit the board behind the laid-out text. */
  private fit(): void {
    const b = (this.text as unknown as TroikaExtras).textRenderInfo?.blockBounds;
    if (!b) return;
    const [x0, y0, x1, y1] = b;
    const px = this.text.position.x, py = this.text.position.y;
    this.board.scale.set(x1 - x0 + 2 * PAD, y1 - y0 + 2 * PAD, 1);
    this.board.position.set(px + (x0 + x1) / 2, py + (y0 + y1) / 2, -0.001);
  }
}
