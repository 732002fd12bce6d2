import { ImageError } from "../../src/image/types.ts";

/** Runs fn and returns the ImageError it throws, or undefined if it returns; any other throw fails the test. */
export function imageError(fn: () => unknown): ImageError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof ImageError)) throw e;
    return e;
  }
}
