// The signature of a platform image: base64 of an ASN.1 (DER) ECDSA P-256 signature over the SHA-256
// of the image's provider id, as the region's platformImages.publicKey verifies it. The same bytes
// (up to ECDSA's randomness) as `printf %s <id> | openssl dgst -sha256 -sign key.pem | base64 -w0`.
// Usage: scripts/sign-image <private-key.pem> <provider-id>; attach the output with setImageSignature.
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [keyFile, providerId] = process.argv.slice(2);
if (!keyFile || !providerId) {
  process.stderr.write('usage: scripts/sign-image <private-key.pem> <provider-id>\n');
  process.exit(2);
}
const key = createPrivateKey(readFileSync(keyFile));
if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
  process.stderr.write(`${keyFile} is not an ECDSA P-256 private key\n`);
  process.exit(1);
}
process.stdout.write(`${sign('sha256', Buffer.from(providerId, 'utf8'), key).toString('base64')}\n`);
