// Verifies a DeviceResponse made by openjpki's wallet with auth0-lab's mdl (an independent, maintained
// mdoc implementation from npm), for an OpenID4VP request (direct_post, unsigned client id).
// The SessionTranscript is rebuilt here from the request (OpenID4VP 1.0 Appendix B.2.6.1) with the
// library's own CBOR encoder. Usage: node verify.mjs REQUEST.json RESPONSE.json IACA.pem
// Prints the disclosed elements as JSON; exits non-zero when verification fails. With
// `--expect-failure` the roles swap: it exits zero only if verification fails.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Verifier, DataItem } from '@auth0/mdl';
import { cborEncode } from '@auth0/mdl/lib/cbor/index.js';

const args = process.argv.slice(2);
const expectFailure = args[0] === '--expect-failure';
const [requestPath, responsePath, iacaPath] = expectFailure ? args.slice(1) : args;
const request = JSON.parse(readFileSync(requestPath, 'utf8'));
const response = JSON.parse(readFileSync(responsePath, 'utf8'));
const iaca = readFileSync(iacaPath, 'utf8');

const info = cborEncode([request.client_id, request.nonce, null, request.response_uri]);
const handover = ['OpenID4VPHandover', createHash('sha256').update(info).digest()];
const sessionTranscriptBytes = cborEncode(DataItem.fromData([null, null, handover]));
const deviceResponse = Buffer.from(response.vp_token.mnc[0], 'base64url');

try {
  const verified = await new Verifier([iaca]).verify(deviceResponse, { encodedSessionTranscript: sessionTranscriptBytes });
  const out = {};
  for (const doc of verified.documents) {
    for (const [ns, items] of Object.entries(doc.issuerSigned.nameSpaces)) {
      for (const item of items) out[`${ns}/${item.elementIdentifier}`] = item.elementValue instanceof Uint8Array ? `(${item.elementValue.length} bytes)` : item.elementValue;
    }
  }
  console.log(JSON.stringify({ docType: verified.documents[0].docType, elements: out }));
  process.exit(expectFailure ? 1 : 0);
} catch (e) {
  console.error(`not verified: ${e.message}`);
  process.exit(expectFailure ? 0 : 1);
}
