// 14. dm-verity at boot: a GPT image with root, root-verity and root-verity-sig partitions, signed by
//     a key whose certificate is in /etc/verity.d, is attached (ImagePolicy=signed); a copy with one
//     byte of its unit file changed is refused, with the reason in the status record and the journal.
//     The altered copy's entry sorts first, so without the check its unit would win app.service.
//     Only attach is checked: nspawn guests have no device-mapper, so systemd could not start a
//     service from a verity image here.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WORK } from "../lib/fixtures.mjs";
import { GEN_LOG } from "../lib/scenario.mjs";

const BUILD = new URL("../../helpers/verity-images.sh", import.meta.url).pathname;

export default {
  name: "14-verity",
  needs: ["generator", "raw"],
  spec: () => {
    const dir = join(WORK, "verity-images");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync(BUILD, [dir]);
    const bytes = readFileSync(join(dir, "signed.raw"));
    const at = bytes.indexOf("APP-UNIT-MARKER");
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    writeFileSync(join(dir, "tampered.raw"), bytes);
    return {
      files: {
        "var/lib/portables/signed.raw": { copyFile: join(dir, "signed.raw") },
        "var/lib/portables/tampered.raw": { copyFile: join(dir, "tampered.raw") },
        "etc/verity.d/e2e.crt": { copyFile: join(dir, "keys/trusted-rsa.crt") },
        "etc/portable-attach.conf": `[signed]
Image=/var/lib/portables/signed.raw
Prefixes=app
ImagePolicy=signed

[altered]
Image=/var/lib/portables/tampered.raw
Prefixes=app
`,
      },
      check: String.raw`
expect "app.service from the signed image is loaded" "$(prop app.service LoadState)" loaded
expect "app.service: RootImage= is the signed image" "$(prop app.service RootImage)" /var/lib/portables/signed.raw
expect_match "app.service is the signed image's unit" "$(systemctl cat app.service 2>/dev/null | grep Description=)" "APP-UNIT-MARKER"
st=/run/systemd/generator/.portable-attach-status.json
cp $st /run/out/ 2>/dev/null
state() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const e=s.entries.find(x=>x.name===process.argv[2]);console.log(e?e.state+" "+(e.reason??""):"absent")' $st $1; }
expect_match "status record: signed attached" "$(state signed)" "^attached"
expect_match "status record: altered refused, naming the image, partition and what failed" "$(state altered)" "^failed /var/lib/portables/tampered.raw \(partition 1 root-x86-64\): dm-verity check failed: data block [0-9]+ .*does not match its hash"
systemctl daemon-reload
log=$(${GEN_LOG})
echo "$log" >/run/out/generator.log
expect_match "the journal says why tampered was refused" "$(echo "$log" | grep -F tampered.raw)" "dm-verity check failed"
expect "the system is running, not degraded" "$(system_state)" running
`,
    };
  },
};
