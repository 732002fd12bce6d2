// portable-attach: the oneshot command. Parses argv and hands over to one small module per verb;
// everything a verb prints and every exit status goes through here (0 success, 1 failure or bad
// usage, as systemctl), so the policy is in one place.
import { attach } from "./attach.ts";
import { CliError, createContext, LOG_DEBUG, LOG_ERR, logLevel, type Context } from "./context.ts";
import { detach } from "./detach.ts";
import { setEnabled } from "./enable.ts";
import { inspect } from "./inspect.ts";
import { isAttached } from "./is-attached.ts";
import { list } from "./list.ts";
import { parseOptions, UsageError } from "./options.ts";
import { reattach } from "./reattach.ts";
import { reloadVerb } from "./reload.ts";
import { status } from "./status.ts";
import { VERSION } from "../version.ts";
import { strerror } from "../io/strerror.ts";
import { writeStderr, writeStdout } from "../io/stdio.ts";

// A Map, not an object literal: a verb such as "constructor" must not find Object.prototype's.
const VERBS = new Map<string, (ctx: Context) => number>([
  ["list", list],
  ["attach", attach],
  ["detach", detach],
  ["reattach", reattach],
  ["enable", (ctx) => setEnabled(ctx, true)],
  ["disable", (ctx) => setEnabled(ctx, false)],
  ["inspect", inspect],
  ["is-attached", isAttached],
  ["status", status],
  ["reload", reloadVerb],
]);

const HELP = `portable-attach [OPTIONS...] COMMAND ...

Attach portable service images declaratively: edits the attach list that
portable-attach-generator reads at every boot and daemon-reload.

Commands:
  list                        List every entry of every attach list
  attach IMAGE [PREFIX...]    Add or replace an entry (checked first), reload
  detach NAME|IMAGE           Remove an entry, reload
  reattach NAME|IMAGE [NEW-IMAGE]
                              Swap an entry's image (default: its newest
                              version), reload, restart what was running
  enable NAME|UNIT...         Enable an entry (Enable=yes) or units and
                              template instances (EnableUnits=), as
                              systemctl enable would (it refuses them)
  disable NAME|UNIT...        Undo enable
  inspect IMAGE [PREFIX...]   Show what attaching would do, and image fitness
  is-attached NAME|IMAGE      Print the entry's state; exit 1 if not attached
  status [NAME]               Show the generator's last outcome per entry
  reload                      daemon-reload (with --now: start enabled units)

Options:
  -h --help                   Show this help
     --version                Show package version
  -q --quiet                  Say only what went wrong
     --runtime                Edit /run/portable-attach.conf (gone at reboot)
     --root=DIR               Edit the lists below DIR; never talks to PID 1
     --no-reload              Do not run daemon-reload
     --now                    Start (attach, enable, reload), stop (detach,
                              disable) or start new units (reattach)
     --no-block               Do not wait for start jobs to finish
     --enable                 attach: write Enable=yes
     --force                  attach: write Force=yes (attach units that
                              exist on the host); inspect: relaxed
                              extension-release lookup
     --extension=IMAGE        Extension image (repeat, in layering order)
  -p --profile=PROFILE        Security profile (default: default)
     --name=NAME              Entry name (default: the image's base name)
     --cat                    inspect: show os-release and unit files
     --json=pretty|short|off  JSON output (list, inspect, status)
     --no-legend              Rows only: no table header, footer or reasons
     --no-pager               Accepted; output is never paged
     --no-ask-password        Accepted; nothing asks for a password
     --if-changed             reload: do nothing if the lists are as this
                              tool last reloaded them (for the path unit)

See the portable-attach(8) man page for details.`;

export function main(argv: string[], env: NodeJS.ProcessEnv): number {
  const level = logLevel(env);
  const error = (text: string) => {
    if (level >= LOG_ERR) writeStderr(text + "\n");
  };
  try {
    const opts = parseOptions(argv);
    if (opts.help) {
      writeStdout(HELP + "\n");
      return 0;
    }
    if (opts.version) {
      writeStdout(`portable-attach ${VERSION}\n`);
      return 0;
    }
    const verb = VERBS.get(opts.verb);
    if (!verb) throw new UsageError(`Unknown command verb '${opts.verb}'.`);
    return verb(createContext(opts, env));
  } catch (e) {
    if (e instanceof UsageError || (e instanceof CliError && e.status === 2)) {
      error(`${e.message}\nTry 'portable-attach --help' for more information.`);
      return 1;
    }
    if (e instanceof CliError) {
      error(e.message);
      return e.status;
    }
    // A bug or an unforeseen system error: the stack only for those who ask (SYSTEMD_LOG_LEVEL=debug).
    error(`Failed to run: ${strerror(e)}`);
    if (level >= LOG_DEBUG && e instanceof Error && e.stack) writeStderr(e.stack + "\n");
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2), process.env);
