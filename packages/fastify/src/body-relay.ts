// The request body as handed to one upstream attempt. undici destroys a stream body when the connection
// fails, and destroying the client's own IncomingMessage resets the client's socket; so undici gets this
// relay instead, which starts reading the client's stream only when undici starts sending. A connection
// refused before that leaves the body untouched: the core may retry the request on another backend, and
// otherwise the client still gets a clean 502.

import { Readable } from 'node:stream';

export class BodyRelay extends Readable {
  /** Some of the body went to the upstream: the request cannot be replayed. */
  started = false;
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (error: Error) => this.destroy(error);

  constructor(private readonly source: Readable) {
    super();
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.source.on('data', this.onData).once('end', this.onEnd).once('error', this.onError);
    }
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.source.off('data', this.onData).off('end', this.onEnd).off('error', this.onError);
    callback(error);
  }
}
