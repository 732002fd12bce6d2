// 3. A root plus an extension: the unit shipped by the extension runs, and sees the extension's files
//    layered over the root; units from the root image run without the extension (as portablectl does).
//    Directory root + directory extension always; squashfs root + squashfs extension with raw readers.
import { portables } from "../lib/scenario.mjs";
import { recordedProp } from "../lib/parity.mjs";

// Whether a unit of the root image gets the extensions differs by version (262 gives them, 252 and
// 257 do not): expect what the guest's portablectl was recorded to do.
const rootUnitExt = (ctx, name, unit, prop) => {
  const r = recordedProp(ctx.guest.systemd, name, unit, prop);
  return `expect "${unit}: ${prop}= for a unit of the root image as portablectl ${r.version} gives it" "$(prop ${unit} ${prop})" "${r.value}"`;
};

const dirCheck = (ctx) => String.raw`
check "foo-ext.service (shipped by the extension) is active" wait_state foo-ext.service active 15
check "foo.service (from the root image) is active" wait_state foo.service active 15
expect "foo-ext.service: RootDirectory= is the root image" "$(prop foo-ext.service RootDirectory)" /var/lib/portables/foo_1
expect "foo-ext.service: ExtensionDirectories=" "$(prop foo-ext.service ExtensionDirectories)" /var/lib/portables/foo-ext
${rootUnitExt(ctx, "dir-ext", "foo.service", "ExtensionDirectories")}
l=$(wait_log foo-ext.service "^E2E-MARKER foo-ext " 10); expect "foo-ext.service sees the extension's files" "$l" "E2E-MARKER foo-ext /usr/share/foo-ext/marker=from-foo-ext"
l=$(wait_log foo-ext.service "^E2E-PROBE name=foo-ext " 10); expect_match "foo-ext.service runs the root image's program (busybox from the root)" "$l" "^E2E-PROBE name=foo-ext portable=foo-ext uid=[1-9]"
`;
const rawCheck = (ctx) => String.raw`
check "bar-ext.service (shipped by the raw extension) is active" wait_state bar-ext.service active 15
check "bar.service (from the raw root) is active" wait_state bar.service active 15
expect "bar-ext.service: RootImage=" "$(prop bar-ext.service RootImage)" /var/lib/portables/bar_1.raw
expect "bar-ext.service: ExtensionImages=" "$(prop bar-ext.service ExtensionImages)" /var/lib/portables/bar-ext.raw
${rootUnitExt(ctx, "raw-ext", "bar.service", "ExtensionImages")}
l=$(wait_log bar-ext.service "^E2E-MARKER bar-ext " 10); expect "bar-ext.service sees the extension's files" "$l" "E2E-MARKER bar-ext /usr/share/bar-ext/marker=from-bar-ext"
`;

export default [
  {
    name: "03a-extension-directory",
    needs: ["generator"],
    spec: (ctx) => ({
      files: {
        ...portables(ctx, ["foo_1", "foo-ext"]),
        "etc/portable-attach.conf":
          "[foo]\nImage=/var/lib/portables/foo_1\nExtensions=/var/lib/portables/foo-ext\nEnable=yes\n",
      },
      check: dirCheck(ctx) + `\nexpect "the system is running (not degraded)" "$(system_state)" running\n`,
    }),
  },
  {
    name: "03b-extension-raw",
    needs: ["generator", "raw"],
    spec: (ctx) => ({
      files: {
        ...portables(ctx, ["bar_1.raw", "bar-ext.raw"]),
        "etc/portable-attach.conf":
          "[bar]\nImage=/var/lib/portables/bar_1.raw\nExtensions=/var/lib/portables/bar-ext.raw\nEnable=yes\n",
      },
      check: rawCheck(ctx) + `\nexpect "the system is running (not degraded)" "$(system_state)" running\n`,
    }),
  },
];
