/**
 * `bun test/helpers/openapi-typescript.ts <openapi.json> <out.d.ts>`: openapi-typescript's CLI,
 * with the TypeScript it needs.
 *
 * openapi-typescript builds its output with the TypeScript 5 compiler API (`ts.factory`), which
 * TypeScript 7 (this project's `typescript`, a native compiler) does not ship. TypeScript 5 is
 * installed beside it as `typescript5`, and this script hands it to openapi-typescript in place of
 * `typescript`; bun's package manager has no per-dependency overrides to do it at install time.
 */
import { plugin } from "bun";

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error("usage: bun test/helpers/openapi-typescript.ts <openapi.json> <out.d.ts>");

const generator = Bun.resolveSync("openapi-typescript", import.meta.dir);
const replaced = Bun.resolveSync("typescript", generator);
const typescript5 = Bun.resolveSync("typescript5", import.meta.dir);
plugin({
  name: "typescript 5 for openapi-typescript",
  setup(build) {
    build.onLoad({ filter: new RegExp(`^${RegExp.escape(replaced)}$`) }, () => ({
      contents: `import ts from ${JSON.stringify(typescript5)}; export default ts;`,
      loader: "js",
    }));
  },
});

const { default: openapiTS, astToString } = await import("openapi-typescript");
await Bun.write(output, astToString(await openapiTS(Bun.pathToFileURL(input))));
