// Image arguments as the list stores them: an absolute path (a relative one is made absolute, as
// portablectl does), or a bare image name looked up in the portables directories at every boot.
// Under --root, a path typed with the tree in front is stored as the booted system will see it.
import { resolve } from "node:path";
import { isImageName } from "../config/attach-list.ts";
import type { Context } from "./context.ts";

export function imageArgument(ctx: Context, arg: string): string {
  if (!arg.includes("/") && isImageName(arg)) return arg;
  let path = resolve(arg);
  const root = ctx.opts.root;
  if (root !== "" && path.startsWith(root + "/")) path = path.slice(root.length);
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}
