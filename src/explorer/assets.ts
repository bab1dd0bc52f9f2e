import { join } from "node:path";

const PAGE_DIR = join(import.meta.dir, "page");
const ENTRYPOINTS = [join(PAGE_DIR, "main.ts"), join(PAGE_DIR, "explorer.css")];
const ICON = join(PAGE_DIR, "icon.svg");

/** A file of the page, served under a content-hashed name (so it can be cached for good). */
export interface Asset {
  body: ArrayBuffer;
  type: string;
}

export interface ExplorerBundle {
  /** The page: a shell that loads the script and the style sheet; everything else is built by the script. */
  html: string;
  /** By file name (as under /explorer/assets/). */
  assets: Map<string, Asset>;
}

const escapeAttribute = (value: string) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

function shell(script: string, style: string, icon: string): string {
  const asset = (name: string) => escapeAttribute(`/explorer/assets/${name}`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Memory Mesh explorer</title>
<link rel="icon" type="image/svg+xml" href="${asset(icon)}">
<link rel="stylesheet" href="${asset(style)}">
<script type="module" src="${asset(script)}"></script>
</head>
<body>
<noscript><p>The Memory Mesh explorer needs JavaScript.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
}

/**
 * Bundles the page (src/explorer/page: TypeScript and CSS) with Bun's bundler, minified, into
 * memory. Nothing is fetched from elsewhere at any time: the page works offline.
 */
export async function buildExplorer(): Promise<ExplorerBundle> {
  const result = await Bun.build({ entrypoints: ENTRYPOINTS, target: "browser", minify: true, naming: "[name]-[hash].[ext]" });
  if (!result.success) throw new AggregateError(result.logs, "the explorer page did not build");
  const assets = new Map<string, Asset>();
  let script = "";
  let style = "";
  for (const output of result.outputs) {
    const name = output.path.replace(/^.*\//, "");
    assets.set(name, { body: await output.arrayBuffer(), type: output.type });
    if (name.endsWith(".js")) script = name;
    else if (name.endsWith(".css")) style = name;
  }
  const iconBody = await Bun.file(ICON).arrayBuffer();
  const icon = `icon-${Bun.hash(iconBody).toString(36)}.svg`;
  assets.set(icon, { body: iconBody, type: "image/svg+xml" });
  return { html: shell(script, style, icon), assets };
}
