// Lists every skipped test after the run, with its reason, so that no skip is silent: a test that
// cannot run here (not root, no loop devices in a container) says why in its name, as
// `… [skipped: REASON]` (see skipName()), or through ctx.skip(REASON). A skip with neither is
// counted apart as "without a reason": a test that should say why, or a tool the tests need that
// is missing (npm test installs or names them first: scripts/test-deps.mjs).
import { relative } from "node:path";
import type { Reporter, TestCase, TestModule } from "vitest/node";

const REASON = / \[skipped: (.+)\]$/;

export default class SkipReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>) {
    const groups = new Map<string, { count: number; reason: string | undefined }>();
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state !== "skipped" || t.options.mode === "todo") continue;
        const { where, reason } = describeSkip(t, r.note);
        const key = `${relative(process.cwd(), m.moduleId)} › ${where}`;
        const g = groups.get(key) ?? { count: 0, reason };
        g.count++;
        groups.set(key, g);
      }
    }
    if (groups.size === 0) return;
    const lines = [...groups].sort(([a], [b]) => a.localeCompare(b));
    const unexplained = lines.filter(([, g]) => g.reason === undefined).reduce((n, [, g]) => n + g.count, 0);
    const total = lines.reduce((n, [, g]) => n + g.count, 0);
    const out = [`\n Skipped ${total} test${total === 1 ? "" : "s"}:`];
    for (const [key, g] of lines)
      out.push(`   ${g.count.toString().padStart(3)}  ${key}: ${g.reason ?? "NO REASON GIVEN"}`);
    if (unexplained)
      out.push(` ${unexplained} skipped without a reason (see above): a missing tool? run node scripts/test-deps.mjs`);
    process.stdout.write(`${out.join("\n")}\n`);
  }
}

/** Where a skip was decided (the nearest suite or test with a reason), and the reason. */
function describeSkip(t: TestCase, note: string | undefined): { where: string; reason: string | undefined } {
  if (note) return { where: t.fullName, reason: note };
  // The test, then its suites outwards; the last is the outermost suite (or the test itself).
  const chain: { name: string }[] = [t];
  for (let s = t.parent; s.type === "suite"; s = s.parent) chain.push(s);
  for (const s of chain) {
    const m = REASON.exec(s.name);
    if (m) return { where: s.name.replace(REASON, ""), reason: m[1] };
  }
  // No reason: name the outermost suite, so that one skipped describe is one line.
  return { where: (chain[chain.length - 1] ?? t).name, reason: undefined };
}

/** A test or suite name that carries the reason it is skipped, when it is (for the summary above). */
export function skipName(name: string, reason: string | undefined): string {
  return reason ? `${name} [skipped: ${reason}]` : name;
}
