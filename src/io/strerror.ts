// Error text as systemd prints it ("Failed to …: %m"): the C library's strerror() text for a failed
// system call, never Node's "EEXIST: file already exists, mkdir '…'" (which repeats the path in
// libuv's words). glibc's texts for the errors file operations give; for another code, libuv's text.
const TEXT: Record<string, string> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  EBADF: "Bad file descriptor",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  EXDEV: "Invalid cross-device link",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ETXTBSY: "Text file busy",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  EMLINK: "Too many links",
  ENAMETOOLONG: "File name too long",
  ENOTEMPTY: "Directory not empty",
  ELOOP: "Too many levels of symbolic links",
  EOVERFLOW: "Value too large for defined data type",
  EDQUOT: "Disk quota exceeded",
  ETIMEDOUT: "Connection timed out",
  ECONNREFUSED: "Connection refused",
};

/** The strerror() text of a Node system error; any other error's own message. */
export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof code !== "string" || !/^E[A-Z0-9]+$/.test(code)) return message;
  const text = TEXT[code];
  if (text) return text;
  // "ECODE: libuv's text, syscall 'path'" → libuv's text, capitalised as glibc's are.
  const m = /^E[A-Z0-9]+: ([^,]+)/.exec(message);
  return m?.[1] ? m[1].charAt(0).toUpperCase() + m[1].slice(1) : code;
}
