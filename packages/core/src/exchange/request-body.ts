// A request body that can be sent again. An attempt that fails before the backend answered may be retried
// on another backend (see FailoverPolicy), and the bytes the failed attempt took from the client are gone
// from the client's stream: so every byte handed to an attempt is also kept, up to a bound (Envoy's retry
// buffer; 1 MiB by default), and each attempt gets a stream of its own that replays what was kept and then
// goes on with what the client still sends. Past the bound the copy is dropped and the body can no longer be
// replayed: a failure then answers 502. Once the upstream answered, the copy is dropped as well.
//
// An engine may destroy the stream it was given (undici does when a connection fails): that detaches it
// and never touches the client's own stream, whose destruction would reset the client's connection.

import { Readable } from 'node:stream';

/** How many bytes of a request body are kept for a retry (Envoy's `per_request_buffer_limit_bytes` is 1 MiB). */
export const DEFAULT_RETRY_BUFFER_BYTES = 1024 * 1024;

export class RequestBody {
  /** Every byte handed to an attempt so far, while under the bound. */
  private chunks: Buffer[] | null = [];
  private kept = 0;
  /** The attempt now reading the client's stream. */
  private live: AttemptBody | null = null;
  private listening = false;
  private ended = false;
  private failure: Error | null = null;

  constructor(
    private readonly source: Readable,
    private readonly limit = DEFAULT_RETRY_BUFFER_BYTES,
  ) {}

  /** Some of the body went to an attempt. */
  get started(): boolean {
    return this.kept > 0;
  }

  /** The body can be sent again from its first byte. */
  get replayable(): boolean {
    return this.chunks !== null;
  }

  /** The client sent the whole body. */
  get complete(): boolean {
    return this.ended;
  }

  /** The client's own stream broke (an upload cut short): a failure that is not the upstream's. */
  get broken(): boolean {
    return this.failure !== null;
  }

  /** A stream for the next attempt: what earlier attempts took, then the rest of the client's body. */
  attempt(): Readable {
    if (this.chunks === null && this.kept > 0)
      throw new Error('stickyroute: the request body can no longer be replayed');
    this.live?.detach();
    const body = new AttemptBody(this);
    this.live = body;
    return body;
  }

  /** The upstream answered: no retry will need the copy. */
  release(): void {
    this.chunks = null;
  }

  /** @internal the attempt's `_read`: replay first, then read the client. */
  read(body: AttemptBody): void {
    if (body !== this.live) return;
    const chunks = this.chunks;
    while (chunks !== null && body.replayed < chunks.length) {
      if (!body.push(chunks[body.replayed++])) return;
    }
    if (this.failure !== null) return void body.destroy(this.failure);
    if (this.ended) return void body.push(null);
    if (!this.listening) {
      this.listening = true;
      this.source.on('data', this.onData).once('end', this.onEnd).once('error', this.onError);
    }
    this.source.resume();
  }

  /** @internal an attempt let go of the client's stream. */
  detached(body: AttemptBody): void {
    if (body === this.live) {
      this.live = null;
      this.source.pause();
    }
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.chunks !== null) {
      this.kept += bytes.length;
      if (this.kept > this.limit) this.chunks = null;
      else this.chunks.push(bytes);
    } else this.kept += bytes.length;
    const live = this.live;
    if (live === null) return void this.source.pause();
    // Replayed along with what this attempt already got: counted as read.
    if (this.chunks !== null) live.replayed = this.chunks.length;
    if (!live.push(bytes)) this.source.pause();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.live?.push(null);
  };

  private readonly onError = (error: Error): void => {
    this.failure = error;
    this.live?.destroy(error);
  };
}

/** One attempt's view of the body. */
class AttemptBody extends Readable {
  /** How many kept chunks this attempt has been given. */
  replayed = 0;

  constructor(private readonly body: RequestBody) {
    super();
  }

  override _read(): void {
    this.body.read(this);
  }

  detach(): void {
    this.body.detached(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.body.detached(this);
    callback(error);
  }
}
