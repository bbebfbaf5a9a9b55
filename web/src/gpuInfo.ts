// What draws the viewer: a GPU, or a software rasteriser (SwiftShader, llvmpipe: a machine or
// VM without one, a remote desktop). Multisampling costs a software rasteriser a third of every
// frame (GPT-2 at 1280x800 in SwiftShader: 87 ms a frame with it, 58 ms without), so the
// interactive viewer goes without it there; pictures and videos (render mode) keep it.
// Label glyphs: troika draws each glyph's distance field with a shader that visits every pixel
// of the glyph's square once per outline segment. A GPU does that in a blink; at troika's 64 px
// squares SwiftShader spends a quarter of a page load's CPU on it, and 32 px squares save ~1
// CPU-s a load (bench/page_load.py). Labels are 10-24 px high on screen, where 32 px fields draw
// the same pixels (the largest difference in a 1280x800 shot of GPT-2: 36 of 255 on a few edge
// pixels), so a software rasteriser gets 32 px; a GPU, and render mode's pictures, keep 64 for
// text seen up close.

import { configureTextBuilder } from "troika-three-text";

/** The WebGL renderer's name ("ANGLE (..., SwiftShader ...)"), or "" when it cannot be read. */
export function rendererName(): string {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return "";
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? "");
    gl.getExtension("WEBGL_lose_context")?.loseContext();
    return name;
  } catch {
    return "";
  }
}

/** True for a software rasteriser's name. */
export function isSoftware(name: string): boolean {
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}

/** How the renderer should draw, asked once: multisampling and the glyphs' distance-field size.
 * Render mode always takes the best picture, and so creates no context to ask. */
export function drawQuality(renderMode: boolean): { antialias: boolean; glyphSize: number } {
  const fast = !renderMode && isSoftware(rendererName());
  return { antialias: !fast, glyphSize: fast ? 32 : 64 };
}

/** ``?glyph-size=32`` or ``64`` from the page's address (a bench and test aid that overrides the
 * automatic choice); anything else is ignored. */
export function glyphSizeOverride(search: string): number | null {
  const v = new URLSearchParams(search).get("glyph-size");
  return v === "32" || v === "64" ? Number(v) : null;
}

/** Choose the renderer's quality (drawQuality, or the address's ``glyph-size``) and set troika's
 * glyph size to match; call before any text is laid out. */
export function configureDrawing(renderMode: boolean, search = ""): { antialias: boolean; glyphSize: number } {
  const q = drawQuality(renderMode);
  const glyphSize = glyphSizeOverride(search) ?? q.glyphSize;
  configureTextBuilder({ sdfGlyphSize: glyphSize });
  return { antialias: q.antialias, glyphSize };
}
