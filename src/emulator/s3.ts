import { createHash, randomBytes } from "node:crypto";
import type { S3Store, StoredObject } from "./s3Store.js";
import type { EmulatorRequestContext } from "./types.js";
import type { ReceivedRequest } from "./sigv4.js";
import { sendS3Error, sendXml, xmlEscape } from "./xml.js";

const NS = "http://s3.amazonaws.com/doc/2006-03-01/";
/** Every part but the last must be at least 5 MiB. */
const MIN_PART_BYTES = 5 * 1024 * 1024;

function split(path: string): { bucket: string; key: string } {
  const rest = path.replace(/^\//, "");
  const i = rest.indexOf("/");
  if (i < 0) return { bucket: decodeURIComponent(rest), key: "" };
  return { bucket: decodeURIComponent(rest.slice(0, i)), key: decodeURIComponent(rest.slice(i + 1)) };
}

const has = (r: ReceivedRequest, k: string): boolean => r.query[k] !== undefined;

/** The S3 operation a path-style REST request names. */
export function s3Operation(r: ReceivedRequest): string {
  const { bucket, key } = split(r.path);
  const m = r.method;
  if (!bucket) return m === "GET" ? "ListBuckets" : "Unknown";
  if (!key) {
    if (m === "PUT") return "CreateBucket";
    if (m === "HEAD") return "HeadBucket";
    if (m === "DELETE") return "DeleteBucket";
    if (m === "GET")
      return has(r, "location") ? "GetBucketLocation" : has(r, "list-type") ? "ListObjectsV2" : "ListObjects";
    return "Unknown";
  }
  if (m === "PUT") return has(r, "uploadId") ? "UploadPart" : "PutObject";
  if (m === "GET") return "GetObject";
  if (m === "HEAD") return "HeadObject";
  if (m === "DELETE") return has(r, "uploadId") ? "AbortMultipartUpload" : "DeleteObject";
  if (m === "POST")
    return has(r, "uploads") ? "CreateMultipartUpload" : has(r, "uploadId") ? "CompleteMultipartUpload" : "Unknown";
  return "Unknown";
}

/** Decodes an `aws-chunked` body (signed or unsigned chunks, optional trailers) into its payload. */
export function decodeAwsChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < body.length) {
    const eol = body.indexOf("\r\n", pos);
    if (eol < 0) break;
    const size = parseInt(body.subarray(pos, eol).toString("latin1").split(";")[0] as string, 16);
    pos = eol + 2;
    if (!Number.isFinite(size) || size === 0) break;
    out.push(body.subarray(pos, pos + size));
    pos += size + 2;
  }
  return Buffer.concat(out);
}

function payload(ctx: EmulatorRequestContext): Buffer {
  const sha = ctx.headers["x-amz-content-sha256"] ?? "";
  const chunked = sha.startsWith("STREAMING-") || (ctx.headers["content-encoding"] ?? "").includes("aws-chunked");
  return chunked ? decodeAwsChunked(ctx.body) : ctx.body;
}

const md5 = (b: Buffer): string => createHash("md5").update(b).digest("hex");
const iso = (d: Date): string => d.toISOString();

/** Answers the S3 subset: buckets, objects, listing and multipart upload. */
export function handleS3(ctx: EmulatorRequestContext, store: S3Store): void {
  const { res } = ctx;
  const method = ctx.req.method ?? "GET";
  const { bucket, key } = split(ctx.url.pathname);
  const q = (k: string): string | undefined => {
    const v = ctx.query[k];
    return Array.isArray(v) ? v[0] : (v ?? undefined);
  };
  const err = (status: number, code: string, message: string, extra: Record<string, string> = {}): void =>
    sendS3Error(res, status, code, message, extra, method);
  const noBucket = (): void => err(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: bucket });
  const noUpload = (uploadId: string): void =>
    err(
      404,
      "NoSuchUpload",
      "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
      { UploadId: uploadId },
    );
  const b = store.buckets.get(bucket);

  switch (ctx.operation) {
    case "ListBuckets": {
      const list = [...store.buckets.entries()]
        .map(
          ([name, v]) =>
            `<Bucket><Name>${xmlEscape(name)}</Name><CreationDate>${iso(v.created)}</CreationDate></Bucket>`,
        )
        .join("");
      sendXml(
        res,
        200,
        `<ListAllMyBucketsResult xmlns="${NS}"><Owner><ID>emulator</ID><DisplayName>emulator</DisplayName></Owner><Buckets>${list}</Buckets></ListAllMyBucketsResult>`,
      );
      return;
    }
    case "CreateBucket":
      if (!b) store.buckets.set(bucket, { created: new Date(ctx.now()), objects: new Map() });
      res.writeHead(200, { location: `/${bucket}`, "content-length": "0" }).end();
      return;
    case "HeadBucket":
      if (!b) return noBucket();
      res.writeHead(200, { "x-amz-bucket-region": ctx.emulator.region }).end();
      return;
    case "DeleteBucket":
      if (!b) return noBucket();
      store.buckets.delete(bucket);
      res.writeHead(204).end();
      return;
    case "GetBucketLocation":
      if (!b) return noBucket();
      sendXml(
        res,
        200,
        `<LocationConstraint xmlns="${NS}">${ctx.emulator.region === "us-east-1" ? "" : ctx.emulator.region}</LocationConstraint>`,
      );
      return;
    case "ListObjects":
    case "ListObjectsV2": {
      if (!b) return noBucket();
      const v2 = ctx.operation === "ListObjectsV2";
      const prefix = q("prefix") ?? "";
      const delimiter = q("delimiter");
      const maxKeys = Math.min(Number(q("max-keys") ?? 1000) || 1000, 1000);
      const after = (v2 ? (q("continuation-token") ?? q("start-after")) : q("marker")) ?? "";
      const keys = [...b.objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
      const contents: string[] = [];
      const prefixes = new Set<string>();
      let last = "";
      let truncated = false;
      for (const k of keys) {
        if (contents.length + prefixes.size >= maxKeys) {
          truncated = true;
          break;
        }
        last = k;
        if (delimiter) {
          const i = k.indexOf(delimiter, prefix.length);
          if (i >= 0) {
            prefixes.add(k.slice(0, i + delimiter.length));
            continue;
          }
        }
        const o = b.objects.get(k) as StoredObject;
        contents.push(
          `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${iso(o.lastModified)}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        );
      }
      const cp = [...prefixes].map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join("");
      const paging = v2
        ? `<KeyCount>${contents.length + prefixes.size}</KeyCount>${truncated ? `<NextContinuationToken>${xmlEscape(last)}</NextContinuationToken>` : ""}`
        : truncated
          ? `<NextMarker>${xmlEscape(last)}</NextMarker>`
          : "";
      sendXml(
        res,
        200,
        `<ListBucketResult xmlns="${NS}"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>` +
          `${delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : ""}<MaxKeys>${maxKeys}</MaxKeys>${paging}` +
          `<IsTruncated>${truncated}</IsTruncated>${contents.join("")}${cp}</ListBucketResult>`,
      );
      return;
    }
    case "PutObject": {
      if (!b) return noBucket();
      const data = payload(ctx);
      const etag = md5(data);
      b.objects.set(key, {
        body: data,
        etag,
        lastModified: new Date(ctx.now()),
        contentType: ctx.headers["content-type"] ?? "binary/octet-stream",
      });
      res.writeHead(200, { etag: `"${etag}"`, "content-length": "0" }).end();
      return;
    }
    case "GetObject":
    case "HeadObject": {
      if (!b) return noBucket();
      const o = b.objects.get(key);
      if (!o) return err(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      res.writeHead(200, {
        "content-type": o.contentType,
        "content-length": String(o.body.length),
        etag: `"${o.etag}"`,
        "last-modified": o.lastModified.toUTCString(),
        "accept-ranges": "bytes",
      });
      res.end(ctx.operation === "GetObject" ? o.body : undefined);
      return;
    }
    case "DeleteObject":
      if (!b) return noBucket();
      b.objects.delete(key);
      res.writeHead(204).end();
      return;
    case "CreateMultipartUpload": {
      if (!b) return noBucket();
      const uploadId = randomBytes(24).toString("base64url");
      store.uploads.set(uploadId, { bucket, key, parts: new Map() });
      sendXml(
        res,
        200,
        `<InitiateMultipartUploadResult xmlns="${NS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
      );
      return;
    }
    case "UploadPart": {
      const up = store.uploads.get(q("uploadId") ?? "");
      if (!up || up.bucket !== bucket || up.key !== key) return noUpload(q("uploadId") ?? "");
      const n = Number(q("partNumber"));
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        return err(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
      const data = payload(ctx);
      const etag = md5(data);
      up.parts.set(n, { body: data, etag });
      res.writeHead(200, { etag: `"${etag}"`, "content-length": "0" }).end();
      return;
    }
    case "CompleteMultipartUpload": {
      const uploadId = q("uploadId") ?? "";
      const up = store.uploads.get(uploadId);
      if (!up || up.bucket !== bucket || up.key !== key) return noUpload(uploadId);
      const xml = ctx.body.toString("utf8");
      const listed = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
        n: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1] ?? "")?.[1]),
        etag: /<ETag>([\s\S]*?)<\/ETag>/
          .exec(m[1] ?? "")?.[1]
          ?.replace(/&quot;|&#34;|"/g, "")
          .trim(),
      }));
      if (listed.length === 0 || listed.some((p) => !Number.isInteger(p.n))) {
        return err(
          400,
          "MalformedXML",
          "The XML you provided was not well-formed or did not validate against our published schema",
        );
      }
      // S3 checks the list's order first, then that each part exists with that ETag, then the part sizes.
      if (listed.some((p, i) => i > 0 && p.n <= (listed[i - 1] as { n: number }).n)) {
        return err(
          400,
          "InvalidPartOrder",
          "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        );
      }
      const found: { n: number; body: Buffer; etag: string }[] = [];
      for (const { n, etag } of listed) {
        const p = up.parts.get(n);
        if (!p || (etag !== undefined && etag !== p.etag)) {
          return err(
            400,
            "InvalidPart",
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
            { UploadId: uploadId, PartNumber: String(n), ...(etag !== undefined ? { ETag: etag } : {}) },
          );
        }
        found.push({ n, ...p });
      }
      const small = found.slice(0, -1).find((p) => p.body.length < MIN_PART_BYTES);
      if (small) {
        return err(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", {
          ProposedSize: String(small.body.length),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(small.n),
          ETag: small.etag,
        });
      }
      const parts = found.map((p) => p.body);
      const digests = found.map((p) => Buffer.from(p.etag, "hex"));
      const target = store.buckets.get(up.bucket);
      if (!target) return noBucket();
      const etag = `${md5(Buffer.concat(digests))}-${listed.length}`;
      target.objects.set(up.key, {
        body: Buffer.concat(parts),
        etag,
        lastModified: new Date(ctx.now()),
        contentType: "binary/octet-stream",
      });
      store.uploads.delete(uploadId);
      sendXml(
        res,
        200,
        `<CompleteMultipartUploadResult xmlns="${NS}"><Location>${xmlEscape(`${ctx.emulator.url}/${up.bucket}/${up.key}`)}</Location><Bucket>${xmlEscape(up.bucket)}</Bucket><Key>${xmlEscape(up.key)}</Key><ETag>&quot;${etag}&quot;</ETag></CompleteMultipartUploadResult>`,
      );
      return;
    }
    case "AbortMultipartUpload": {
      const uploadId = q("uploadId") ?? "";
      const up = store.uploads.get(uploadId);
      if (!up || up.bucket !== bucket || up.key !== key) return noUpload(uploadId);
      store.uploads.delete(uploadId);
      res.writeHead(204).end();
      return;
    }
    default:
      err(501, "NotImplemented", `The emulator does not implement ${method} ${ctx.url.pathname}${ctx.url.search}`);
  }
}
