// inspect IMAGE [PREFIX…]: what attaching would do, changing nothing; plus the image's fitness as
// the portable-service documentation defines it. Fitness findings are warnings only: a writable
// image gets /etc/machine-id, /etc/resolv.conf and the API mount points created when it runs.
//
// --json: {image, path, type, description, portableService, operatingSystem, osRelease,
//          protection: {level, details}, extensions: [{image, path, release, protection}],
//          units: [name], fitness: [{check, ok}],
//          attach: {state, reason?, units, warnings}}
import { openImage } from "../image/open.ts";
import { statInImage } from "../image/resolve.ts";
import { ImageError, type ImageTree } from "../image/types.ts";
import { verityTrust } from "../image/verity-trust.ts";
import { imageHostPath, lookupImage } from "../io/image-lookup.ts";
import { hostPath, unroot } from "../io/root-path.ts";
import { detectSystemd } from "../io/systemd-version.ts";
import { hostArchitecture } from "../portable/architecture.ts";
import { discoverUnits } from "../portable/discover.ts";
import { findExtensionRelease, findOsRelease, parseEnvFile } from "../portable/release.ts";
import { lastComponent, prefixFromImage } from "../portable/unit-name.ts";
import { entryFromKeys, entryKeys } from "./attach.ts";
import { CliError, printJson, type Context } from "./context.ts";
import { imageArgument } from "./image-arg.ts";
import { planHere } from "./outcomes.ts";

const API_DIRS = ["/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"];

interface FitnessCheck {
  /** As --json names it. */
  check: string;
  ok: boolean;
  /** What is missing, as the warning names it. */
  what: string;
  /** Created when the image runs, if it is writable. */
  createdAtRunTime: boolean;
}

function fitnessCheck(what: string, ok: boolean, apiMount = false): FitnessCheck {
  const api = apiMount ? " (API mount point)" : "";
  return { check: `${what} present${api}`, ok, what: `${what}${api}`, createdAtRunTime: what !== "os-release" };
}

/** The checks of the portable-services documentation ("fitness" of an image as a portable service). */
export function fitness(tree: ImageTree, hasOsRelease: boolean): FitnessCheck[] {
  const checks = [fitnessCheck("os-release", hasOsRelease)];
  for (const f of ["/etc/machine-id", "/etc/resolv.conf"]) {
    // Empty files and symlinks (even dangling ones, e.g. resolv.conf → ../run/…) are fine.
    let ok = false;
    try {
      ok = tree.lstat(f) !== undefined || statInImage(tree, f) !== undefined;
    } catch {
      ok = false;
    }
    checks.push(fitnessCheck(f, ok));
  }
  for (const d of API_DIRS) {
    let ok = false;
    try {
      ok = statInImage(tree, d)?.stat.kind === "dir";
    } catch {
      ok = false;
    }
    checks.push(fitnessCheck(d, ok, true));
  }
  return checks;
}

const decoder = new TextDecoder();

export function inspect(ctx: Context): number {
  const [arg, ...prefixes] = ctx.opts.args;
  if (arg === undefined) throw new CliError("inspect: expected an IMAGE argument.", 2);
  const image = imageArgument(ctx, arg);
  const extensions = ctx.opts.extensions.map((e) => imageArgument(ctx, e));
  const architecture = hostArchitecture(ctx.env);
  const locate = (img: string): string => {
    const l = lookupImage(ctx.opts.root, img);
    if ("missing" in l) throw new CliError(`Failed to inspect '${img}': ${l.missing}`);
    return l.found;
  };
  const path = locate(image);
  const matches = prefixes.length > 0 ? prefixes : [prefixFromImage(image) ?? ""];
  const trees: ImageTree[] = [];
  const trust = verityTrust((p) => hostPath(ctx.opts.root, p));
  // Release files read as the systemd the units are for reads them (as plan() does).
  const systemd = detectSystemd(ctx.opts.root);
  const rules = systemd.behaviour;
  const protection = (t: ImageTree) => ({
    level: t.protection?.level ?? "unprotected",
    details: (t.protection?.details ?? []).map((d) => unroot(d, ctx.opts.root)),
  });
  try {
    const open = (p: string): ImageTree => {
      const t = openImage(imageHostPath(ctx.opts.root, p), { architecture, trust });
      trees.push(t);
      return t;
    };
    const tree = open(path);
    const osRelease = findOsRelease(tree);
    const release = osRelease && parseEnvFile(osRelease.text, rules);
    const units = new Map<string, Uint8Array>();
    for (const u of discoverUnits(tree, matches).units) units.set(u.name, u.content);
    const exts = extensions.map((e) => {
      const p = locate(e);
      const t = open(p);
      const r = findExtensionRelease(t, lastComponent(p).name.replace(/\.raw$/, ""), ctx.opts.force);
      for (const u of discoverUnits(t, matches).units) if (!units.has(u.name)) units.set(u.name, u.content);
      return {
        image: e,
        path: p,
        release: r ? parseEnvFile(r.text, rules) : null,
        text: r?.text,
        protection: protection(t),
      };
    });
    const checks = fitness(tree, osRelease !== undefined);
    const entry = entryFromKeys(
      ctx.opts.name ?? "inspect",
      "(inspect)",
      entryKeys({
        image,
        extensions,
        prefixes: prefixes.length > 0 ? prefixes : undefined,
        profile: ctx.opts.profile,
        enable: false,
        force: ctx.opts.force,
      }),
    );
    const outcome =
      entry.errors.length > 0
        ? { state: "failed", reason: entry.errors.map((e) => e.message).join("; "), units: [], warnings: [] }
        : planHere(ctx, { entries: [entry] }, { systemd }).outcomes[0];
    const attach = {
      state: outcome?.state ?? "failed",
      ...(outcome?.reason !== undefined ? { reason: outcome.reason } : {}),
      units: outcome?.units ?? [],
      warnings: outcome?.warnings ?? [],
    };
    const names = [...units.keys()].sort();
    if (ctx.opts.json) {
      printJson(ctx, {
        image,
        path,
        type: tree.type,
        description: tree.description,
        protection: protection(tree),
        portableService: release?.PORTABLE_PRETTY_NAME ?? null,
        operatingSystem: release?.PRETTY_NAME ?? null,
        osRelease: release ?? null,
        extensions: exts.map(({ image: i, path: p, release: r, protection: v }) => ({
          image: i,
          path: p,
          release: r,
          protection: v,
        })),
        units: names,
        fitness: checks.map(({ check, ok }) => ({ check, ok })),
        attach,
      });
      return 0;
    }
    if (ctx.opts.cat) {
      ctx.out(`-- OS Release: --\n${osRelease?.text ?? "n/a\n"}`);
      for (const e of exts) ctx.out(`-- Extension Release: ${e.path} --\n${e.text ?? "n/a\n"}`);
      for (const n of names) ctx.out(`-- Unit file: ${n} --\n${decoder.decode(units.get(n))}`);
    } else {
      const shield = (t: ImageTree): string =>
        `\n\tProtection: ${[protection(t).level, ...protection(t).details].join("\n\t\t")}`;
      const out = [
        `Image:\n\t${path} (${tree.description})${shield(tree)}`,
        `Portable Service:\n\t${release?.PORTABLE_PRETTY_NAME ?? "n/a"}`,
        `Operating System:\n\t${release?.PRETTY_NAME ?? "n/a"}`,
      ];
      for (const e of exts)
        out.push(
          `Extension:\n\t${e.path}\n\tProtection: ${[e.protection.level, ...e.protection.details].join("\n\t\t")}\n\tExtension Scope:\n\t\t${e.release?.SYSEXT_SCOPE ?? "n/a"}\n\tExtension Compatibility Level:\n\t\t${e.release?.SYSEXT_LEVEL ?? "n/a"}`,
        );
      out.push(`Unit files:${names.map((n) => `\n\t${n}`).join("") || "\n\tn/a"}`);
      ctx.out(out.join("\n"));
    }
    for (const c of checks)
      if (!c.ok)
        ctx.warn(
          `Warning: ${c.what} is missing in '${path}'${c.createdAtRunTime ? " (created at run time only if the image is writable)" : ""}.`,
        );
    if (attach.state === "attached") {
      for (const w of attach.warnings) ctx.warn(`Warning: ${w}`);
      ctx.note(`Would attach: ${attach.units.join(" ")}`);
    } else {
      ctx.warn(`Would not attach: ${attach.reason ?? attach.state}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(`Failed to inspect '${arg}': ${unroot(e.message, ctx.opts.root)}`);
    throw e;
  } finally {
    for (const t of trees) t.close();
  }
}
