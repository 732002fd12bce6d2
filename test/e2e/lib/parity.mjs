// Parity with `portablectl attach` (systemd 252): the same images attached by the real portablectl in
// one boot and by our generator in another; for every unit, the effective settings as systemd shows
// them must match, and so must the set of units and enablement links. The differences we keep on
// purpose are listed in KEPT, each with its reason.
import { readFileSync, readdirSync } from "node:fs";

const DUMP = readFileSync(new URL("../guest/dump.sh", import.meta.url), "utf8");

export const CASES = {
  dir: {
    args: ["/var/lib/portables/foo_1"],
    images: ["foo_1"],
    list: "[foo]\nImage=/var/lib/portables/foo_1\nProfile=default\nEnable=yes\n",
    units: ["foo.service", "foo.socket", "foo@.service", "foo-old.service"],
  },
  raw: {
    args: ["/var/lib/portables/bar_1.raw"],
    images: ["bar_1.raw"],
    list: "[bar]\nImage=/var/lib/portables/bar_1.raw\nProfile=default\nEnable=yes\n",
    units: ["bar.service"],
  },
  "dir-ext": {
    args: ["--extension=/var/lib/portables/foo-ext", "/var/lib/portables/foo_1"],
    images: ["foo_1", "foo-ext"],
    list: "[foo]\nImage=/var/lib/portables/foo_1\nExtensions=/var/lib/portables/foo-ext\nProfile=default\nEnable=yes\n",
    units: ["foo.service", "foo.socket", "foo@.service", "foo-old.service", "foo-ext.service"],
  },
  "raw-ext": {
    args: ["--extension=/var/lib/portables/bar-ext.raw", "/var/lib/portables/bar_1.raw"],
    images: ["bar_1.raw", "bar-ext.raw"],
    list: "[bar]\nImage=/var/lib/portables/bar_1.raw\nExtensions=/var/lib/portables/bar-ext.raw\nProfile=default\nEnable=yes\n",
    units: ["bar.service", "bar-ext.service"],
  },
};

/**
 * Differences between portablectl's attachment and ours that we keep on purpose. Each maps a property
 * to how the two values must relate, and why.
 */
export const KEPT = {
  FragmentPath: {
    why: "a generator writes into its output directory (/run/systemd/generator), portablectl into /etc/systemd/system.attached",
    same: (a, b) => swapDir(a) === b,
  },
  DropInPaths: {
    why: "same drop-ins (10-profile.conf, 20-portable.conf), in the generator's directory",
    same: (a, b) => swapDir(a) === b,
  },
  SourcePath: {
    why: "ours names the attach list the unit was generated from (SourcePath=), so `systemctl status` points at the file to edit; portablectl has none",
    same: (a, b) => a === "" && /^\/(etc|run|usr)\/.*portable-attach/.test(b),
  },
  RequiresMountsFor: {
    why: "ours adds RequiresMountsFor= every image path (root and extensions), so an image on a late file system is mounted first; systemd itself adds only the RootImage= path",
    same: (a, b) => words(a).every((w) => words(b).includes(w)),
  },
  UnitFileState: {
    why: "units in a generator directory are 'generated'; portablectl's attached units report 'disabled' in 252 (their enablement links live in system.attached)",
    same: (a, b) => b === "generated" || b === "static" || a === b,
  },
  ExecStart: {
    why: "start time and PID differ between boots; the command itself must be the same",
    same: (a, b) => execCmd(a) === execCmd(b),
  },
};
// Escaping (`%` doubled, refusing inexpressible paths) is a kept difference too, but no value in these
// images needs escaping, so both write the same text and it shows no difference here.

const swapDir = (v) => v.replaceAll("/etc/systemd/system.attached/", "/run/systemd/generator/");
const words = (v) => v.split(/\s+/).filter(Boolean);
const execCmd = (v) => v.replace(/ ; (start_time|stop_time|pid|code|status)=[^;]*/g, "");

/** Guest script: attach CASE with portablectl (enable, now), dump it to /run/out/NAME.txt, detach. */
export function portablectlScript(name) {
  const c = CASES[name];
  const image = c.args[c.args.length - 1];
  const ext = c.args.filter((x) => x.startsWith("--extension")).join(" ");
  const services = c.units.filter((u) => !u.includes("@."));
  return `
{
  echo "# portablectl $(portablectl --version | head -n 1 | tr -s ' ')  (Debian $(cat /etc/debian_version), package systemd-container $(dpkg-query -W -f='\${Version}' systemd-container))"
  echo "# command: portablectl attach --enable --now ${c.args.join(" ")}"
  echo
  echo "## portablectl output"
  portablectl attach --enable --now ${c.args.join(" ")} 2>&1; echo "(exit $?)"
  echo
  # portablectl enables after its own reload: reload once more so systemd shows the steady state
  # (WantedBy= and so on) that the next boot would have.
  systemctl daemon-reload
  for u in ${services.join(" ")}; do wait_state $u active 10 >/dev/null; done
  dump_tree /etc/systemd/system.attached
  echo "## ls -l /etc/portables"; ls -l /etc/portables 2>&1 | sed 1d | awk '{print $1, $9, $10, $11}'
  echo
  echo "## unitset"; (cd /etc/systemd/system.attached && find . -mindepth 1 -not -path '*.d/*' -not -type d | sed 's|^\\./||' | LC_ALL=C sort); echo
  dump_units ${c.units.join(" ")}
  for u in ${services.join(" ")}; do echo "## is-active $u: $(systemctl is-active $u)"; done
  echo
  echo "## service's view (journal)"; for u in ${services.filter((u) => u.endsWith(".service")).join(" ")}; do journalctl -q -b _SYSTEMD_INVOCATION_ID=$(systemctl show -P InvocationID $u) -o cat | grep E2E- ; done
} >/run/out/${name}.txt 2>&1
${services.map((u) => `check "${name}: ${u} active under portablectl" wait_state ${u} active 10`).join("\n")}
portablectl detach --enable --now ${ext} ${image} >/run/out/${name}.detach.txt 2>&1 || fail "${name}: portablectl detach"
systemctl daemon-reload
`;
}

/** Guest script: the same case through our attach list + daemon-reload, dumped the same way. */
export function oursScript(name) {
  const c = CASES[name];
  const services = c.units.filter((u) => !u.includes("@."));
  const prefixes = [...new Set(c.units.map((u) => u.replace(/[-.@].*/, "")))];
  const pattern = `^(.*\\.wants/)?(${prefixes.join("|")})([-.@]|$)`;
  return `
cat >/etc/portable-attach.conf <<'LIST'
${c.list}LIST
systemctl daemon-reload
systemctl start ${services.join(" ")}
for u in ${services.join(" ")}; do wait_state $u active 10 >/dev/null; done
{
  echo "# our generator: /etc/portable-attach.conf"; cat /etc/portable-attach.conf; echo
  dump_tree /run/systemd/generator
  echo "## unitset"; (cd /run/systemd/generator && find . -mindepth 1 -not -path '*.d/*' -not -type d | sed 's|^\\./||' | grep -E '${pattern}' | LC_ALL=C sort); echo
  dump_units ${c.units.join(" ")}
  for u in ${services.join(" ")}; do echo "## is-active $u: $(systemctl is-active $u)"; done
} >/run/out/${name}.txt 2>&1
${services.map((u) => `check "${name}: ${u} active under our generator" wait_state ${u} active 10`).join("\n")}
systemctl stop ${c.units.filter((u) => !u.includes("@.")).join(" ")}
: >/etc/portable-attach.conf
systemctl daemon-reload
`;
}

export const dumpLib = DUMP;

/** Parse a dump into { unitset: [...], units: { U: { prop: value } }, files: { path: text } }. */
export function parseDump(text) {
  const out = { unitset: [], units: {}, files: {} };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    let m;
    if (l === "## unitset") {
      for (i++; i < lines.length && lines[i] !== ""; i++) out.unitset.push(lines[i]);
    } else if ((m = /^## systemctl show (\S+)$/.exec(l))) {
      const props = {};
      for (i++; i < lines.length && lines[i] !== ""; i++) {
        const eq = lines[i].indexOf("=");
        if (eq > 0) props[lines[i].slice(0, eq)] = lines[i].slice(eq + 1);
        else props["(error)"] = lines[i];
      }
      out.units[m[1]] = props;
    } else if ((m = /^### (\S+)(?: -> (\S+))?$/.exec(l)) && l !== "### end") {
      const body = [];
      for (i++; i < lines.length && lines[i] !== "### end"; i++) body.push(lines[i]);
      out.files[m[1]] = { target: m[2] ?? null, text: body.join("\n") };
    }
  }
  return out;
}

/** Compare portablectl's dump with ours; returns a list of differences (empty: parity). */
export function compare(name, theirsText, oursText) {
  const theirs = parseDump(theirsText),
    ours = parseDump(oursText);
  const diffs = [];
  const set = (a) => a.map((x) => x.replace(/^\.\//, "")).join(" ");
  if (set(theirs.unitset) !== set(ours.unitset))
    diffs.push(
      `${name}: unit set differs:\n  portablectl: ${set(theirs.unitset)}\n  ours:        ${set(ours.unitset)}`,
    );
  if (Object.keys(theirs.units).length === 0) diffs.push(`${name}: no units in portablectl's dump`);
  for (const [unit, tp] of Object.entries(theirs.units)) {
    const op = ours.units[unit];
    if (!op) {
      diffs.push(`${name}: ${unit}: not shown for ours`);
      continue;
    }
    for (const prop of new Set([...Object.keys(tp), ...Object.keys(op)])) {
      const a = tp[prop] ?? "(absent)",
        b = op[prop] ?? "(absent)";
      const kept = KEPT[prop];
      if (kept ? !kept.same(a, b) : a !== b)
        diffs.push(`${name}: ${unit}: ${prop}=\n  portablectl: ${a}\n  ours:        ${b}`);
    }
  }
  // The drop-ins: same profile link target; same marker line and [Service] section text.
  for (const [path, f] of Object.entries(theirs.files)) {
    const oursPath = swapDir(path);
    const g = ours.files[oursPath];
    if (!g) {
      diffs.push(`${name}: ${oursPath}: missing in ours`);
      continue;
    }
    if (path.endsWith("/10-profile.conf")) {
      if (f.target !== g.target) diffs.push(`${name}: ${oursPath} links ${g.target}, portablectl ${f.target}`);
    } else if (path.endsWith("/20-portable.conf")) {
      const a = dropinCore(f.text),
        b = dropinCore(g.text);
      if (a !== b)
        diffs.push(`${name}: ${oursPath} differs (besides our [Unit] section):\n--- portablectl\n${a}\n--- ours\n${b}`);
    }
  }
  return diffs;
}

/**
 * A 20-portable.conf without our own [Unit] section (SourcePath=, RequiresMountsFor=) and the comment
 * lines right before it: kept on purpose. Blank lines are ignored.
 */
export function dropinCore(text) {
  const lines = text.split("\n");
  const out = [];
  let inUnit = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^\[.*\]$/.test(l)) {
      inUnit = l === "[Unit]";
      if (inUnit) while (out.length > 1 && /^(#.*|)$/.test(out[out.length - 1])) out.pop();
    }
    if (!inUnit) out.push(l);
  }
  // Blank lines carry no meaning; where our [Unit] section sat they would differ for no reason.
  return out.filter((l) => l !== "").join("\n");
}

/**
 * What the recorded portablectl (parity/portablectl-N/, N the newest recording not above `systemd`)
 * showed for a unit's property in a case: scenarios expect of ours what that version's portablectl does.
 */
export function recordedProp(systemd, name, unit, prop) {
  const dir = new URL("../parity/", import.meta.url);
  const versions = readdirSync(dir)
    .map((d) => /^portablectl-(\d+)$/.exec(d)?.[1])
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => b - a);
  const v = versions.find((x) => x <= systemd);
  if (v === undefined) throw new Error(`no portablectl recording for systemd ${systemd} or older`);
  const value = parseDump(readFileSync(new URL(`portablectl-${v}/${name}.txt`, dir), "utf8")).units[unit]?.[prop];
  if (value === undefined) throw new Error(`portablectl-${v}/${name}.txt shows no ${prop} for ${unit}`);
  return { value, version: v };
}
