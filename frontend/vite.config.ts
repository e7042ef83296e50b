import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The backend serves the build from app/webui (app/web.py); `make ui` writes it there.
const outDir = fileURLToPath(new URL("../app/webui", import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2020",
    // no inline <script>/<style> and no data: URLs: the backend's CSP is default-src 'self'
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  // `make ui-dev`: the dev server on the configured CORS origin, talking to the backend on :8000
  server: { host: "localhost", port: 3000, strictPort: true },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
