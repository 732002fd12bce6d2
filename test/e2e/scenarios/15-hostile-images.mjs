// 15. Three small hostile images beside a good entry (test/hostile/README.md): 45,000 unit files,
//     8,000 unit symlinks through a 45-link chain of 200-deep paths, 150 identical 4 MiB units, each
//     an xz squashfs. Before the budgets one of them made the boot wait 90 s for the generator and
//     attached nothing; now the generator is done in seconds, the good entry runs, and the status
//     record and the journal name each bad image and its budget.
import { execFileSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WORK } from "../lib/fixtures.mjs";
import { portables, GEN_LOG } from "../lib/scenario.mjs";

const SYSTEM = "usr/lib/systemd/system";
const BAD = ["many", "chain", "dup"];

function squash(name, fill, extra = []) {
  const out = join(WORK, "hostile", `${name}_1.raw`);
  if (existsSync(out)) return out;
  const tree = join(WORK, "hostile", `${name}.tree`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, SYSTEM), { recursive: true });
  mkdirSync(join(tree, "etc"), { recursive: true });
  writeFileSync(join(tree, "etc/os-release"), "ID=debian\nVERSION_ID=12\n");
  fill(tree);
  execFileSync(
    "mksquashfs",
    [tree, `${out}.tmp`, "-comp", "xz", "-all-root", "-quiet", "-noappend", "-no-progress", ...extra],
    { stdio: "ignore" },
  );
  execFileSync("mv", [`${out}.tmp`, out]);
  rmSync(tree, { recursive: true, force: true });
  return out;
}

function images() {
  mkdirSync(join(WORK, "hostile"), { recursive: true });
  return {
    many: squash("many", (t) => {
      for (let i = 0; i < 45_000; i++)
        writeFileSync(join(t, SYSTEM, `many-${i}.service`), `[Service]\nExecStart=/bin/true ${i}\n`);
    }),
    chain: squash("chain", (t) => {
      const deep = Array.from({ length: 200 }, () => "d").join("/");
      mkdirSync(join(t, deep), { recursive: true });
      writeFileSync(join(t, "real.service"), "[Service]\nExecStart=/bin/true\n");
      for (let k = 0; k < 45; k++)
        symlinkSync(k === 44 ? "/real.service" : `/${deep}/l${k + 1}`, join(t, deep, `l${k}`));
      for (let i = 0; i < 8000; i++) symlinkSync(`/${deep}/l0`, join(t, SYSTEM, `chain-${i}.service`));
    }),
    dup: squash(
      "dup",
      (t) => {
        const head = "[Service]\nExecStart=/bin/true\n";
        writeFileSync(join(t, SYSTEM, "dup-0.service"), head + "#".repeat(4 * 1024 * 1024 - head.length - 1) + "\n");
        for (let i = 1; i < 150; i++) linkSync(join(t, SYSTEM, "dup-0.service"), join(t, SYSTEM, `dup-${i}.service`));
      },
      ["-no-hardlinks"],
    ),
  };
}

export default {
  name: "15-hostile-images",
  needs: ["generator"],
  spec: (ctx) => {
    const raws = images();
    const files = { ...portables(ctx, ["foo_1"]) };
    for (const n of BAD) files[`var/lib/portables/${n}_1.raw`] = { copyFile: raws[n] };
    files["etc/portable-attach.conf"] = [
      "[foo]",
      "Image=/var/lib/portables/foo_1",
      "Enable=yes",
      "",
      ...BAD.flatMap((n) => [`[${n}]`, `Image=/var/lib/portables/${n}_1.raw`, "Enable=yes", ""]),
    ].join("\n");
    const state = (e) =>
      `$(node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name===process.argv[2]);console.log(e?e.state+" "+(e.reason??""):"absent")' $st ${e})`;
    return {
      files,
      check: String.raw`
check "good entry foo: foo.service is active" wait_state foo.service active 15
expect "the system is running, not degraded" "$(system_state)" running
start=$(systemctl show -P GeneratorsStartTimestampMonotonic)
finish=$(systemctl show -P GeneratorsFinishTimestampMonotonic)
check "all generators together took $(( (finish - start) / 1000 )) ms, less than 15 s (once: killed at 90 s)" test $(( finish - start )) -lt 15000000
st=/run/systemd/generator/.portable-attach-status.json
cp $st /run/out/ 2>/dev/null
${BAD.map((n) => `expect_match "status record: entry '${n}' failed, over budget" "${state(n)}" "^failed Image '/var/lib/portables/${n}_1.raw' is over budget"`).join("\n")}
check "the output directory stays small (under 1 MiB)" test "$(du -sk /run/systemd/generator | cut -f1)" -lt 1024
systemctl daemon-reload
log=$(${GEN_LOG})
echo "$log" >/run/out/generator.log
${BAD.map((n) => `expect_match "the journal names entry '${n}' and its budget" "$(echo "$log" | grep -F '[${n}]')" "over budget"`).join("\n")}
`,
    };
  },
};
