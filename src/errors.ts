/** Every error tunekit raises on purpose: a stable code plus a message naming the file, line or field at fault. */
export class TunekitError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TunekitError';
    this.code = code;
  }
}
