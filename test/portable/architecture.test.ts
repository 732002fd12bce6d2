// Architecture names: the mapping table, $SYSTEMD_ARCHITECTURE precedence, and this machine
// against systemd's own answer (`systemd-analyze condition
// ConditionArchitecture=` evaluates uname_architecture()).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { hostArchitecture, systemdArchitecture } from "../../src/portable/architecture.ts";

describe("systemdArchitecture", () => {
  const cases: [string, "LE" | "BE", string][] = [
    ["x64", "LE", "x86-64"],
    ["ia32", "LE", "x86"],
    ["arm64", "LE", "arm64"],
    ["arm64", "BE", "arm64-be"],
    ["arm", "LE", "arm"],
    ["arm", "BE", "arm-be"],
    ["riscv64", "LE", "riscv64"],
    ["ppc64", "LE", "ppc64-le"],
    ["ppc64", "BE", "ppc64"],
    ["ppc", "BE", "ppc"],
    ["s390x", "BE", "s390x"],
    ["s390", "BE", "s390"],
    ["loong64", "LE", "loongarch64"],
    ["mipsel", "LE", "mips-le"],
    ["mips", "BE", "mips"],
    ["mips64el", "LE", "mips64-le"],
    ["mips64", "BE", "mips64"],
    ["wasm32", "LE", "wasm32"],
  ];
  for (const [arch, order, expected] of cases)
    it(`${arch}/${order} → ${expected}`, () => expect(systemdArchitecture(arch, order)).toBe(expected));
});

describe("hostArchitecture", () => {
  const cases: [Record<string, string | undefined>, string][] = [
    [{ SYSTEMD_ARCHITECTURE: "arm64" }, "arm64"],
    [{ SYSTEMD_ARCHITECTURE: "" }, "x86-64"],
    [{ SYSTEMD_ARCHITECTURE: undefined }, "x86-64"],
    [{}, "x86-64"],
  ];
  for (const [env, expected] of cases)
    it(`${JSON.stringify(env)} → ${expected}`, () => expect(hostArchitecture(env, "x64", "LE")).toBe(expected));
});

const haveCondition = spawnSync("systemd-analyze", ["condition", "ConditionPathExists=/"]).status === 0;
describe.skipIf(!haveCondition)("this machine", () => {
  it("matches systemd's ConditionArchitecture=", () => {
    const arch = hostArchitecture({});
    expect(spawnSync("systemd-analyze", ["condition", `ConditionArchitecture=${arch}`]).status).toBe(0);
    expect(spawnSync("systemd-analyze", ["condition", `ConditionArchitecture=!${arch}`]).status).not.toBe(0);
  });
});
