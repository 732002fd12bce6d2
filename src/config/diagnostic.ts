// A problem found in user input, with where it was found. Library code returns these; only the
// shells (generator, CLI) print them.

export interface Diagnostic {
  severity: "error" | "warning";
  /** The list file, or the image, the problem is in. */
  file: string;
  line?: number;
  /** The attachment (section) it concerns, if any. */
  entry?: string;
  message: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}${d.line !== undefined ? `:${d.line}` : ""}: ${d.message}`;
}
