// The PKCS#7 / CMS SignedData that signs a dm-verity root hash (RFC 5652), as systemd-repart and
// `openssl cms -sign -noattr -binary -outform DER` make it: detached content (the root hash as
// lower-case hex text), one SignerInfo. Only the fields needed to check the signature are parsed,
// with a bounded DER reader: every length is checked against its parent, no indefinite lengths,
// no high tag numbers, a cap on elements. The RSA/ECDSA check itself is node:crypto's.
import { createHash, verify, type X509Certificate } from "node:crypto";

export class DerError extends Error {}

/** Largest signature blob we parse. Real ones are 0.3–8 KiB. */
export const MAX_PKCS7_BYTES = 64 * 1024;
const MAX_ELEMENTS = 256;

interface Tlv {
  tag: number;
  /** Offset of the first content byte, and one past the last. */
  start: number;
  end: number;
  /** The whole element (header and content). */
  whole: Uint8Array;
}

function tlvAt(buf: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new DerError(`element at ${offset} runs past its container`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag number at ${offset}`);
  let len = buf[offset + 1] as number;
  let start = offset + 2;
  if (len === 0x80) throw new DerError(`indefinite length at ${offset}`);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 3 || start + n > limit) throw new DerError(`length of ${n} bytes at ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError(`element at ${offset} (${len} bytes) runs past its container`);
  return { tag, start, end, whole: buf.subarray(offset, end) };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError(`element with tag 0x${parent.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    if (out.length >= MAX_ELEMENTS) throw new DerError("too many elements");
    const t = tlvAt(buf, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag)
    throw new DerError(
      `${what}: expected tag 0x${tag.toString(16)}, found ${t ? `0x${t.tag.toString(16)}` : "nothing"}`,
    );
  return t;
}

const oidHex = (buf: Uint8Array, t: Tlv): string => Buffer.from(buf.subarray(t.start, t.end)).toString("hex");
const content = (buf: Uint8Array, t: Tlv): Uint8Array => buf.subarray(t.start, t.end);

const OID_SIGNED_DATA = "2a864886f70d010702";
const OID_DATA = "2a864886f70d010701";
const OID_CONTENT_TYPE = "2a864886f70d010903";
const OID_MESSAGE_DIGEST = "2a864886f70d010904";
const DIGESTS: Record<string, string> = {
  "608648016503040201": "sha256",
  "608648016503040202": "sha384",
  "608648016503040203": "sha512",
  "608648016503040204": "sha224",
};
/** Signature algorithms → family (the digest comes from digestAlgorithm, as in CMS). */
const SIGNATURES: Record<string, "rsa" | "ec"> = {
  "2a864886f70d010101": "rsa",
  "2a864886f70d01010b": "rsa",
  "2a864886f70d01010c": "rsa",
  "2a864886f70d01010d": "rsa",
  "2a864886f70d01010e": "rsa",
  "2a8648ce3d040301": "ec",
  "2a8648ce3d040302": "ec",
  "2a8648ce3d040303": "ec",
  "2a8648ce3d040304": "ec",
};

export interface SignerInfo {
  digest: string;
  family: "rsa" | "ec";
  signature: Uint8Array;
  /** DER of the signed attributes re-tagged as a SET (what is signed when they are present). */
  signedAttributes?: Uint8Array;
  /** messageDigest from the signed attributes. */
  messageDigest?: Uint8Array;
  /** Content carried inside the message (usually absent: detached). */
  embedded?: Uint8Array;
}

/** Parses a DER ContentInfo holding SignedData with exactly one signer. Throws DerError. */
export function parsePkcs7(der: Uint8Array): SignerInfo {
  if (der.length > MAX_PKCS7_BYTES) throw new DerError(`${der.length} bytes is larger than ${MAX_PKCS7_BYTES}`);
  const top = expect(tlvAt(der, 0, der.length), 0x30, "ContentInfo");
  if (top.end !== der.length) throw new DerError("trailing bytes after ContentInfo");
  const [type, wrapped] = children(der, top);
  if (oidHex(der, expect(type, 0x06, "contentType")) !== OID_SIGNED_DATA) throw new DerError("not SignedData");
  const sd = expect(children(der, expect(wrapped, 0xa0, "content"))[0], 0x30, "SignedData");
  const parts = children(der, sd);
  expect(parts[0], 0x02, "SignedData version");
  expect(parts[1], 0x31, "digestAlgorithms");
  const encap = children(der, expect(parts[2], 0x30, "encapContentInfo"));
  if (oidHex(der, expect(encap[0], 0x06, "eContentType")) !== OID_DATA)
    throw new DerError("signed content is not id-data");
  let embedded: Uint8Array | undefined;
  if (encap[1]) embedded = content(der, expect(children(der, expect(encap[1], 0xa0, "eContent"))[0], 0x04, "eContent"));
  const signerSet = parts[parts.length - 1];
  const signers = children(der, expect(signerSet, 0x31, "signerInfos"));
  if (signers.length !== 1) throw new DerError(`${signers.length} signers, expected exactly one`);
  const si = children(der, expect(signers[0], 0x30, "SignerInfo"));
  expect(si[0], 0x02, "SignerInfo version");
  if (!si[1] || (si[1].tag !== 0x30 && si[1].tag !== 0x80)) throw new DerError("SignerInfo: bad signer identifier");
  const digestOid = oidHex(
    der,
    expect(children(der, expect(si[2], 0x30, "digestAlgorithm"))[0], 0x06, "digestAlgorithm"),
  );
  const digest = DIGESTS[digestOid];
  if (!digest) throw new DerError(`digest algorithm ${digestOid} is not supported (sha224/256/384/512)`);
  let k = 3;
  let signedAttributes: Uint8Array | undefined;
  let messageDigest: Uint8Array | undefined;
  if (si[k]?.tag === 0xa0) {
    const attrs = si[k] as Tlv;
    signedAttributes = Uint8Array.from(attrs.whole);
    signedAttributes[0] = 0x31;
    let contentTypeOk = false;
    for (const a of children(der, attrs)) {
      const [oid, values] = children(der, expect(a, 0x30, "Attribute"));
      const id = oidHex(der, expect(oid, 0x06, "attribute type"));
      const value = children(der, expect(values, 0x31, "attribute values"))[0];
      if (id === OID_MESSAGE_DIGEST) messageDigest = content(der, expect(value, 0x04, "messageDigest"));
      if (id === OID_CONTENT_TYPE) contentTypeOk = oidHex(der, expect(value, 0x06, "contentType")) === OID_DATA;
    }
    if (!messageDigest || !contentTypeOk)
      throw new DerError("signed attributes lack messageDigest or contentType id-data");
    k++;
  }
  const sigOid = oidHex(
    der,
    expect(children(der, expect(si[k], 0x30, "signatureAlgorithm"))[0], 0x06, "signatureAlgorithm"),
  );
  const family = SIGNATURES[sigOid];
  if (!family) throw new DerError(`signature algorithm ${sigOid} is not supported (RSA PKCS#1 v1.5, ECDSA)`);
  const signature = content(der, expect(si[k + 1], 0x04, "signature"));
  return {
    digest,
    family,
    signature,
    ...(signedAttributes && { signedAttributes }),
    ...(messageDigest && { messageDigest }),
    ...(embedded && { embedded }),
  };
}

/** The first certificate whose key made `signer`'s signature over `data`, or undefined. */
export function findSigner(
  signer: SignerInfo,
  data: Uint8Array,
  certificates: readonly X509Certificate[],
): X509Certificate | undefined {
  if (signer.embedded && Buffer.compare(signer.embedded, data) !== 0) return undefined;
  let signed = data;
  if (signer.signedAttributes) {
    if (Buffer.compare(createHash(signer.digest).update(data).digest(), signer.messageDigest as Uint8Array) !== 0)
      return undefined;
    signed = signer.signedAttributes;
  }
  for (const cert of certificates) {
    const key = cert.publicKey;
    if ((signer.family === "rsa") !== (key.asymmetricKeyType === "rsa")) continue;
    if (signer.family === "ec" && key.asymmetricKeyType !== "ec") continue;
    try {
      if (verify(signer.digest, signed, key, signer.signature)) return cert;
    } catch {
      // A malformed signature for this key type: not this signer.
    }
  }
  return undefined;
}
