// What draws the viewer: a GPU, or a software rasteriser (SwiftShader, llvmpipe: a machine or
// VM without one, a remote desktop). Multisampling costs a software rasteriser a third of every
// frame (GPT-2 at 1280x800 in SwiftShader: 87 ms a frame with it, 58 ms without), so the
// interactive viewer goes without it there; pictures and videos (render mode) keep it.

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

/** Multisample unless a software rasteriser draws an interactive view (render mode always
 * multisamples, and so creates no context to ask). */
export function wantAntialias(renderMode: boolean): boolean {
  return renderMode || !isSoftware(rendererName());
}
