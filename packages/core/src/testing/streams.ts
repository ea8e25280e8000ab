// Test scaffolding: what a stream gives, read to its end.

import type { Readable } from 'node:stream';

/** Everything `stream` gives, as text, once it ends (rejects if it errors). */
export function readText(stream: Readable): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.once('error', reject);
  });
}
