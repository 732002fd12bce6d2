// Which parts of the product exist yet. A scenario names what it needs; a missing part skips it with
// a message saying what it waits for (E2E_REQUIRE_ALL=1 turns such skips into failures).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, GENERATOR, CLI } from "./guest.mjs";

export function capabilities() {
  const gen = GENERATOR;
  const genText = existsSync(gen) ? readFileSync(gen, "utf8") : "";
  return {
    generator: genText.length > 0,
    // The raw image readers: until they land, the bundle carries their placeholder error.
    raw: genText.length > 0 && !genText.includes("cannot be read yet"),
    cli: existsSync(CLI),
    lateUnit: existsSync(join(REPO, "units/portable-attach-late.service")),
    pathUnit: existsSync(join(REPO, "units/portable-attach.path")),
  };
}

capabilities.describe = {
  generator: "the generator (dist/portable-attach-generator; npm run build)",
  raw: 'raw image readers (src/image/raw.ts still says "cannot be read yet")',
  cli: "the CLI (dist/portable-attach)",
  lateUnit: "units/portable-attach-late.service",
  pathUnit: "units/portable-attach.path",
};
