// 2. Raw images: squashfs (naked), erofs in a GPT disk image (DPS root partition), ext4 (naked):
//    each entry's service is active after boot, running from its image through RootImage=.
import { portables } from "../lib/scenario.mjs";

const IMAGES = { bar: "bar_1.raw", baz: "baz_1.raw", qux: "qux_1.raw" };
const KIND = { bar: "squashfs", baz: "erofs in GPT", qux: "ext4" };

export default {
  name: "02-raw-images",
  needs: ["generator", "raw"],
  spec: (ctx) => ({
    files: {
      ...portables(ctx, Object.values(IMAGES)),
      "etc/portable-attach.conf": Object.entries(IMAGES)
        .map(([n, img]) => `[${n}]\nImage=/var/lib/portables/${img}\nEnable=yes\n`)
        .join("\n"),
    },
    check:
      Object.entries(IMAGES)
        .map(
          ([n, img]) => `
# ${KIND[n]}
check "${n}.service (${KIND[n]}) is active after boot" wait_state ${n}.service active 15
expect "${n}.service: RootImage=" "$(prop ${n}.service RootImage)" /var/lib/portables/${img}
expect "${n}.service: RootDirectory= unset" "$(prop ${n}.service RootDirectory)" ""
expect "${n}.service: default profile" "$(prop ${n}.service DynamicUser)" yes
l=$(wait_log ${n}.service "^E2E-PROBE name=${n} " 10); expect_match "${n}.service runs its image's program (${KIND[n]})" "$l" "^E2E-PROBE name=${n} portable=${img} uid=[1-9]"
l=$(wait_log ${n}.service "^E2E-WRITE ${n} " 10); expect "${n}.service: its image is read-only" "$l" "E2E-WRITE ${n} usr=readonly"
`,
        )
        .join("") +
      `
expect "the system is running (not degraded)" "$(system_state)" running
`,
  }),
};
