export interface StoredObject {
  body: Buffer;
  etag: string;
  lastModified: Date;
  contentType: string;
}

export interface Upload {
  bucket: string;
  key: string;
  parts: Map<number, { body: Buffer; etag: string }>;
}

/** The emulator's in-memory buckets, objects and multipart uploads. */
export class S3Store {
  readonly buckets = new Map<string, { created: Date; objects: Map<string, StoredObject> }>();
  readonly uploads = new Map<string, Upload>();

  /** An object's content, for tests. */
  object(bucket: string, key: string): Buffer | undefined {
    return this.buckets.get(bucket)?.objects.get(key)?.body;
  }
}
