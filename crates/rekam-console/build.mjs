// Bundles web/main.ts (and the code generated from proto/) into dist/console.js with
// esbuild, and copies the page and its style sheet: dist/ is what rekamd serves.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const out = new URL("./dist/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: ["web/main.ts"],
  bundle: true,
  format: "iife",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  outfile: "dist/console.js",
  logLevel: "warning",
  legalComments: "linked",
});
for (const f of ["index.html", "console.css"]) {
  await copyFile(new URL(`./web/${f}`, import.meta.url), new URL(f, out));
}
console.log("rekam console built in", out.pathname);
