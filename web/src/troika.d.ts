// The subset of troika-three-text's API the viewer uses (its package ships no resolvable types).
declare module "troika-three-text" {
  import { Mesh } from "three";
  export class Text extends Mesh {
    text: string;
    font: string | null;
    fontSize: number;
    anchorX: number | "left" | "center" | "right";
    anchorY: number | "top" | "middle" | "bottom";
    color: number | string;
    outlineWidth: number | string;
    outlineColor: number | string;
    /** Layout of the last sync: blockBounds is [minX, minY, maxX, maxY] in local units. */
    textRenderInfo: { blockBounds: [number, number, number, number] } | null;
    sync(callback?: () => void): void;
    dispose(): void;
  }
  /** Settings for every text laid out after the call (troika ignores it after the first). */
  export function configureTextBuilder(config: { sdfGlyphSize?: number }): void;
}
