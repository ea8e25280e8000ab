// A self-signed certificate for 127.0.0.1 and localhost, made at test time (never checked in) for HTTPS
// gateways and HTTPS upstreams. One per test file is enough, so it is made once and shared.

import { generate } from 'selfsigned';

export interface PemPair {
  key: string;
  cert: string;
}

let pending: Promise<PemPair> | undefined;

/** A key and certificate valid for https://127.0.0.1 and https://localhost; pass `cert` as a client's `ca`. */
export function makeSelfSignedCert(): Promise<PemPair> {
  pending ??= generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return pending;
}
