// Command-line parsing: switches as portablectl and systemctl spell them. Only this file knows
// about argv; verbs get a plain Options object.
import { parseArgs } from "node:util";

export interface Options {
  verb: string;
  args: string[];
  runtime: boolean;
  /** "" for the real root, else the tree to edit offline (no trailing slash). */
  root: string;
  noReload: boolean;
  json: "pretty" | "short" | undefined;
  quiet: boolean;
  noLegend: boolean;
  noBlock: boolean;
  enable: boolean;
  now: boolean;
  force: boolean;
  cat: boolean;
  name: string | undefined;
  profile: string | undefined;
  extensions: string[];
  /** reload: skip if the lists are as the last reload by this tool left them (the path unit). */
  ifChanged: boolean;
  help: boolean;
  version: boolean;
}

/** Bad usage: the message and a pointer to --help, exit status 1 (systemd's tools exit 1 too). */
export class UsageError extends Error {}

const SPEC = {
  runtime: { type: "boolean" },
  root: { type: "string" },
  "no-reload": { type: "boolean" },
  json: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  "no-legend": { type: "boolean" },
  "no-pager": { type: "boolean" },
  "no-block": { type: "boolean" },
  "no-ask-password": { type: "boolean" },
  enable: { type: "boolean" },
  now: { type: "boolean" },
  force: { type: "boolean" },
  cat: { type: "boolean" },
  name: { type: "string" },
  profile: { type: "string", short: "p" },
  extension: { type: "string", multiple: true },
  "if-changed": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

export function parseOptions(argv: string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: SPEC, allowPositionals: true, strict: true });
  } catch (e) {
    // parseArgs says e.g. "Unknown option '--frob'"; systemd tools say "unrecognized option".
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const v = parsed.values;
  const json = v.json;
  if (json !== undefined && json !== "pretty" && json !== "short" && json !== "off")
    throw new UsageError(`Unknown argument to --json=: '${json}' (expected pretty, short or off)`);
  let root = v.root ?? "";
  if (root !== "") {
    if (!root.startsWith("/")) root = `${process.cwd()}/${root}`;
    root = root.replace(/\/+$/, "");
  }
  const [verb = "list", ...args] = parsed.positionals;
  return {
    verb,
    args,
    runtime: v.runtime ?? false,
    root,
    noReload: v["no-reload"] ?? false,
    json: json === "off" ? undefined : json,
    quiet: v.quiet ?? false,
    noLegend: v["no-legend"] ?? false,
    noBlock: v["no-block"] ?? false,
    enable: v.enable ?? false,
    now: v.now ?? false,
    force: v.force ?? false,
    cat: v.cat ?? false,
    name: v.name,
    profile: v.profile,
    extensions: v.extension ?? [],
    ifChanged: v["if-changed"] ?? false,
    help: v.help ?? false,
    version: v.version ?? false,
  };
}
