import { defineConfig } from "vite";

// The build lands inside the Python package so a wheel carries the viewer.
export default defineConfig({
  base: "./",
  build: {
    outDir: "../nnviz3d/viewer_dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    assetsInlineLimit: 0,
  },
});
